"""Where the reading of a new syslog file starts: at its beginning, or, for a copy of a followed
file (logrotate copytruncate: `switch.log` copied to `switch.log.1`, then truncated), where the
reading of that file stopped, since the copy holds lines already counted.

A new file continues where a followed file's reading stopped only if (a) its first bytes hash
exactly to every byte read from that file (once its wait is over: to all but at most the last
TAIL_BYTES, lines written between the copy and the truncation, counted from the original), (b)
that file was truncated within COPY_WINDOW_SECONDS of the new file's appearance, and (c) the new
file was not seen holding those bytes before the original was. A new file that begins like a
followed one waits up to COPY_WINDOW_SECONDS for such a truncation (the copy is made before it);
without one it is another file, read from its start, that much late (the daemon polls every few
seconds).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from typing import NamedTuple, Protocol

from lic_exporter.daemon.reading import COPY_WINDOW_SECONDS, FINGERPRINT_BYTES, Followed, Reading, alike, read_at
from lic_exporter.parsing.syslog_chunks import CHUNK_BYTES

log = logging.getLogger("lic_exporter.daemon.follower")  # what it logs is part of following the files


class StartReading(Protocol):
    def __call__(self, followed: Followed, afresh: bool) -> None: ...


class _Judged(NamedTuple):
    """A new file being decided about at this look."""

    followed: Followed
    seen: float  # monotonic time it was first seen holding bytes
    size: int
    head: bytes  # its first FINGERPRINT_BYTES


def settle(waiting: list[tuple[Followed, int]], files: Collection[Followed], look: int, started: bool, now: float,
           start_reading: StartReading) -> None:
    """Where the reading of new files starts, and read them: their start, or (copies) where
    the reading of a file since truncated stopped. A file left undecided is asked about
    again next look."""
    judged: list[_Judged] = []
    for followed, size in waiting:
        followed.look(now, look)
        if not followed.sizes or followed.sizes[-1][1] != size:
            followed.sizes.append((look, size))
        if size == 0:
            continue  # nothing to read; a copy being made starts empty
        if followed.seen is None:
            followed.seen = now
        if not started:
            followed.decided = True  # on start, every file is read from its beginning
            start_reading(followed, afresh=True)
            continue
        judged.append(_Judged(followed, followed.seen, size, read_at(followed.handle, 0, FINGERPRINT_BYTES)))
    # Copies that hold all that was read of a truncated file first, then (once their wait
    # is over) the longest of those that hold a little less: a look-alike holding less
    # cannot take that reading from the copy.
    for judging in judged:
        if _continue_copy(judging, files, shorter=False):
            start_reading(judging.followed, afresh=False)
    for judging in sorted(judged, key=lambda judging: -judging.size):
        if not judging.followed.decided and now - judging.seen >= COPY_WINDOW_SECONDS \
                and _continue_copy(judging, files, shorter=True):
            start_reading(judging.followed, afresh=False)
    for judging in judged:  # one read here is a file the next may be a copy of
        if not judging.followed.decided and _decide(judging, now, files):
            start_reading(judging.followed, afresh=True)


def _continue_copy(judging: _Judged, files: Collection[Followed], shorter: bool) -> bool:
    """Whether the new file is a copy of a file truncated near its appearance; it then goes on
    from where the reading of that file stopped."""
    followed, seen, size, head = judging
    for other in files:
        if other is followed or not other.decided:
            continue
        for truncation in other.truncations:
            reading = truncation.reading
            if not truncation.near(seen) or not alike(head, reading.head) \
                    or any(reading is tried for tried in followed.tried):
                continue
            upto = min(size, reading.offset)
            held = next((number for number, held in followed.sizes if held >= upto), None)
            if held is not None and held <= reading.shorter_at(upto):  # it held them before the original did
                followed.tried.append(reading)
                continue
            copied = _copy_of(followed, size, reading, shorter)
            if copied is not None:
                other.truncations.remove(truncation)
                followed.reading, followed.decided, followed.tried = copied, True, []
                log.debug("%s: a copy of %s, which was truncated: following from byte %d",
                         followed.path, other.path, copied.offset)
                return True
            if size >= reading.offset:  # all the bytes are there, and they differ
                followed.tried.append(reading)
    return False


def _decide(judging: _Judged, now: float, files: Collection[Followed]) -> bool:
    """A new file that is no copy (yet) is read from its start, unless it begins like a file
    read already, which may be truncated next (the copy comes first): then it waits for that
    up to COPY_WINDOW_SECONDS (False)."""
    followed, seen, _, head = judging
    late = now - seen >= COPY_WINDOW_SECONDS
    resembles = any(other is not followed and other.decided
                    and ((other.reading.offset > 0 and alike(head, other.reading.head))
                         or any(t.near(seen) and alike(head, t.reading.head)
                                and not any(t.reading is tried for tried in followed.tried)
                                for t in other.truncations))
                    for other in files)
    if resembles and not late:
        return False
    if resembles:  # it began like a file read already, which was not truncated: a file of its own
        log.debug("%s: not a copy of a truncated file: following from its start (%.0f s late)",
                 followed.path, now - seen)
    followed.decided, followed.tried = True, []
    return True


def _copy_of(followed: Followed, size: int, reading: Reading, shorter: bool) -> Reading | None:
    """`reading` continued in `followed` if its first bytes are exactly those read. With
    `shorter`, a copy that lacks the last bytes read also matches (lines written between the
    copy and the truncation, read from the original: counted there)."""
    upto = min(size, reading.offset)
    if upto < reading.offset and not shorter:
        return None
    expected = reading.digest_at(upto)
    if expected is None:
        return None
    hashed, lines, left = hashlib.sha256(), 0, upto
    followed.handle.seek(0)
    while left:
        block = followed.handle.read(min(CHUNK_BYTES, left))
        if not block:
            return None
        hashed.update(block)
        lines += block.count(b"\n")
        left -= len(block)
    if hashed.digest() != expected:
        return None
    return reading if upto == reading.offset else reading.cut(upto, lines)


def forget_truncations(files: Collection[Followed], now: float) -> None:
    """A truncation is of use to a new file first seen within COPY_WINDOW_SECONDS of it, until
    that file is decided about."""
    waiting = [f.seen for f in files if not f.decided and f.seen is not None]
    for followed in files:
        if followed.truncations:
            followed.truncations = [t for t in followed.truncations
                                    if t.near(now) or any(t.near(seen) for seen in waiting)]
