"""A followed syslog file: the open file (known by its identity, device and inode, never by its
name), how far it was read, and the hash of what was read that recognises a copy of it.

Files are read unbuffered: a buffer would hand back bytes a truncation removed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

FINGERPRINT_BYTES = 256  # bytes compared at the start of a file and just before its offset: was it rewritten?
TAIL_BYTES = 4096  # the last bytes read of a file, kept as they are: a copy made just before the last read matches
COPY_WINDOW_SECONDS = 5.0  # a copy and the truncation of its original are seen at most this far apart


class Reading:
    """How far a file was read (offset, complete lines, the unfinished last line) and a hash of
    every byte read, to recognise a copy of it. The hash covers all but the last bytes, which are
    kept as they are (`tail`, at least TAIL_BYTES of them once there are that many), so that the
    hash can be had at any offset down to that far before the end."""

    __slots__ = ("grown", "hashed", "head", "lines", "offset", "partial", "tail")

    def __init__(self) -> None:
        self.grown: list[tuple[int, int]] = []  # (look number, bytes read by then) of the last looks that read
        self.offset = 0
        self.lines = 0
        self.partial = b""
        self.head = b""  # the first FINGERPRINT_BYTES
        self.hashed = hashlib.sha256()  # bytes [0, offset - len(tail))
        self.tail = b""

    def add(self, block: bytes) -> None:
        self.offset += len(block)
        if len(self.head) < FINGERPRINT_BYTES:
            self.head = (self.head + block)[:FINGERPRINT_BYTES]
        if len(self.tail) + len(block) < 2 * TAIL_BYTES:
            self.tail += block
        elif len(block) >= TAIL_BYTES:
            view = memoryview(block)
            self.hashed.update(self.tail)
            self.hashed.update(view[:-TAIL_BYTES])
            self.tail = bytes(view[-TAIL_BYTES:])
        else:
            kept = self.tail + block
            self.hashed.update(kept[:-TAIL_BYTES])
            self.tail = kept[-TAIL_BYTES:]

    def looked(self, number: int) -> None:
        """Look `number` read up to here. The looks kept reach back to one that had read less
        than the last 2 * TAIL_BYTES, where a copy may end."""
        if not self.grown or self.grown[-1][1] != self.offset:
            self.grown.append((number, self.offset))
        while len(self.grown) > 2 and self.grown[1][1] < self.offset - 2 * TAIL_BYTES:
            del self.grown[0]

    def shorter_at(self, offset: int) -> int:
        """The number of the last look at which the file held fewer than `offset` bytes (0: none
        known): a copy of its first `offset` bytes is younger."""
        return max((number for number, held in self.grown if held < offset), default=0)

    def digest_at(self, offset: int) -> bytes | None:
        """The hash of the first `offset` bytes read; None when no longer known (or nothing)."""
        kept = offset - (self.offset - len(self.tail))
        if offset <= 0 or offset > self.offset or kept < 0:
            return None
        hashed = self.hashed.copy()
        hashed.update(self.tail[:kept])
        return hashed.digest()

    def cut(self, offset: int, lines: int) -> Reading:
        """This reading as it was at `offset` (which digest_at knows), holding `lines` complete
        lines. An unfinished line there is dropped: what follows it was read (and counted) here."""
        cut = Reading()
        cut.offset, cut.lines, cut.head = offset, lines, self.head[:offset]
        cut.grown = [(number, held) for number, held in self.grown if held <= offset]
        cut.hashed = self.hashed.copy()
        cut.tail = self.tail[:offset - (self.offset - len(self.tail))]
        return cut


class Truncation(NamedTuple):
    """A followed file found truncated: between its look `after` and its look `by`."""

    after: float  # monotonic times
    by: float
    reading: Reading  # how far it had been read: where a copy of it continues

    def near(self, seen: float) -> bool:
        """Whether it may have happened within COPY_WINDOW_SECONDS of a new file first seen at `seen`."""
        return self.after - COPY_WINDOW_SECONDS <= seen <= self.by + COPY_WINDOW_SECONDS


@dataclass
class Followed:
    path: str
    handle: BinaryIO  # the open file: kept open so a renamed or deleted file can be drained
    reading: Reading = field(default_factory=Reading)
    decided: bool = False  # whether it is known where its reading starts (a new file may be a copy)
    seen: float | None = None  # monotonic time it was first seen holding bytes
    tried: list[Reading] = field(default_factory=list)  # truncated readings it was compared with in vain
    truncations: list[Truncation] = field(default_factory=list)  # recent ones: of use to a copy
    sizes: list[tuple[int, int]] = field(default_factory=list)  # while undecided: (look number, size) as it grew
    gone_since: float | None = None  # monotonic time it stopped matching (renamed away, deleted)
    looked: float = 0.0  # monotonic time of its last look
    previous: float = 0.0  # and of the one before
    look_number: int = 0  # the number of its last look

    def look(self, now: float, number: int) -> None:
        self.previous, self.looked, self.look_number = self.looked, now, number

    def truncated(self, size: int) -> bool:
        """Whether the file no longer holds what was read of it: shorter than the offset read,
        or its first bytes or those just before the offset changed (truncated and refilled past
        the offset between two looks). A refill that begins and ends there with the very bytes
        read goes unnoticed: with identical lines it is then (all but always) the same lines up
        to the offset, and reading on from there counts the same."""
        reading = self.reading
        if size < reading.offset:
            return True
        if not reading.offset:
            return False
        if read_at(self.handle, 0, len(reading.head)) != reading.head:
            return True
        last = reading.tail[-FINGERPRINT_BYTES:]
        return read_at(self.handle, reading.offset - len(last), len(last)) != last


def read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def alike(one: bytes, other: bytes) -> bool:
    """Whether two files begin alike: the shorter beginning is that of the longer one."""
    return bool(one and other) and (one.startswith(other) or other.startswith(one))
