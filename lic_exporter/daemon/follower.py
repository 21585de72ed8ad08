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
  `switch.log.1`, then truncated) holds lines already counted: it continues where the reading
  of the truncated file stopped (the rules: copies.py). Files are read unbuffered: a buffer
  would hand back bytes a truncation removed.

Every other new file is read from its start. Lines already counted stay counted (the totals
never decrease while the process runs); a partial last line waits for its newline. On start
every file is read from its beginning, so the totals equal what the current files hold: a
restart looks like continued growth.
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

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from lic_exporter.daemon.copies import forget_truncations, settle
from lic_exporter.daemon.events import CHANGE_EVENTS, CHANGES
from lic_exporter.daemon.reading import COPY_WINDOW_SECONDS, Followed, Reading, Truncation
from lic_exporter.parsing.syslog_chunks import CHUNK_BYTES, read_block
from lic_exporter.parsing.syslog_lines import LineParser
from lic_exporter.parsing.syslog_tally import Tally
from lic_exporter.sources.capture import file_stem
from lic_exporter.sources.names import device_name

__all__ = ["COPY_WINDOW_SECONDS", "ROTATED_GRACE_SECONDS", "SyslogFollower", "watch"]
log = logging.getLogger(__name__)
ROTATED_GRACE_SECONDS = 60  # how long a file renamed away or deleted is still read


@dataclass
class SyslogFollower:
    """The files matching `patterns`, followed; `totals` adds up everything read."""

    patterns: list[str]
    parser: LineParser
    on_change: Callable[[], None] | None = None  # called after new lines were counted
    totals: Tally = field(default_factory=Tally)
    _files: dict[tuple[int, int], Followed] = field(default_factory=dict)
    _started: bool = False  # a first look was taken: every file then present is read from its start
    _looks: int = 0  # looks taken
    _matched: dict[str, int] = field(default_factory=dict)  # pattern -> files it matched at the last look
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
            settle(waiting, self._files.values(), self._looks, self._started, now, self._start_reading)
            for key in set(self._files) - set(found):
                self._retire(key, now)
            forget_truncations(self._files.values(), now)
            if not self._started:
                _warn_unmatched(self._matched)
            self._started = True
            changed = (self.totals.lines, sum(self.totals.messages.values())) != before
        if changed and self.on_change is not None:
            self.on_change()

    def _find(self) -> dict[tuple[int, int], tuple[str, int]]:
        """(device, inode) -> (path, size) of the matching files; new ones are opened (the
        identity is that of the file opened, whatever the name holds by then)."""
        found: dict[tuple[int, int], tuple[str, int]] = {}
        matching = {pattern: _matching([pattern]) for pattern in self.patterns}
        self._matched = {pattern: len(paths) for pattern, paths in matching.items()}
        for path in sorted(set().union(*matching.values())):
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
                    self._files[key] = Followed(path, handle)
            found.setdefault(key, (path, stat.st_size))
        return found

    def _follow(self, followed: Followed, path: str, size: int, now: float) -> None:
        if followed.path != path:
            log.debug("%s: renamed to %s, following on", followed.path, path)
            followed.path = path
        followed.gone_since = None
        followed.look(now, self._looks)
        if followed.truncated(size):
            log.debug("%s: truncated or rewritten, reading again from its start", path)
            followed.truncations.append(Truncation(followed.previous, now, followed.reading))
            followed.reading = Reading()
        self._drain(followed, final=False)

    def _start_reading(self, followed: Followed, afresh: bool) -> None:
        """Read a file just decided about. Read afresh, what it held at its looks so far is
        noted as read then, and before its first look it held nothing: no copy of it is older."""
        if afresh:
            followed.reading.grown = [(followed.sizes[0][0] - 1, 0), *followed.sizes]
        followed.sizes = []
        self._drain(followed, final=False)

    def _retire(self, key: tuple[int, int], now: float) -> None:
        """A file renamed away or deleted may still be written by a writer holding it open
        (until the writer reopens): it is drained for ROTATED_GRACE_SECONDS, then let go."""
        followed = self._files[key]
        if followed.gone_since is None:
            followed.gone_since = now
            log.debug("%s: no longer matched; read on for %d s", followed.path, ROTATED_GRACE_SECONDS)
        final = now - followed.gone_since >= ROTATED_GRACE_SECONDS
        if not followed.decided:  # still waiting to be told for a copy or not (see copies.settle)
            if not final:
                return
            followed.decided = True
        followed.look(now, self._looks)
        self._drain(followed, final=final)
        if final:
            del self._files[key]

    def pattern_files(self) -> dict[str, int]:
        """Each --syslog argument as given -> the files it matched at the last look (every few s)."""
        with self._lock:
            return dict(self._matched) if self._looks else {p: len(_matching([p])) for p in self.patterns}

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

    def _drain(self, followed: Followed, final: bool) -> None:
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

    def _count(self, followed: Followed, data: bytes) -> None:
        if not data:
            return
        fallback = device_name(file_stem(Path(followed.path).name))
        lines, _ = read_block(data, followed.reading.lines + 1, self.parser, fallback, datetime.now(UTC), self.totals)
        followed.reading.lines += lines


def _warn_unmatched(matched: dict[str, int]) -> None:
    """At the first look: a pattern that matches nothing is likely a typo (a file may still
    appear later: it is looked for all the time)."""
    for pattern, count in matched.items():
        if count:
            continue
        folder = _fixed_folder(pattern)
        why = f"folder {folder} does not exist" if not folder.is_dir() else "no file there matches it"
        log.warning("--syslog %s matches no file (%s); check the pattern for a typo. It is looked for every "
                    "few seconds, so a file that appears later is followed", pattern, why)


def _matching(patterns: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        found.update(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    return found


class _Handler(FileSystemEventHandler):
    def __init__(self, follower: SyslogFollower):
        self.follower = follower

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory and event.event_type in CHANGES:
            try:  # an exception here would end watchdog's thread, and every watch with it
                self.follower.poll()
            except Exception:
                log.exception("following the syslog files failed; the periodic look tries again")


def watch(follower: SyslogFollower, observer: BaseObserver | None = None) -> BaseObserver:
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
        folder = _fixed_folder(pattern)
        recursive = any(glob.has_magic(part) for part in Path(pattern).parts[:-1])
        if not folder.is_dir():  # not there yet: the periodic look picks it up (warned at the first look)
            log.debug("--syslog %s: folder %s does not exist (yet); looked at every few seconds", pattern, folder)
            continue
        points.add((str(folder), recursive))
    return points


def _fixed_folder(pattern: str) -> Path:
    """The folder part of a pattern before its first wildcard."""
    folders = Path(pattern).parts[:-1]
    wild = next((i for i, part in enumerate(folders) if glob.has_magic(part)), len(folders))
    return Path(*folders[:wild])
