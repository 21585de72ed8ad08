"""Watch the folders (and the syslog files): parse what changed once it has settled, apply it
to the state, and keep the page fresh.

A file event marks a path (PendingChanges); once the path has been quiet for SETTLE_SECONDS
the settle loop parses it and applies the result to the state, which then assembles a new
page. Every few seconds the refresh loop notices a replaced watch folder, polls the syslog
files (a fallback for events a pattern's folder could not deliver) and has the page assembled
again when it is DAYS_REFRESH_SECONDS old, so the day counts on it are never older (that costs
no parsing). The daemon is ready once the initial scan is done.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from lic_exporter.daemon.events import FolderEvents
from lic_exporter.daemon.follower import SyslogFollower
from lic_exporter.daemon.follower import watch as watch_syslog
from lic_exporter.daemon.page import Page
from lic_exporter.daemon.pending import PendingChanges
from lic_exporter.daemon.roots import WatchedRoots
from lic_exporter.daemon.state import ExporterState
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.walk import walk

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
        self._events = FolderEvents(self.pending.mark, self.mark_tree, self.roots.gone)
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
        self._observer.start()  # events during the scan are kept and handled after it
        try:
            self.rescan("initial")
        except Exception:  # never 503 forever: serve what was read, go on following changes
            log.exception("the initial scan failed part-way; serving what it read")
        self._ready.set()
        for target in (self._settle_loop, self._refresh_loop):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
            self._threads.append(thread)

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
        """A folder moved or deleted: every file known below it, and every file now there."""
        known = self.state.paths_under(folder)
        present = [str(path) for path, _ in walk([Path(folder)])] if os.path.isdir(folder) else []
        for path in known + present:
            self.pending.mark(path)

    def rescan(self, reason: str = "reload") -> None:
        """Parse every file under the watched folders again (start, SIGHUP); forget files
        that are gone. One summary line at info: each file's own lines are debug (or warnings)."""
        begun = time.monotonic()
        self.state.keep_only({str(path) for path, _ in walk(self.roots.folders)})
        for result in self.parser.parse_paths(self.roots.folders, jobs=self.parser.jobs, syslog_events=False):
            self._guarded(result.path, partial(self.state.apply, result))
        if self.follower is not None:
            self.follower.poll()
        self.state.render()
        self._summary(reason, time.monotonic() - begun)

    def _summary(self, reason: str, seconds: float) -> None:
        files = list(self.state.files.values())  # a copy: the settle loop may change the files meanwhile
        ok = sum(1 for file in files if file.ok)
        log.info("scan done", extra={"scan": reason, "files_ok": ok, "files_with_errors": len(files) - ok,
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
        if os.path.isfile(path):
            self.state.apply(self.parser.parse_file(Path(path), explicit=False, syslog_events=False))
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
        if time.monotonic() - self.state.page().rendered_at >= DAYS_REFRESH_SECONDS:
            self.state.render()
