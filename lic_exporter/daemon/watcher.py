"""Watch the folders (and the syslog files): parse what changed once it has settled, apply it
to the state, and keep the page fresh.

A file event marks a path (PendingChanges); once the path has been quiet for SETTLE_SECONDS
the settle loop parses it and applies the result to the state, which then assembles a new
page. Every few seconds the refresh loop notices a replaced watch folder, polls the syslog
files (a fallback for events a pattern's folder could not deliver) and has the page assembled
again when it is DAYS_REFRESH_SECONDS old, so the day counts on it are never older (that costs
no parsing). The daemon is ready once the initial scan is done.

What exists but cannot be read is an error, never silence: each walk notes the folders it could
not list, each parse the files it could not open, a folder's change of permissions is looked
at when it comes; with every refresh the folders known unreadable are looked at again (a watched
folder unreadable when it was watched has no watch to tell), and so are the --syslog files
(state.UnreadablePaths).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path

from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from lic_exporter.daemon.events import FolderEvents
from lic_exporter.daemon.follower import SyslogFollower
from lic_exporter.daemon.follower import watch as watch_syslog
from lic_exporter.daemon.heap import release_freed
from lic_exporter.daemon.page import Page
from lic_exporter.daemon.pending import PendingChanges
from lic_exporter.daemon.roots import WatchedRoots
from lic_exporter.daemon.state import ExporterState, digest
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.results import read_issue
from lic_exporter.parsing.walk import Found, prepare_found, walk, worker_pool

log = logging.getLogger("lic_exporter")
SETTLE_SECONDS = 1.0  # writes come in bursts: parse a file once it has been quiet this long
DAYS_REFRESH_SECONDS = 60.0  # the day counts on the page are at most this old
REFRESH_SECONDS = 5.0  # how often the refresh loop looks


class FolderWatcher:
    """Feeds `state` from the files below `folders`, parsed with `parser`. `follower`, when
    syslog files are followed, reports new lines to `pending` (its on_change is
    pending.refresh); so may anything else that changes the page (a collection's result)."""

    def __init__(self, folders: list[Path], parser: Parser, state: ExporterState,
                 follower: SyslogFollower | None = None, pending: PendingChanges | None = None,
                 settle_seconds: float = SETTLE_SECONDS):
        self.roots = WatchedRoots(folders)
        self.parser = parser
        self.state = state
        self.follower = follower
        self.pending = pending if pending is not None else PendingChanges()
        self.settle_seconds = settle_seconds
        self._events = FolderEvents(self.pending.mark, self.mark_tree, self.roots.gone, self.folder_changed)
        self._ready = threading.Event()
        # Two SIGHUPs, or a SIGHUP and a replaced folder, must not unschedule each other's watch.
        self._rewatch_lock = threading.Lock()
        self._stop = threading.Event()
        self._observer: BaseObserver | None = None
        self._threads: list[threading.Thread] = []

    # --- what the HTTP server asks (daemon.endpoints.PageSource) ----------------------------------

    def is_ready(self) -> bool:
        return self._ready.is_set()

    def page(self) -> Page:
        return self.state.page()

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Scan everything, then follow changes in the background."""
        self._observer = Observer()
        self.roots.watch(self._observer, self._events)
        if self.follower is not None:
            watch_syslog(self.follower, self._observer)
        with _scan_workers(self.parser) as pool:
            self._observer.start()  # events during the scan are kept and handled after it
            try:
                self.rescan("initial", pool)
            except Exception:  # never 503 forever: serve what was read, go on following changes
                log.exception("the initial scan failed part-way; serving what it read")
        for target in (self._settle_loop, self._refresh_loop):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
            self._threads.append(thread)
        self._ready.set()  # ready: scanned, and following changes

    def stop(self) -> None:
        self._stop.set()
        self.pending.wake()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
        if self.follower is not None:
            self.follower.close()

    # --- what signals and events call --------------------------------------------------------------

    def rewatch(self, reason: str = "reload") -> None:
        """SIGHUP: watch every folder afresh and parse everything again, one at a time."""
        with self._rewatch_lock:
            if self._observer is not None:
                self.roots.watch(self._observer, self._events)
            self.rescan(reason)

    def refresh(self) -> None:
        """Assemble the page again soon (a change that needs no parsing)."""
        self.pending.refresh()

    def mark_tree(self, folder: str) -> None:
        """A folder moved, deleted, created or readable again (or not): every file known below
        it, and every file now there; the folders below it that cannot be listed now."""
        known = self.state.paths_under(folder)
        found = list(walk([Path(folder)])) if os.path.isdir(folder) else []
        self.state.unreadable.replace_folders(folder, _unlisted(found))
        for path in known + [str(item.path) for item in found if item.error is None]:
            self.pending.mark(path)

    def folder_changed(self, folder: str) -> None:
        """A folder's permissions (or other attributes) changed: if it could be listed and now
        cannot, or the other way round, what is below it is read again (or forgotten: what a
        folder holds is not known while it cannot be listed; the folder itself counts)."""
        readable = _listable(folder)
        if readable is None or readable != self.state.unreadable.folder(folder):
            return  # gone (an event of its own), or as it was: readable, or unreadable and known so
        if readable and self._observer is not None:
            with self._rewatch_lock:
                self.roots.watch_again(self._observer, self._events, folder)
        self.mark_tree(folder)

    def rescan(self, reason: str = "reload", pool: ProcessPoolExecutor | None = None) -> None:
        """Parse every file under the watched folders again (start, SIGHUP; `pool`: workers
        forked for it); forget files that are gone. One summary line at info: each file's own
        lines are debug (or warnings)."""
        begun = time.monotonic()
        found = list(walk(self.roots.folders))
        self.state.keep_only({str(item.path) for item in found if item.error is None})
        self.state.unreadable.replace_folders(None, _unlisted(found))
        files = [item for item in found if item.error is None]
        # Each file is digested where it was parsed (in the workers, when there are many).
        for made in prepare_found(self.parser, files, digest, jobs=self.parser.jobs, syslog_events=False,
                                  pool=pool):
            self._guarded(made.result.path, partial(self.state.apply, made))
        _look_at_syslog(self.follower, self.state)
        if self.follower is not None:
            self.follower.poll()
        self.state.render()
        release_freed()  # the walk's and the workers' leftovers, freed between what is kept
        self._summary(reason, time.monotonic() - begun)

    def _summary(self, reason: str, seconds: float) -> None:
        files = list(self.state.files.values())  # a copy: the settle loop may change the files meanwhile
        ok = sum(1 for file in files if file.ok)
        log.info("scan done", extra={"scan": reason, "files_ok": ok, "files_with_errors": len(files) - ok,
                                     "unreadable_paths": len(self.state.unreadable.listing()),
                                     "devices": len(self.state.devices), "seconds": round(seconds, 3)})

    # --- background loops --------------------------------------------------------------------------

    def _settle_loop(self) -> None:
        while not self._stop.is_set():
            self.pending.wait(timeout=self.settle_seconds / 4)
            try:
                self._settle_once()
            except Exception:  # the thread that applies changes must not die
                log.exception("applying changes failed; going on")

    def _settle_once(self) -> None:
        parsed = self._parse_settled()
        refreshed = self.pending.take_refresh()
        if parsed or refreshed:
            self.state.render()

    def _parse_settled(self) -> bool:
        ready = self.pending.settled(self.settle_seconds)
        for path in ready:
            self._guarded(path, partial(self._handle, path))
        return bool(ready)

    def _handle(self, path: str) -> None:
        if _present(path):
            root = self.roots.root_of(path)
            self.state.apply(self.parser.parse_file(Path(path), explicit=False, syslog_events=False, root=root))
        else:
            self.state.forget(path)

    def _guarded(self, path: str, work: Callable[[], None]) -> None:
        """Whatever goes wrong with one file costs that file only (state.failed), and the
        thread that applies changes lives on."""
        try:
            work()
        except Exception as exc:
            self.state.failed(path, exc)

    def _refresh_loop(self) -> None:
        while not self._stop.wait(timeout=REFRESH_SECONDS):
            try:
                self._refresh_once()
            except Exception:  # a background loop must not die quietly
                log.exception("periodic refresh failed; trying again in %g s", REFRESH_SECONDS)

    def _refresh_once(self) -> None:
        if self.roots.changed():
            log.warning("a watched folder was removed or replaced: watching it again")
            self.rewatch("folder replaced")
        if self.follower is not None:
            self.follower.poll()
        if _look_at_syslog(self.follower, self.state):
            self.pending.refresh()
        for folder in self.state.unreadable.folders():  # a change no event told: a watched folder
            self.folder_changed(folder)  # itself, unreadable when it was watched, has no watch at all
        if time.monotonic() - self.state.page().rendered_at >= DAYS_REFRESH_SECONDS:
            self.state.render()

@contextlib.contextmanager
def _scan_workers(parser: Parser) -> Iterator[ProcessPoolExecutor | None]:
    """The initial scan's workers, forked before the folders are watched: what a forked worker
    inherits, it costs. None if they cannot be forked now (the scan forks its own, or fails and
    serves what it read, as a failed scan does)."""
    with contextlib.ExitStack() as stack:
        try:
            pool = stack.enter_context(worker_pool(parser, parser.jobs))
        except (OSError, BrokenProcessPool) as exc:
            log.warning("cannot start the initial scan's worker processes ahead of it (%s); the scan starts its own",
                        exc)
            pool = None
        yield pool


def _look_at_syslog(follower: SyslogFollower | None, state: ExporterState) -> bool:
    """Note the --syslog files that exist but cannot be read now (the follower skips them);
    True when that changed."""
    return follower is not None and state.unreadable.set_syslog(unreadable_files(follower.patterns))


def unreadable_files(patterns: list[str]) -> dict[str, str]:
    """path -> problem line, for each file the patterns match that this process may not read."""
    found = {}
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
            if os.path.isfile(path) and not os.access(path, os.R_OK):
                found[path] = str(read_issue(path, PermissionError(13, "permission denied")))
    return found


def _listable(folder: str) -> bool | None:
    """Whether the folder can be listed; None when it is not there (any more)."""
    try:
        with os.scandir(folder):
            return True
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return False


def _unlisted(found: list[Found]) -> dict[str, str]:
    """path -> problem line, for each folder a walk could not list."""
    return {str(item.path): str(read_issue(str(item.path), item.error, folder=True))
            for item in found if item.error is not None}


def _present(path: str) -> bool:
    """Whether a file is there to be parsed, or to fail to be read (as a walk would list it):
    a dangling link is; so is a file in a folder that can be listed but not searched (mode
    r--); a file in a folder that cannot be listed is not (that folder counts)."""
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except FileNotFoundError:
        return os.path.lexists(path)
    except NotADirectoryError:
        return False
    except OSError:
        try:
            return os.path.basename(path) in os.listdir(os.path.dirname(path) or ".")
        except OSError:
            return False
