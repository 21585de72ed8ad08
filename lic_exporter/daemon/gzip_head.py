"""A page compressed once as the open start of a gzip member, which each scrape finishes with
the few bytes read at that moment (the process_* families); built column by column, so that a
fleet's page is never held as text.

The page is families one after the other, each a column of every device's samples, while the
daemon keeps each device's samples together (packed): `Columns` takes the pieces in any order of
columns, compresses each column with its own deflate stream as they come, and joins the streams
in column order. Each stream ends on a sync flush (byte-aligned, not final), so the joined bytes
are one deflate stream; the gzip trailer's CRC of the whole text is combined from the columns'.
The last column's compressor is kept open: finishing copies it, compresses the tail with it and
ends the member, so a scrape costs microseconds, not a compression of the page (0.7 s for 10,000
devices), and gets one valid gzip member that every client reads, including those that stop after
a first member. A client without gzip gets the text inflated from it as it is sent.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence

GZIP_LEVEL = 6
_RAW_WINDOW = -zlib.MAX_WBITS  # a bare deflate stream: the gzip header and trailer are written here
_GZIP_WINDOW = 16 + zlib.MAX_WBITS
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip, deflate, no name, no time, unknown OS
_BATCH_BYTES = 1 << 18  # small pieces are joined to about this much before compressing
_ZEROS = bytes(1 << 16)


class GzipHead:
    """Text as the start of a gzip member left open: `prefix` is every byte of it so far, and
    finish(tail) the rest of the member for `text + tail`; `length` is the text's. Thread-safe:
    each finish works on a copy of the compressor (zlib's objects lock themselves)."""

    def __init__(self, prefix: bytes, compressor: zlib._Compress, crc: int, length: int):
        self.prefix = prefix
        self._compressor = compressor
        self._crc = crc
        self.length = length

    @classmethod
    def of(cls, text: bytes | Sequence[bytes], level: int = GZIP_LEVEL) -> GzipHead:
        """`text` whole, or as the pieces it is made of."""
        columns = Columns(1, level)
        for piece in (text,) if isinstance(text, bytes) else text:
            columns.add(0, piece)
        return columns.head()

    def finish(self, tail: bytes) -> bytes:
        compressor = self._compressor.copy()
        body = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)
        crc = crc32_combine(self._crc, zlib.crc32(tail), len(tail))
        return body + struct.pack("<II", crc, (self.length + len(tail)) & 0xFFFFFFFF)

    def text_pieces(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The text, inflated from `prefix` in pieces of at most `size` bytes."""
        inflate = zlib.decompressobj(_GZIP_WINDOW)
        data = self.prefix
        while data:
            piece = inflate.decompress(data, size)
            data = inflate.unconsumed_tail
            if piece:
                yield piece


class Columns:
    """Text written to `count` columns in any interleaving, ending as one GzipHead of the columns
    in order (each column's pieces in the order they were added)."""

    def __init__(self, count: int, level: int = GZIP_LEVEL):
        self._streams = [_Stream(level) for _ in range(count)]

    def add(self, column: int, piece: bytes) -> None:
        self._streams[column].add(piece)

    def head(self) -> GzipHead:
        """Every column written: no piece may be added after."""
        out, crc, length = [_HEADER], 0, 0
        for stream in self._streams:
            out.append(stream.flush())
            crc, length = crc32_combine(crc, stream.crc, stream.length), length + stream.length
        return GzipHead(b"".join(out), self._streams[-1].compressor, crc, length)


class _Stream:
    """One column: its deflate stream, and the CRC and length of its text."""

    def __init__(self, level: int):
        self.compressor = zlib.compressobj(level, zlib.DEFLATED, _RAW_WINDOW)
        self.crc = 0
        self.length = 0
        self._out: list[bytes] = []
        self._held: list[bytes] = []
        self._held_bytes = 0

    def add(self, piece: bytes) -> None:
        if piece:
            self._held.append(piece)
            self._held_bytes += len(piece)
            if self._held_bytes >= _BATCH_BYTES:
                self._compress()

    def flush(self) -> bytes:
        self._compress()
        # Z_SYNC_FLUSH ends the output on a byte boundary without ending the stream.
        self._out.append(self.compressor.flush(zlib.Z_SYNC_FLUSH))
        return b"".join(self._out)

    def _compress(self) -> None:
        if self._held:
            block = b"".join(self._held)
            self._held, self._held_bytes = [], 0
            self.crc = zlib.crc32(block, self.crc)
            self.length += len(block)
            self._out.append(self.compressor.compress(block))


def crc32_combine(first: int, second: int, second_length: int) -> int:
    """The CRC-32 of A + B from crc(A), crc(B) and len(B). CRC-32 is affine in its start value and
    its data, so crc(A + B) = crc over len(B) zeros from crc(A), xor crc(B), xor crc over len(B)
    zeros from 0; zlib (C) runs over the zeros, at a few GB/s."""
    if not second_length:
        return first
    shifted, constant = first, 0
    left = second_length
    while left:
        zeros = _ZEROS[:min(left, len(_ZEROS))]
        shifted, constant = zlib.crc32(zeros, shifted), zlib.crc32(zeros, constant)
        left -= len(zeros)
    return shifted ^ second ^ constant


def batches(pieces: Iterable[bytes], size: int = _BATCH_BYTES) -> Iterator[bytes]:
    """The pieces joined into blocks of about `size` bytes, one at a time (one call into zlib,
    or one write to a socket, per piece would cost more than the few hundred bytes of most)."""
    batch: list[bytes] = []
    held = 0
    for piece in pieces:
        batch.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(batch)
            batch, held = [], 0
    if batch:
        yield b"".join(batch)
