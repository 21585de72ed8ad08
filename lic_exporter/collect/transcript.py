"""Saving a transcript as `<device>.log`: secrets the switch printed removed, written atomically
(lic_exporter.sources.atomic_files), so that a reader never sees half a file and a failed write
never touches the previous good transcript."""

from __future__ import annotations

from pathlib import Path

from lic_exporter.sources.atomic_files import plain_file_name, write_atomically
from lic_exporter.sources.privacy import redact_session

TRANSCRIPT_MODE = 0o640  # call-home contacts are in it: not for every local user


def transcript_path(out_dir: Path, device: str) -> Path:
    return out_dir / f"{device}.log"


def write_transcript(out_dir: Path, device: str, text: str) -> Path:
    """Write `text` as `out_dir/<device>.log` atomically; the path written. Raises OSError
    (the previous file, if any, is then unchanged) or ValueError for a device name that is
    not a plain file name."""
    if not plain_file_name(device):
        raise ValueError(f"device name {device!r} cannot name a transcript file")
    text = redact_session(text)  # a transcript never keeps contacts or credentials the switch printed
    return write_atomically(out_dir, transcript_path(out_dir, device).name, text, TRANSCRIPT_MODE)
