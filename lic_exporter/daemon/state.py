"""The daemon's state: watched files and their last good records, the syslog follower, and the
cached /metrics page.

Data flows one way: a file event marks a path dirty; once the path has been quiet for
SETTLE_SECONDS it is parsed; its devices are re-rendered to text (metrics.device_text); a new
page is assembled from the per-device text and swapped in whole. A scrape only hands out the
current page (and its gzip), so it never sees half an update and never waits for parsing.
The day counts are refreshed at most once a minute (DAYS_REFRESH_SECONDS), by re-assembling
the page, which costs no parsing.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import TypeAdapter
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from lic_exporter.analysis.diagnose import Facts, diagnose, facts_of, with_syslog
from lic_exporter.analysis.views import device_views
from lic_exporter.daemon.follower import CHANGE_EVENTS, CHANGES, SyslogFollower
from lic_exporter.daemon.follower import watch as watch_syslog
from lic_exporter.exposition.metrics import DeviceText, ExporterStats, device_text, exposition
from lic_exporter.model.records import Record
from lic_exporter.parsing.files import FileResult, ParseIssue, Parser, walk
from lic_exporter.parsing.syslog import Tally
from lic_exporter.sources.privacy import scrub

log = logging.getLogger("lic_exporter")
SETTLE_SECONDS = 1.0  # writes come in bursts: parse a file once it has been quiet this long
DAYS_REFRESH_SECONDS = 60.0  # the day counts on the page are at most this old
_RECORDS = TypeAdapter(Record)


@dataclass(frozen=True)
class FileState:
    records_json: tuple[str, ...]  # the last good records (kept while the file is broken)
    devices: frozenset[str]
    ok: bool
    problem: str | None = None


@dataclass(frozen=True)
class Page:
    """One rendering of /metrics, swapped in whole."""

    text: bytes
    gzipped: bytes
    rendered_at: float  # time.monotonic()


class Exporter:
    def __init__(self, watch_dirs: list[Path], parser: Parser, syslog_patterns: list[str] | None = None,
                 settle_seconds: float = SETTLE_SECONDS):
        self.watch_dirs = [folder.resolve() for folder in watch_dirs]  # events name absolute paths
        self.parser = parser
        self.settle_seconds = settle_seconds
        self.files: dict[str, FileState] = {}
        self.device_files: dict[str, set[str]] = {}
        self.devices: dict[str, DeviceText] = {}
        self.facts: dict[str, Facts] = {}  # what diagnose looks at, per device
        self.parse_errors = 0
        self.ready = threading.Event()
        self.follower = SyslogFollower(syslog_patterns, parser.syslog_lines, self.mark_syslog) \
            if syslog_patterns else None
        self._dirty: dict[str, float] = {}
        self._syslog_dirty = False
        self._lock = threading.RLock()
        self._rewatch_lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._page = Page(b"", b"", 0.0)
        self._observer: Observer | None = None
        self._threads: list[threading.Thread] = []
        self._warned_syslog: set[str] = set()
        self._roots: dict[Path, tuple[object, tuple[int, int]]] = {}  # folder -> (watch, identity)
        self._dead_roots: set[Path] = set()
        self.collect_status = None  # a callable giving each target's collection status, when collecting

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Scan everything, then follow changes in the background."""
        self._observer = Observer()
        self._watch_roots()
        if self.follower is not None:
            watch_syslog(self.follower, self._observer)
        self._observer.start()  # events during the scan are kept and handled after it
        try:
            self.rescan()
        except Exception:  # never 503 forever: serve what was read, go on following changes
            log.exception("the initial scan failed part-way; serving what it read")
        self.ready.set()
        log.info("initial scan done: %d files, %d devices", len(self.files), len(self.devices))
        for target in (self._settle_loop, self._refresh_loop):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
        if self.follower is not None:
            self.follower.close()

    # --- what the watcher and signals call -----------------------------------------------

    def rewatch(self) -> None:
        """SIGHUP: watch every folder afresh and parse everything again (one at a time: two
        signals, or a signal and a replaced folder, must not unschedule each other's watch)."""
        with self._rewatch_lock:
            if self._observer is not None:
                self._watch_roots()
            self.rescan()

    def mark(self, path: str) -> None:
        with self._lock:
            self._dirty[path] = time.monotonic()
        self._wake.set()

    def mark_tree(self, folder: str) -> None:
        """A folder moved or deleted: every file known below it, and every file now there."""
        prefix = folder.rstrip(os.sep) + os.sep
        with self._lock:
            known = [path for path in self.files if path.startswith(prefix)]
        present = [str(path) for path, _ in walk([Path(folder)])] if os.path.isdir(folder) else []
        for path in known + present:
            self.mark(path)

    def mark_syslog(self) -> None:
        """Something behind the page changed that needs no parsing (syslog counts, a
        collection's result): assemble the page again."""
        self._syslog_dirty = True
        self._wake.set()

    refresh = mark_syslog

    def _watch_roots(self) -> None:
        """(Re)watch each --watch folder; a folder removed and created again, or swapped for
        another, is a new inode that the old watch no longer sees."""
        for folder in self.watch_dirs:
            old = self._roots.pop(folder, None)
            if old is not None:
                with contextlib.suppress(KeyError, OSError):  # watchdog may have dropped it already
                    self._observer.unschedule(old[0])
            try:
                stat = folder.stat()
            except OSError as exc:
                log.error("--watch %s: %s; watching again when it is back", folder, exc.strerror)
                continue
            watch = self._observer.schedule(_Events(self), str(folder), recursive=True, event_filter=CHANGE_EVENTS)
            self._roots[folder] = (watch, (stat.st_dev, stat.st_ino))

    def root_gone(self, folder: str) -> None:
        """A watched folder itself was deleted or moved away: its watch is dead even if a new
        folder takes its name (and, often, its inode number)."""
        for root in self.watch_dirs:
            if str(root) == folder.rstrip(os.sep):
                self._dead_roots.add(root)

    def _roots_changed(self) -> bool:
        if any(folder.is_dir() for folder in list(self._dead_roots)):
            self._dead_roots.clear()
            return True
        for folder in self.watch_dirs:
            try:
                stat = folder.stat()
                identity = (stat.st_dev, stat.st_ino)
            except OSError:
                identity = None
            if identity != (self._roots[folder][1] if folder in self._roots else None):
                return True
        return False

    def rescan(self) -> None:
        """Parse every file under the watched folders again (start, SIGHUP); forget files
        that are gone."""
        found = {str(path) for path, _ in walk(self.watch_dirs)}
        with self._lock:
            for path in set(self.files) - found:
                self._forget(path)
        for result in self.parser.parse_paths(self.watch_dirs, jobs=self.parser.jobs, as_json=True,
                                              syslog_events=False):
            self._guarded(result.path, lambda result=result: self._apply(result))
        if self.follower is not None:
            self.follower.poll()
        self.render()

    # --- the page --------------------------------------------------------------------------

    def page(self) -> Page:
        return self._page

    def render(self) -> None:
        """Assemble and swap in a new page from the current per-device text. Should that
        fail, the last page stays and the failure is logged: a scrape always gets a page."""
        try:
            with self._render_lock:  # an older snapshot must not be swapped in after a newer one
                self._render()
        except Exception:
            log.exception("rendering /metrics failed; the previous page is served")

    def _render(self) -> None:
        with self._lock:
            devices = [self.devices[name] for name in sorted(self.devices)]
            facts = dict(self.facts)
            stats = self._stats()
        tally = self.follower.snapshot() if self.follower is not None else Tally()
        now = datetime.now(UTC)
        collect = self.collect_status() if self.collect_status is not None else None
        text = exposition(devices, tally, stats, now, diagnose(with_syslog(facts.values(), tally), now), collect)
        self._page = Page(text, gzip.compress(text, compresslevel=6), time.monotonic())

    def _stats(self) -> ExporterStats:
        errors = sum(1 for state in self.files.values() if not state.ok)
        totals = self.follower.totals if self.follower is not None else Tally()
        return ExporterStats(files_ok=len(self.files) - errors, files_error=errors, parse_errors=self.parse_errors,
                             syslog_lines=totals.lines, syslog_unparsed=totals.unparsed,
                             syslog_undecodable=totals.undecodable, syslog_nul=totals.nul,
                             syslog_device_limited=totals.device_limited)

    # --- files -> records -> device text ---------------------------------------------------

    def _apply(self, result: FileResult) -> None:
        path = result.path
        for issue in result.issues:
            (log.error if issue.fatal else log.warning)("%s", issue)
        with self._lock:
            self.parse_errors += len(result.issues)
            if result.syslog is not None:
                self._forget(path)
                if path not in self._warned_syslog:
                    self._warned_syslog.add(path)
                    log.warning("%s: a syslog file in a watched folder is not followed; give it to --syslog", path)
                return
            before = self.files.get(path)
            if not result.issues and not result.records_json:
                if before is None or not before.records_json:
                    self._forget(path)  # nothing this tool reads: not a licensing file
                    return
                # A file that held outputs now holds something else: a broken write, not a
                # reason to drop its devices.
                result = replace(result, issues=(ParseIssue(path, None, "no output of a known command found "
                                                             "any more; keeping its last good records"),))
                log.error("%s", result.issues[0])
            if result.ok:
                records = result.records_json
                state = FileState(records, result.devices, True)
                log.info("%s: parsed, %d record(s)", path, len(records))
            else:  # keep the last good records of a file that broke
                kept = before.records_json if before else ()
                state = FileState(kept, before.devices if before else frozenset(), False, str(result.issues[0]))
            self.files[path] = state
            self._reindex(path, before.devices if before else frozenset(), state.devices)

    def _forget(self, path: str) -> None:
        state = self.files.pop(path, None)
        if state is not None:
            log.info("%s: gone, its series go with it", path)
            self._reindex(path, state.devices, frozenset())

    def _reindex(self, path: str, old: frozenset[str], new: frozenset[str]) -> None:
        self.parser.syslog_lines.know(new)
        for device in old - new:
            self.device_files.get(device, set()).discard(path)
        for device in new:
            self.device_files.setdefault(device, set()).add(path)
        self._redraw(old | new)

    def _redraw(self, devices: Iterable[str]) -> None:
        for device in devices:
            paths = self.device_files.get(device) or set()
            records = [_RECORDS.validate_json(text) for path in sorted(paths)
                       for text in self.files[path].records_json]
            views = [view for view in device_views(records) if view.device == device]
            if views:
                self.devices[device] = device_text(views[0])
                self.facts[device] = facts_of(views[0])
            else:
                self.devices.pop(device, None)
                self.facts.pop(device, None)
                self.device_files.pop(device, None)

    # --- background loops --------------------------------------------------------------------

    def _settle_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=self.settle_seconds / 4)
            self._wake.clear()
            try:
                self._settle_once()
            except Exception:  # the thread that applies changes must not die
                log.exception("applying changes failed; going on")

    def _settle_once(self) -> None:
        changed = self._parse_settled()
        if self._syslog_dirty:
            self._syslog_dirty = False
            changed = True
        if changed:
            self.render()

    def _parse_settled(self) -> bool:
        now = time.monotonic()
        with self._lock:
            ready = [path for path, when in self._dirty.items() if now - when >= self.settle_seconds]
            for path in ready:
                del self._dirty[path]
        for path in ready:
            self._guarded(path, lambda path=path: self._handle(path))
        return bool(ready)

    def _handle(self, path: str) -> None:
        if os.path.isfile(path):
            self._apply(self.parser.parse_file(Path(path), explicit=False, syslog_events=False).as_json())
        else:
            with self._lock:
                self._forget(path)

    def _guarded(self, path: str, work) -> None:
        """Whatever goes wrong with one file costs that file only: it is logged with its path,
        counted as a parse error, the file counts as failed (its last good records stay),
        and the thread that applies changes lives on."""
        try:
            work()
        except Exception as exc:
            log.error("%s: internal error while applying it (%s: %s); its last good records are kept",
                      path, type(exc).__name__, scrub(str(exc)))
            log.debug("traceback for %s", path, exc_info=True)
            with self._lock:
                self.parse_errors += 1
                before = self.files.get(path)
                self.files[path] = FileState(before.records_json if before else (),
                                             before.devices if before else frozenset(), False, "internal error")

    def _refresh_loop(self) -> None:
        """Every few seconds: notice a replaced watch folder, poll the syslog files (a
        fallback for events a pattern's folder could not deliver), refresh the day counts."""
        while not self._stop.wait(timeout=5):
            try:
                self._refresh_once()
            except Exception:  # a background loop must not die quietly
                log.exception("periodic refresh failed; trying again in 5 s")

    def _refresh_once(self) -> None:
        if self._roots_changed():
            log.warning("a watched folder was removed or replaced: watching it again")
            self.rewatch()
        if self.follower is not None:
            self.follower.poll()
        if time.monotonic() - self._page.rendered_at >= DAYS_REFRESH_SECONDS:
            self.render()


def _dot_named(path: str | bytes) -> bool:
    return os.path.basename(os.fsdecode(path)).startswith(".")


class _Events(FileSystemEventHandler):
    def __init__(self, exporter: Exporter):
        self.exporter = exporter

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in CHANGES:  # our own reading opens and closes files too
            return
        if _dot_named(event.src_path) and not (event.dest_path and not _dot_named(event.dest_path)):
            return  # a temporary file being written (a collector's transcript): only its rename counts
        if event.is_directory:
            if event.event_type in ("moved", "deleted"):
                self.exporter.root_gone(os.fsdecode(event.src_path))
                self.exporter.mark_tree(os.fsdecode(event.src_path))
            if event.event_type in ("moved", "created"):  # a folder of outputs moved in at once
                self.exporter.mark_tree(os.fsdecode(event.dest_path or event.src_path))
            return
        self.exporter.mark(os.fsdecode(event.src_path))
        if event.event_type == "moved" and not _dot_named(event.dest_path):
            self.exporter.mark(os.fsdecode(event.dest_path))
