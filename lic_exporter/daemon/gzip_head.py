"""A page compressed once as the open start of a gzip member, which each scrape finishes with
the few bytes read at that moment (the process_* families).

The deflate output runs up to a sync flush, and the compressor's state there is kept: finishing
copies that state, compresses the tail with it and ends the member, so it costs microseconds,
not a compression of the page (0.7 s for 10,000 devices), and gives one valid gzip member (CRC
and length cover page and tail) that every client reads, including those that stop after a
first member.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence

GZIP_LEVEL = 6
_GZIP_WINDOW = 16 + zlib.MAX_WBITS  # a gzip header and trailer around a deflate stream
_BATCH_BYTES = 1 << 18  # small pieces are joined to about this much before compressing


class GzipHead:
    """`text` as the start of a gzip member left open: `prefix` is every byte of it so far, and
    finish(tail) the rest of the member for `text + tail`. Thread-safe: each finish works on a
    copy of the compressor (zlib's objects lock themselves)."""

    def __init__(self, text: bytes | Sequence[bytes], level: int = GZIP_LEVEL):
        """`text` whole, or as the pieces it is made of."""
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WINDOW)
        out = [self._compressor.compress(block) for block in batches((text,) if isinstance(text, bytes) else text)]
        # Z_SYNC_FLUSH ends the output on a byte boundary without ending the stream.
        out.append(self._compressor.flush(zlib.Z_SYNC_FLUSH))
        self.prefix = b"".join(out)

    def finish(self, tail: bytes) -> bytes:
        compressor = self._compressor.copy()
        return compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)


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
