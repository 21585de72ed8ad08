"""Writing a source's output file atomically, so that a reader never sees half a file and a failed
write never touches the previous good one.

The text goes to a dot-named temporary file in the same folder (`.<name>.<random>.tmp`, which a
folder watcher skips as hidden), is flushed and fsynced, then renamed over `<name>`; the folder
is fsynced so that the rename survives a crash, and temporaries of `<name>` left by a run killed
mid-write are removed once old.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import time
from pathlib import Path

STALE_TEMP_SECONDS = 3600.0  # temporary files this old are left-overs of a crash


def plain_file_name(name: str) -> bool:
    """Whether `name` can name a file in the output folder (and nothing outside it)."""
    return bool(name) and not name.startswith(".") and not any(c in name for c in ("/", "\\", "\0"))


def write_atomically(folder: Path, name: str, text: str, mode: int) -> Path:
    """Write `text` as `folder/name` atomically with file mode `mode`; the path written. Raises
    OSError (the previous file, if any, is then unchanged)."""
    final = folder / name
    descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", errors="replace", newline="") as file:
            file.write(text)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)
    _remove_stale_temporaries(folder, name)
    return final


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # some platforms cannot open a folder; the rename itself is done
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _remove_stale_temporaries(folder: Path, name: str) -> None:
    pattern = os.path.join(glob.escape(str(folder)), glob.escape(f".{name}.") + "*.tmp")
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in glob.glob(pattern):
        with contextlib.suppress(OSError):
            if os.stat(path).st_mtime < cutoff:
                os.unlink(path)
