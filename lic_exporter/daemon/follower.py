"""Follow syslog files as they grow, rotate, shrink, vanish and appear, counting each line once.

A followed file is known by its identity (device and inode), never by its name nor by what it
says: identical lines are normal (a switch that retries every 15 minutes, times to the second,
bursts of the same message), and identical lines in different files are different lines.

- Rotation by rename (`switch.log` -> `switch.log.1`): the inode is read on where it was, even
  when its new name still matches a pattern; the fresh `switch.log` is a new file.
- Truncation (copy-truncate): the file's size fell below the offset already read, or bytes
  already read changed (its first ones, or those just before the offset: a file truncated and
  refilled past the old offset between two looks). It is read again from its start.
- A copy that matches a pattern too (logrotate copytruncate: `switch.log` copied to
  `switch.log.1`, then truncated) holds lines already counted. A new file continues where a
  followed file's reading stopped only if (a) its first bytes hash exactly to every byte read
  from that file (once its wait is over: to all but at most the last TAIL_BYTES, lines written
  between the copy and the truncation, counted from the original), (b) that file was truncated
  within COPY_WINDOW_SECONDS of the new file's appearance, and (c) the new file was not seen
  holding those bytes before the original was. A new file that begins like a followed one
  waits up to COPY_WINDOW_SECONDS for such a truncation (the copy is made before it); without
  one it is another file, read from its start, that much late (the daemon polls every few
  seconds). Files are read unbuffered: a buffer would hand back bytes a truncation removed.

Every other new file is read from its start. Lines already counted stay counted (the totals
never decrease while the process runs); a partial last line waits for its newline. On start
every file is read from its beginning, so the totals equal what the current files hold: a
restart looks like continued growth.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, NamedTuple

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from lic_exporter.parsing.syslog import CHUNK_BYTES, LineParser, Tally, read_block
from lic_exporter.sources.capture import file_stem
from lic_exporter.sources.names import device_name

log = logging.getLogger(__name__)
# Events that mean a change; reading a file (ours included) raises "opened" and
# "closed_no_write", which must not start another read. The filter also keeps the kernel
# from queueing those events at all: a scan of 20,000 files would overflow inotify's queue.
CHANGES = frozenset({"created", "modified", "moved", "deleted", "closed"})
CHANGE_EVENTS = [FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileClosedEvent,
                 DirCreatedEvent, DirMovedEvent, DirDeletedEvent]
FINGERPRINT_BYTES = 256  # bytes compared at the start of a file and just before its offset: was it rewritten?
TAIL_BYTES = 4096  # the last bytes read of a file, kept as they are: a copy made just before the last read matches
COPY_WINDOW_SECONDS = 5.0  # a copy and the truncation of its original are seen at most this far apart
ROTATED_GRACE_SECONDS = 60  # how long a file renamed away or deleted is still read


class _Reading:
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

    def cut(self, offset: int, lines: int) -> _Reading:
        """This reading as it was at `offset` (which digest_at knows), holding `lines` complete
        lines. An unfinished line there is dropped: what follows it was read (and counted) here."""
        cut = _Reading()
        cut.offset, cut.lines, cut.head = offset, lines, self.head[:offset]
        cut.grown = [(number, held) for number, held in self.grown if held <= offset]
        cut.hashed = self.hashed.copy()
        cut.tail = self.tail[:offset - (self.offset - len(self.tail))]
        return cut


class _Truncation(NamedTuple):
    """A followed file found truncated: between its look `after` and its look `by`."""

    after: float  # monotonic times
    by: float
    reading: _Reading  # how far it had been read: where a copy of it continues

    def near(self, seen: float) -> bool:
        """Whether it may have happened within COPY_WINDOW_SECONDS of a new file first seen at `seen`."""
        return self.after - COPY_WINDOW_SECONDS <= seen <= self.by + COPY_WINDOW_SECONDS


@dataclass
class _Followed:
    path: str
    handle: BinaryIO  # the open file: kept open so a renamed or deleted file can be drained
    reading: _Reading = field(default_factory=_Reading)
    decided: bool = False  # whether it is known where its reading starts (a new file may be a copy)
    seen: float | None = None  # monotonic time it was first seen holding bytes
    tried: list[_Reading] = field(default_factory=list)  # truncated readings it was compared with in vain
    truncations: list[_Truncation] = field(default_factory=list)  # recent ones: of use to a copy
    sizes: list[tuple[int, int]] = field(default_factory=list)  # while undecided: (look number, size) as it grew
    gone_since: float | None = None  # monotonic time it stopped matching (renamed away, deleted)
    looked: float = 0.0  # monotonic time of its last look
    previous: float = 0.0  # and of the one before
    look_number: int = 0  # the number of its last look

    def look(self, now: float, number: int) -> None:
        self.previous, self.looked, self.look_number = self.looked, now, number


@dataclass
class SyslogFollower:
    """The files matching `patterns`, followed; `totals` adds up everything read."""

    patterns: list[str]
    parser: LineParser
    on_change: Callable[[], None] | None = None  # called after new lines were counted
    totals: Tally = field(default_factory=Tally)
    _files: dict[tuple[int, int], _Followed] = field(default_factory=dict)
    _started: bool = False  # a first look was taken: every file then present is read from its start
    _looks: int = 0  # looks taken
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def matching(self) -> set[str]:
        found: set[str] = set()
        for pattern in self.patterns:
            found.update(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        return found

    def poll(self) -> None:
        """Look at every matching file once: read what was added, notice rotations."""
        with self._lock:
            before = self.totals.lines, sum(self.totals.messages.values())
            now = time.monotonic()
            self._looks += 1
            found = self._find()
            # Files followed already come first: a new file is judged against everything they
            # hold now, and against a truncation seen in this same look.
            for key, (path, size) in found.items():
                followed = self._files[key]
                if followed.decided:
                    try:  # a file that cannot be read (EIO, stale NFS) costs itself only
                        self._follow(followed, path, size, now)
                    except OSError as exc:
                        log.warning("%s: cannot read: %s; trying again at the next look", path, exc)
            waiting = []
            for key, followed in self._files.items():
                if not followed.decided:
                    if key in found:
                        (followed.path, size), followed.gone_since = found[key], None
                    else:  # gone already: judged all the same, through the open file
                        size = os.fstat(followed.handle.fileno()).st_size
                    waiting.append((followed, size))
            self._settle(waiting, now)
            for key in set(self._files) - set(found):
                self._retire(key, now)
            self._forget_truncations(now)
            self._started = True
            changed = (self.totals.lines, sum(self.totals.messages.values())) != before
        if changed and self.on_change is not None:
            self.on_change()

    def _find(self) -> dict[tuple[int, int], tuple[str, int]]:
        """(device, inode) -> (path, size) of the matching files; new ones are opened (the
        identity is that of the file opened, whatever the name holds by then)."""
        found: dict[tuple[int, int], tuple[str, int]] = {}
        for path in sorted(self.matching()):
            try:
                stat = os.stat(path)
            except OSError:
                continue  # vanished between glob and stat
            key = (stat.st_dev, stat.st_ino)
            if key not in self._files:
                try:
                    # Unbuffered: a buffer would hand back bytes a truncation has since removed.
                    handle = open(path, "rb", buffering=0)  # noqa: SIM115 (kept open on purpose)
                    stat = os.fstat(handle.fileno())
                except OSError as exc:
                    log.warning("%s: cannot read: %s", path, exc.strerror)
                    continue
                key = (stat.st_dev, stat.st_ino)
                if key in self._files:
                    handle.close()
                else:
                    self._files[key] = _Followed(path, handle)
            found.setdefault(key, (path, stat.st_size))
        return found

    def _follow(self, followed: _Followed, path: str, size: int, now: float) -> None:
        if followed.path != path:
            log.info("%s: renamed to %s, following on", followed.path, path)
            followed.path = path
        followed.gone_since = None
        followed.look(now, self._looks)
        if self._truncated(followed, size):
            log.info("%s: truncated or rewritten, reading again from its start", path)
            followed.truncations.append(_Truncation(followed.previous, now, followed.reading))
            followed.reading = _Reading()
        self._drain(followed, final=False)

    def _forget_truncations(self, now: float) -> None:
        """A truncation is of use to a new file first seen within COPY_WINDOW_SECONDS of it, until
        that file is decided about."""
        waiting = [f.seen for f in self._files.values() if not f.decided and f.seen is not None]
        for followed in self._files.values():
            if followed.truncations:
                followed.truncations = [t for t in followed.truncations
                                        if t.near(now) or any(t.near(seen) for seen in waiting)]

    def _settle(self, waiting: list[tuple[_Followed, int]], now: float) -> None:
        """Where the reading of new files starts, and read them: their start, or (copies) where
        the reading of a file since truncated stopped. A file left undecided is asked about
        again next look."""
        judged = []
        for followed, size in waiting:
            followed.look(now, self._looks)
            if not followed.sizes or followed.sizes[-1][1] != size:
                followed.sizes.append((self._looks, size))
            if size == 0:
                continue  # nothing to read; a copy being made starts empty
            if followed.seen is None:
                followed.seen = now
            if not self._started:
                followed.decided = True  # on start, every file is read from its beginning
                self._start_reading(followed, afresh=True)
                continue
            judged.append((followed, size, _read_at(followed.handle, 0, FINGERPRINT_BYTES)))
        # Copies that hold all that was read of a truncated file first, then (once their wait
        # is over) the longest of those that hold a little less: a look-alike holding less
        # cannot take that reading from the copy.
        for followed, size, head in judged:
            if self._continue_copy(followed, size, head, shorter=False):
                self._start_reading(followed, afresh=False)
        for followed, size, head in sorted(judged, key=lambda judging: -judging[1]):
            if not followed.decided and now - followed.seen >= COPY_WINDOW_SECONDS \
                    and self._continue_copy(followed, size, head, shorter=True):
                self._start_reading(followed, afresh=False)
        for followed, _, head in judged:  # one read here is a file the next may be a copy of
            if not followed.decided and self._decide(followed, head, now):
                self._start_reading(followed, afresh=True)

    def _start_reading(self, followed: _Followed, afresh: bool) -> None:
        """Read a file just decided about. Read afresh, what it held at its looks so far is
        noted as read then, and before its first look it held nothing: no copy of it is older."""
        if afresh:
            followed.reading.grown = [(followed.sizes[0][0] - 1, 0), *followed.sizes]
        followed.sizes = []
        self._drain(followed, final=False)

    def _continue_copy(self, followed: _Followed, size: int, head: bytes, shorter: bool) -> bool:
        """Whether `followed` is a copy of a file truncated near its appearance; it then goes on
        from where the reading of that file stopped."""
        for other in self._files.values():
            if other is followed or not other.decided:
                continue
            for truncation in other.truncations:
                reading = truncation.reading
                if not truncation.near(followed.seen) or not _alike(head, reading.head) \
                        or any(reading is tried for tried in followed.tried):
                    continue
                upto = min(size, reading.offset)
                held = next((number for number, held in followed.sizes if held >= upto), None)
                if held is not None and held <= reading.shorter_at(upto):  # it held them before the original did
                    followed.tried.append(reading)
                    continue
                copied = self._copy_of(followed, size, reading, shorter)
                if copied is not None:
                    other.truncations.remove(truncation)
                    followed.reading, followed.decided, followed.tried = copied, True, []
                    log.info("%s: a copy of %s, which was truncated: following from byte %d",
                             followed.path, other.path, copied.offset)
                    return True
                if size >= reading.offset:  # all the bytes are there, and they differ
                    followed.tried.append(reading)
        return False

    def _decide(self, followed: _Followed, head: bytes, now: float) -> bool:
        """A new file that is no copy (yet) is read from its start, unless it begins like a file
        read already, which may be truncated next (the copy comes first): then it waits for that
        up to COPY_WINDOW_SECONDS (False)."""
        late = now - followed.seen >= COPY_WINDOW_SECONDS
        alike = any(other is not followed and other.decided
                    and ((other.reading.offset > 0 and _alike(head, other.reading.head))
                         or any(t.near(followed.seen) and _alike(head, t.reading.head)
                                and not any(t.reading is tried for tried in followed.tried)
                                for t in other.truncations))
                    for other in self._files.values())
        if alike and not late:
            return False
        if alike:  # it began like a file read already, which was not truncated: a file of its own
            log.info("%s: not a copy of a truncated file: following from its start (%.0f s late)",
                     followed.path, now - followed.seen)
        followed.decided, followed.tried = True, []
        return True

    @staticmethod
    def _copy_of(followed: _Followed, size: int, reading: _Reading, shorter: bool) -> _Reading | None:
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

    def _retire(self, key: tuple[int, int], now: float) -> None:
        """A file renamed away or deleted may still be written by a writer holding it open
        (until the writer reopens): it is drained for ROTATED_GRACE_SECONDS, then let go."""
        followed = self._files[key]
        if followed.gone_since is None:
            followed.gone_since = now
            log.info("%s: no longer matched; read on for %d s", followed.path, ROTATED_GRACE_SECONDS)
        final = now - followed.gone_since >= ROTATED_GRACE_SECONDS
        if not followed.decided:  # still waiting to be told for a copy or not (see _settle)
            if not final:
                return
            followed.decided = True
        followed.look(now, self._looks)
        self._drain(followed, final=final)
        if final:
            del self._files[key]

    def snapshot(self) -> Tally:
        """A copy of the totals, safe to render while following goes on."""
        with self._lock:
            copy = Tally()
            copy.merge(self.totals)
            return copy

    def close(self) -> None:
        with self._lock:
            for followed in self._files.values():
                followed.handle.close()
            self._files.clear()

    @staticmethod
    def _truncated(followed: _Followed, size: int) -> bool:
        """Whether the file no longer holds what was read of it: shorter than the offset read,
        or its first bytes or those just before the offset changed (truncated and refilled past
        the offset between two looks). A refill that begins and ends there with the very bytes
        read goes unnoticed: with identical lines it is then (all but always) the same lines up
        to the offset, and reading on from there counts the same."""
        reading = followed.reading
        if size < reading.offset:
            return True
        if not reading.offset:
            return False
        if _read_at(followed.handle, 0, len(reading.head)) != reading.head:
            return True
        last = reading.tail[-FINGERPRINT_BYTES:]
        return _read_at(followed.handle, reading.offset - len(last), len(last)) != last

    def _drain(self, followed: _Followed, final: bool) -> None:
        """Read to the end; count complete lines (and, when the file is let go, its last
        partial line too)."""
        reading = followed.reading
        followed.handle.seek(reading.offset)
        while True:
            block = followed.handle.read(CHUNK_BYTES)
            if not block:
                break
            reading.add(block)
            data = reading.partial + block
            cut = data.rfind(b"\n") + 1
            reading.partial = data[cut:]
            self._count(followed, data[:cut])
        reading.looked(followed.look_number)
        if final:
            if reading.partial:
                self._count(followed, reading.partial)
            followed.handle.close()

    def _count(self, followed: _Followed, data: bytes) -> None:
        if not data:
            return
        fallback = device_name(file_stem(Path(followed.path).name))
        lines, _ = read_block(data, followed.reading.lines + 1, self.parser, fallback, datetime.now(UTC), self.totals)
        followed.reading.lines += lines


def _read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def _alike(one: bytes, other: bytes) -> bool:
    """Whether two files begin alike: the shorter beginning is that of the longer one."""
    return bool(one and other) and (one.startswith(other) or other.startswith(one))


class _Handler(FileSystemEventHandler):
    def __init__(self, follower: SyslogFollower):
        self.follower = follower

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory and event.event_type in CHANGES:
            try:  # an exception here would end watchdog's thread, and every watch with it
                self.follower.poll()
            except Exception:
                log.exception("following the syslog files failed; the periodic look tries again")


def watch(follower: SyslogFollower, observer: Observer | None = None) -> Observer:
    """Have a watchdog observer poll `follower` whenever something changes in the folders its
    patterns name (the part before any wildcard, recursively where a wildcard names folders)."""
    observer = observer or Observer()
    handler = _Handler(follower)
    for folder, recursive in _watch_points(follower.patterns):
        observer.schedule(handler, folder, recursive=recursive, event_filter=CHANGE_EVENTS)
    return observer


def _watch_points(patterns: Iterable[str]) -> set[tuple[str, bool]]:
    """(folder, recursive) to watch for each pattern: its fixed folder part."""
    points = set()
    for pattern in patterns:
        folders = Path(pattern).parts[:-1]
        wild = next((i for i, part in enumerate(folders) if glob.has_magic(part)), len(folders))
        folder, recursive = Path(*folders[:wild]), wild < len(folders)
        if not folder.is_dir():  # not there yet: the daemon's periodic poll picks it up
            log.warning("--syslog %s: folder %s does not exist (yet); polled every few seconds", pattern, folder)
            continue
        points.add((str(folder), recursive))
    return points
