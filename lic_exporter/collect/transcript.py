"""Saving a transcript: atomically, so that a reader never sees half a file and a failed write
never touches the previous good transcript.

The text goes to a dot-named temporary file in the same directory (`.<device>.log.<random>.tmp`,
which a directory watcher skips as hidden), is flushed and fsynced, then renamed over
`<device>.log`; the directory is fsynced so that the rename survives a crash.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import time
from pathlib import Path

from lic_exporter.sources.privacy import redact_session

TRANSCRIPT_MODE = 0o640  # call-home contacts are in it: not for every local user
STALE_TEMP_SECONDS = 3600.0  # temporary files this old are left-overs of a crash


def transcript_path(out_dir: Path, device: str) -> Path:
    return out_dir / f"{device}.log"


def write_transcript(out_dir: Path, device: str, text: str) -> Path:
    """Write `text` as `out_dir/<device>.log` atomically; the path written. Raises OSError
    (the previous file, if any, is then unchanged) or ValueError for a device name that is
    not a plain file name."""
    if not device or device.startswith(".") or "/" in device or "\\" in device or "\0" in device:
        raise ValueError(f"device name {device!r} cannot name a transcript file")
    text = redact_session(text)  # a transcript never keeps contacts or credentials the switch printed
    final = transcript_path(out_dir, device)
    fd, temporary = tempfile.mkstemp(prefix=f".{device}.log.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="") as file:
            file.write(text)
            file.flush()
            os.fchmod(file.fileno(), TRANSCRIPT_MODE)
            os.fsync(file.fileno())
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(out_dir)
    _remove_stale_temporaries(out_dir, device)
    return final


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # some platforms cannot open a directory; the rename itself is done
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temporaries(directory: Path, device: str) -> None:
    """Temporary files of this device left by a run that was killed mid-write."""
    pattern = os.path.join(glob.escape(str(directory)), glob.escape(f".{device}.log.") + "*.tmp")
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in glob.glob(pattern):
        with contextlib.suppress(OSError):
            if os.stat(path).st_mtime < cutoff:
                os.unlink(path)
