"""Follow syslog files as they grow, rotate, shrink, vanish and appear, counting each line once.

A followed file is known by its identity (device and inode), not its name, so a rotation by
rename (`switch.log` -> `switch.log.1`) continues where it was even when the new name still
matches a pattern, and the fresh `switch.log` is read from its start. A copy-truncate rotation
is seen as a file that shrank or whose first bytes changed: it is read again from the start.
Lines already counted stay counted (the totals never decrease while the process runs); a
partial last line waits for its newline. On start every file is read from its beginning, so
the totals equal what the current files hold: a restart looks like continued growth.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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

from .capture import device_name, file_stem
from .syslog import CHUNK_BYTES, LineParser, Tally, read_block

log = logging.getLogger(__name__)
# Events that mean a change; reading a file (ours included) raises "opened" and
# "closed_no_write", which must not start another read. The filter also keeps the kernel
# from queueing those events at all: a scan of 20,000 files would overflow inotify's queue.
CHANGES = frozenset({"created", "modified", "moved", "deleted", "closed"})
CHANGE_EVENTS = [FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileClosedEvent,
                 DirCreatedEvent, DirMovedEvent, DirDeletedEvent]
FINGERPRINT_BYTES = 256  # the first bytes of a file, to notice it was truncated, rewritten or copied
ROTATED_GRACE_SECONDS = 60  # how long a file renamed away or deleted is still read


@dataclass
class _Followed:
    path: str
    handle: object  # the open binary file: kept open so a renamed or deleted file can be drained
    offset: int = 0
    lines: int = 0  # complete lines read so far (for line numbers)
    partial: bytes = b""
    fingerprint: bytes = b""
    gone_since: float | None = None  # monotonic time it stopped matching (renamed away, deleted)


@dataclass
class SyslogFollower:
    """The files matching `patterns`, followed; `totals` adds up everything read."""

    patterns: list[str]
    parser: LineParser
    on_change: Callable[[], None] | None = None  # called after new lines were counted
    totals: Tally = field(default_factory=Tally)
    _files: dict[tuple[int, int], _Followed] = field(default_factory=dict)
    _read_to: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # fingerprint -> (offset, lines)
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
            seen: set[tuple[int, int]] = set()
            for path in sorted(self.matching()):
                key = self._follow(path)
                if key is not None:
                    seen.add(key)
            for key in set(self._files) - seen:
                self._retire(key)
            changed = (self.totals.lines, sum(self.totals.messages.values())) != before
        if changed and self.on_change is not None:
            self.on_change()

    def _retire(self, key: tuple[int, int]) -> None:
        """A file renamed away or deleted may still be written by a writer holding it open
        (until the writer reopens): it is drained for ROTATED_GRACE_SECONDS, then let go."""
        followed = self._files[key]
        now = time.monotonic()
        if followed.gone_since is None:
            followed.gone_since = now
            log.info("%s: no longer matched; read on for %d s", followed.path, ROTATED_GRACE_SECONDS)
        final = now - followed.gone_since >= ROTATED_GRACE_SECONDS
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

    def _follow(self, path: str) -> tuple[int, int] | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None  # vanished between glob and stat
        key = (stat.st_dev, stat.st_ino)
        followed = self._files.get(key)
        if followed is None:
            try:
                followed = _Followed(path, open(path, "rb"))  # noqa: SIM115 (kept open on purpose)
            except OSError as exc:
                log.warning("%s: cannot read: %s", path, exc.strerror)
                return None
            self._files[key] = followed
            self._skip_copied(followed, stat.st_size)
        elif followed.path != path:
            log.info("%s: renamed to %s, following on", followed.path, path)
            followed.path = path
        followed.gone_since = None
        if self._truncated(followed, stat.st_size):
            log.info("%s: truncated or rewritten, reading again from its start", path)
            followed.offset, followed.lines, followed.partial, followed.fingerprint = 0, 0, b"", b""
        self._drain(followed, final=False)
        return key

    def _skip_copied(self, followed: _Followed, size: int) -> None:
        """A new file whose first bytes are those of a file already read (a copy-truncate
        rotation whose copy matches a pattern too) continues where that reading stopped."""
        head = followed.handle.read(FINGERPRINT_BYTES)
        known = self._read_to.get(head) if len(head) == FINGERPRINT_BYTES else None
        if known is None or known[0] > size:
            log.info("%s: following from its start", followed.path)
            return
        followed.offset, followed.lines = known
        followed.fingerprint = head
        log.info("%s: a copy of a file already read: following from byte %d", followed.path, known[0])

    @staticmethod
    def _truncated(followed: _Followed, size: int) -> bool:
        if size < followed.offset:
            return True
        if not followed.fingerprint:
            return False
        followed.handle.seek(0)
        return followed.handle.read(len(followed.fingerprint)) != followed.fingerprint

    def _drain(self, followed: _Followed, final: bool) -> None:
        """Read to the end; count complete lines (and, when the file is let go, its last
        partial line too)."""
        followed.handle.seek(followed.offset)
        while True:
            block = followed.handle.read(CHUNK_BYTES)
            if not block:
                break
            if len(followed.fingerprint) < FINGERPRINT_BYTES and followed.offset < FINGERPRINT_BYTES:
                followed.fingerprint = (followed.fingerprint + block)[:FINGERPRINT_BYTES]
            followed.offset += len(block)
            data = followed.partial + block
            cut = data.rfind(b"\n") + 1
            followed.partial = data[cut:]
            self._count(followed, data[:cut])
        if len(followed.fingerprint) == FINGERPRINT_BYTES:
            self._read_to[followed.fingerprint] = (followed.offset - len(followed.partial), followed.lines)
        if final:
            if followed.partial:
                self._count(followed, followed.partial)
            followed.handle.close()

    def _count(self, followed: _Followed, data: bytes) -> None:
        if not data:
            return
        fallback = device_name(file_stem(Path(followed.path).name))
        lines, _ = read_block(data, followed.lines + 1, self.parser, fallback, datetime.now(UTC), self.totals)
        followed.lines += lines


class _Handler(FileSystemEventHandler):
    def __init__(self, follower: SyslogFollower):
        self.follower = follower

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory and event.event_type in CHANGES:
            self.follower.poll()


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
