"""The bytes of a saved file -> UTF-8 with newline line ends, whatever saved it.

Most files are UTF-8 (or ASCII) already and pass untouched. A Windows PowerShell redirect
writes UTF-16 (with or without a byte-order mark), some tools UTF-32, an old Mac or a serial
console capture ends lines with a bare carriage return. Such a file is transcoded once, in
chunks, into a temporary file that keeps the original's modification time, so every reader
after this one sees ordinary text and memory stays bounded.

A bare carriage return inside a line is also how a pager erases its `--More--` prompt, so
bare CRs become line ends only where they are a good part of the line ends (a CR-only file,
or one pieced together from CR and LF files).
"""

from __future__ import annotations

import codecs
import os
import tempfile
from typing import BinaryIO

CHUNK_BYTES = 1 << 20
_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def sniff(head: bytes) -> tuple[str | None, int, bool]:
    """(encoding to transcode from, or None for UTF-8; byte-order mark length; whether bare
    CRs are the line ends)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, len(bom), False
    encoding = _without_bom(head[:4096])
    if encoding is not None:
        return encoding, 0, False
    return None, 0, _bare_cr_lines(head)


def _without_bom(sample: bytes) -> str | None:
    """UTF-16/32 text without a mark: most of its ASCII characters have zero bytes beside them
    in a fixed place."""
    usable = len(sample) - len(sample) % 4
    if usable < 8 or sample.count(0) < usable // 3:
        return None
    quads = [sample[i:i + 4] for i in range(0, usable, 4)]
    zero_at = [sum(1 for q in quads if q[k] == 0) / len(quads) for k in range(4)]
    if zero_at[1] > 0.9 and zero_at[2] > 0.9 and zero_at[3] > 0.9 and zero_at[0] < 0.5:
        return "utf-32-le"
    if zero_at[0] > 0.9 and zero_at[1] > 0.9 and zero_at[2] > 0.9 and zero_at[3] < 0.5:
        return "utf-32-be"
    odd, even = (zero_at[1] + zero_at[3]) / 2, (zero_at[0] + zero_at[2]) / 2
    if odd > 0.6 and even < 0.2:
        return "utf-16-le"
    if even > 0.6 and odd < 0.2:
        return "utf-16-be"
    return None


def _bare_cr_lines(head: bytes) -> bool:
    """Bare CRs are line ends when they are a third of the line ends or more; a pager's
    erasures make two per screen of 24 lines or so."""
    bare = head.count(b"\r") - head.count(b"\r\n")
    return bare > 0 and bare * 3 >= head.count(b"\n")


def as_utf8(handle: BinaryIO, head: bytes) -> BinaryIO | None:
    """A temporary file holding the text of `handle` as UTF-8 with newline line ends, its
    modification time the original's, positioned at its start; None when the file needs no
    change. `head` is the file's first bytes (already read)."""
    encoding, skip, bare_cr = sniff(head)
    if encoding is None and not bare_cr:
        return None
    stat = os.fstat(handle.fileno())
    handle.seek(skip)
    # UTF-8 keeps undecodable bytes as they were (reported later, line by line); UTF-16/32
    # cannot carry them through, so a stray odd byte (a file cut mid-write) becomes U+FFFD.
    errors = "replace" if encoding else "surrogateescape"
    decoder = codecs.getincrementaldecoder(encoding or "utf-8")(errors=errors)
    target = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the caller, who closes it)
    try:
        held = ""  # a CR at a chunk's end may be the first half of CRLF
        while block := handle.read(CHUNK_BYTES):
            text = held + decoder.decode(block)
            held = text[-1:] if text.endswith("\r") else ""
            target.write(_line_ends(text[: len(text) - len(held)], bare_cr).encode("utf-8", "surrogateescape"))
        target.write(_line_ends(held + decoder.decode(b"", final=True), bare_cr).encode("utf-8", "surrogateescape"))
        target.flush()
    except BaseException:
        target.close()
        raise
    os.utime(target.fileno(), ns=(stat.st_atime_ns, stat.st_mtime_ns))
    target.seek(0)
    return target


def _line_ends(text: str, bare_cr: bool) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if bare_cr else text
