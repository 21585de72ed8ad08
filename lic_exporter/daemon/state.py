"""The daemon's state: each watched file's last good records (packed), the devices they name,
each device's text and facts, and the cached /metrics page assembled from them.

Data flows one way: a parsed file is applied as a digest (daemon.digest: made where it was
parsed, in a worker process during the initial scan), or a file that is gone forgotten; each
device it names, before and after, takes the file's own drawing when that file alone names it,
and is otherwise drawn again from the records of every file that names it (unpacked for that);
render() assembles a new page from the per-device text (page.assemble) and swaps it in whole,
/metrics and the status page at / together. Until the first render (the end of the initial
scan) the status page says that the scan is running.

What exists but cannot be read is kept apart (lic_exporter_unreadable_paths and the status
page): files that cannot be opened (as they are applied), folders that cannot be listed (as
the watcher's walks find them) and --syslog files (as the watcher looks at them).

It runs no threads and waits for nothing: the watcher calls it from its threads (the initial
scan, the settle loop, a SIGHUP's rescan), so every public method may be called from any
thread; a test can drive it by calling them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from lic_exporter.analysis.diagnose import Facts, facts_of
from lic_exporter.analysis.views import device_views
from lic_exporter.daemon.about import About
from lic_exporter.daemon.digest import Digest, Drawing, PackedText, pack, pack_text, unpack
from lic_exporter.daemon.page import EMPTY_PAGE, Page, assemble
from lic_exporter.exposition.account_metrics import AccountPollStatus
from lic_exporter.exposition.landing import MAX_UNREADABLE, starting_page
from lic_exporter.exposition.metrics import CollectStatus, ExporterStats, device_text
from lic_exporter.model.accounts import AccountRecord
from lic_exporter.model.records import Record
from lic_exporter.parsing.accounts import newest_accounts
from lic_exporter.parsing.results import FileResult, ParseIssue, newest_captures
from lic_exporter.parsing.syslog_tally import Tally
from lic_exporter.sources.privacy import scrub

log = logging.getLogger("lic_exporter")


def utc_now() -> datetime:
    return datetime.now(UTC)


def digest(result: FileResult) -> Digest:
    """The file as the state keeps it, made in the process that parsed it (a worker of the
    initial scan inherits this module, and whatever a test planted in it)."""
    records = result.records
    devices = tuple(sorted({record.device for record in records}))
    try:
        drawings, error = draw(newest_captures(records)), None
    except Exception as exc:  # raised again where the file is applied: it costs that file only
        drawings, error = {}, exc
    return Digest(replace(result, records=()) if records else result, pack(records), len(records), devices,
                  drawings, error)


def draw(records: Iterable[Record]) -> dict[str, Drawing]:
    """Each device of `records` (the newest captures already chosen), drawn."""
    return {view.device: Drawing(pack_text(device_text(view)), facts_of(view)) for view in device_views(records)}


@dataclass(frozen=True, slots=True)
class FileState:
    packed: bytes  # the last good records, packed (kept while the file is broken; digest.unpack)
    devices: tuple[str, ...]  # sorted (a tuple: a fleet of one-device files holds 100,000)
    ok: bool
    problem: str | None = None
    accounts: tuple[AccountRecord, ...] = ()  # an account snapshot's last good record


class ExporterState:
    """`know_devices` is told the devices the show outputs name (syslog counting admits them
    under --syslog.known-devices-only); `clock` gives the time the day counts and findings are
    computed for; `syslog_totals` a copy of the followed syslog files' totals; `collect_status`
    each target's collection status, when the daemon collects; `account_status` each account
    source's polls, when the daemon polls them; `syslog_patterns` how many files each --syslog
    pattern matches now (for the status page)."""

    def __init__(self, know_devices: Callable[[Iterable[str]], None] | None = None,
                 clock: Callable[[], datetime] = utc_now, syslog_totals: Callable[[], Tally] | None = None,
                 collect_status: Callable[[], Iterable[CollectStatus]] | None = None,
                 about: About | None = None, deadline_days: bool = False,
                 config_reload: Callable[[], tuple[bool, float]] | None = None,
                 syslog_patterns: Callable[[], Mapping[str, int]] | None = None,
                 account_status: Callable[[], Iterable[AccountPollStatus]] | None = None):
        self.files: dict[str, FileState] = {}
        self.device_files = DeviceFiles()
        self.devices: dict[str, PackedText] = {}
        self.facts: dict[str, Facts] = {}  # what diagnose looks at, per device
        self.parse_errors = 0
        self.unreadable = UnreadablePaths()
        self._know_devices = know_devices
        self._clock = clock
        self._syslog_totals = syslog_totals
        self._collect_status = collect_status
        self.about = about if about is not None else About()
        self._deadline_days = deadline_days
        self._config_reload = config_reload
        self._syslog_patterns = syslog_patterns
        self._account_status = account_status
        # Guards the fields above: the initial scan, the settle loop and a SIGHUP's rescan
        # change them from different threads, and render() reads them from yet another.
        # Reentrant, so that a method holding it may call another that takes it.
        self._lock = threading.RLock()
        self._render_lock = threading.Lock()  # an older snapshot must not be swapped in after a newer one
        self._page = replace(EMPTY_PAGE, html=starting_page(self.about.header(utc_now())))
        self._warned_syslog: set[str] = set()

    # --- files -> records -> device text -----------------------------------------------------

    def apply(self, parsed: FileResult | Digest) -> None:
        """A file parsed: its records replace the ones it had, or, if it broke, its last good
        records stay and it counts as failed."""
        made = parsed if isinstance(parsed, Digest) else digest(parsed)
        if made.error is not None:
            raise made.error
        result = made.result
        path = result.path
        unreadable = result.unreadable
        if unreadable is not None and unreadable.folder:  # a walk's folder: not a file
            self.unreadable.replace_folders(path, {path: str(unreadable)})
            return
        for issue in result.issues:
            (log.error if issue.fatal else log.warning)("%s", issue)
        with self._lock:
            self.parse_errors += len(result.issues)
            self.unreadable.file(path, str(unreadable) if unreadable is not None else None)
            if result.syslog is not None:
                self._forget(path)
                if path not in self._warned_syslog:
                    self._warned_syslog.add(path)
                    log.warning("%s: a syslog file in a watched folder is not followed; give it to --syslog", path)
                return
            before = self.files.get(path)
            if not result.issues and not made.packed and not result.accounts:
                if before is None or not (before.packed or before.accounts):
                    self._forget(path)  # nothing this tool reads: not a licensing file
                    return
                # A file that held outputs now holds something else: a broken write, not a
                # reason to drop its devices.
                result = replace(result, issues=(ParseIssue(path, None, "no output of a known command found "
                                                             "any more; keeping its last good records"),))
                log.error("%s", result.issues[0])
            drawings: Mapping[str, Drawing] = {}
            if result.ok:
                state = FileState(made.packed, made.devices, True, accounts=result.accounts)
                drawings = made.drawings
                log.debug("%s: parsed, %d record(s)", path, made.records + len(result.accounts))  # summary: info
            else:  # keep the last good records of a file that broke
                kept = before.packed if before else b""
                state = FileState(kept, before.devices if before else (), False, str(result.issues[0]),
                                  before.accounts if before else ())
            self.files[path] = state
            self._reindex(path, before.devices if before else (), state.devices, drawings)

    def forget(self, path: str) -> None:
        """A file is gone: its devices' series go with it (unless other files name them)."""
        with self._lock:
            self._forget(path)

    def keep_only(self, paths: set[str]) -> None:
        """Forget every file not among `paths` (a rescan no longer found it)."""
        with self._lock:
            for path in set(self.files) - paths:
                self._forget(path)

    def failed(self, path: str, error: Exception) -> None:
        """Whatever went wrong with one file costs that file only: it is logged with its path,
        counted as a parse error, and the file counts as failed (its last good records stay)."""
        log.error("%s: internal error while applying it (%s: %s); its last good records are kept",
                  path, type(error).__name__, scrub(str(error)))
        log.debug("traceback for %s", path, exc_info=error)
        with self._lock:
            self.parse_errors += 1
            before = self.files.get(path)
            self.files[path] = FileState(before.packed if before else b"",
                                         before.devices if before else (), False, "internal error",
                                         before.accounts if before else ())

    def paths_under(self, folder: str) -> list[str]:
        """The files known below `folder`."""
        prefix = folder.rstrip(os.sep) + os.sep
        with self._lock:
            return [path for path in self.files if path.startswith(prefix)]

    def _forget(self, path: str) -> None:
        self.unreadable.file(path, None)
        state = self.files.pop(path, None)
        if state is not None:
            log.debug("%s: gone, its series go with it", path)
            self._reindex(path, state.devices, ())

    def _reindex(self, path: str, old: tuple[str, ...], new: tuple[str, ...],
                 drawings: Mapping[str, Drawing] | None = None) -> None:
        if self._know_devices is not None:
            self._know_devices(new)
        for device in set(old) - set(new):
            self.device_files.discard(device, path)
        for device in new:
            self.device_files.add(device, path)
        for device in set(old) | set(new):
            paths = self.device_files.paths(device)
            # A device this file alone names is as the file drew it.
            drawing = drawings.get(device) if drawings and len(paths) == 1 else None
            drawing = drawing or (_drawn(device, [self.files[path] for path in paths]) if paths else None)
            if drawing is not None:
                self.devices[device], self.facts[device] = drawing.text, drawing.facts
            else:
                self.devices.pop(device, None)
                self.facts.pop(device, None)

    # --- the page ------------------------------------------------------------------------------

    def page(self) -> Page:
        return self._page

    def render(self) -> None:
        """Assemble and swap in a new page from the current per-device text. Should that
        fail, the last page stays and the failure is logged: a scrape always gets a page."""
        try:
            with self._render_lock:
                self._render()
        except Exception:
            log.exception("rendering /metrics failed; the previous page is served")

    def _render(self) -> None:
        with self._lock:
            names = sorted(self.devices)
            devices = [self.devices[name] for name in names]
            facts = [self.facts[name] for name in names]
            problems = _problems(self.files)
            errors = len(problems)
            files, parse_errors = len(self.files), self.parse_errors
            unreadable = self.unreadable.listing()
            accounts = newest_accounts(record for state in self.files.values() for record in state.accounts)
        tally = self._syslog_totals() if self._syslog_totals is not None else Tally()
        stats = _stats(files - errors, errors, parse_errors, tally,
                       self._config_reload() if self._config_reload is not None else None)
        stats = replace(stats, unreadable_paths=len(unreadable))
        collect = self._collect_status() if self._collect_status is not None else None
        header = self.about.header(utc_now(), self._syslog_patterns() if self._syslog_patterns is not None else None,
                                   files_ok=files - errors, files_error=errors, file_problems=problems)
        header = replace(header, unreadable=tuple(unreadable[:MAX_UNREADABLE]), unreadable_count=len(unreadable))
        polls = self._account_status() if self._account_status is not None else None
        self._page = assemble(devices, facts, stats, tally, self._clock(), collect, deadline_days=self._deadline_days,
                              header=header, accounts=accounts, account_polls=polls)


class DeviceFiles:
    """The files that name each device, in path order: a path alone is held as itself (the usual
    fleet, one capture per switch, would otherwise hold a set per device), several as a set."""

    def __init__(self) -> None:
        self._paths: dict[str, str | set[str]] = {}

    def add(self, device: str, path: str) -> None:
        held = self._paths.get(device)
        if held is None or held == path:
            self._paths[device] = path
        elif isinstance(held, str):
            self._paths[device] = {held, path}
        else:
            held.add(path)

    def discard(self, device: str, path: str) -> None:
        held = self._paths.get(device)
        if held == path:
            del self._paths[device]
        elif isinstance(held, set):
            held.discard(path)
            if len(held) == 1:
                self._paths[device] = held.pop()

    def paths(self, device: str) -> list[str]:
        held = self._paths.get(device)
        if held is None:
            return []
        return [held] if isinstance(held, str) else sorted(held)


class UnreadablePaths:
    """What exists but cannot be read, each as "PATH: cannot read: reason": files that cannot be
    opened (as they are applied), folders that cannot be listed (as the watcher's walks find
    them), --syslog files (as the watcher looks at them). Any thread may call it."""

    def __init__(self) -> None:
        self._files: dict[str, str] = {}
        self._folders: dict[str, str] = {}
        self._syslog: dict[str, str] = {}
        self._lock = threading.Lock()

    def file(self, path: str, problem: str | None) -> None:
        """A watched file was read (problem None), could not be, or is gone (None)."""
        with self._lock:
            if problem is None:
                self._files.pop(path, None)
            else:
                self._files[path] = problem

    def replace_folders(self, under: str | None, found: Mapping[str, str]) -> None:
        """A walk of `under` (None: of every watched folder) found these folders that cannot be
        listed (path -> problem line): they replace what was known there. Each newly found one
        is logged once, and each listed again noted."""
        with self._lock:
            known = self._folders
            for path in [path for path in known if under is None or _within(path, under)]:
                if path not in found:
                    del known[path]
                    log.info("%s: can be read again", path)
            for path, problem in found.items():
                if path not in known:
                    log.error("%s; nothing below it is read", problem)
                known[path] = problem

    def folder(self, folder: str) -> bool:
        """Whether `folder` could not be listed when it was last walked."""
        with self._lock:
            return folder.rstrip(os.sep) in self._folders

    def folders(self) -> list[str]:
        """The folders that could not be listed when they were last walked."""
        with self._lock:
            return sorted(self._folders)

    def set_syslog(self, found: Mapping[str, str]) -> bool:
        """The --syslog files that cannot be read now (path -> problem line); True when that
        changed (the page should then be assembled again)."""
        with self._lock:
            if dict(found) == self._syslog:
                return False
            for path in found.keys() - self._syslog.keys():
                log.error("--syslog %s", found[path])
            self._syslog = dict(found)
            return True

    def listing(self) -> list[str]:
        """Every one, by path."""
        with self._lock:
            found = {**self._files, **self._folders, **self._syslog}
        return [found[path] for path in sorted(found)]


def _drawn(device: str, files: Iterable[FileState]) -> Drawing | None:
    """The device drawn from the records of these files (in path order), as `parse` draws it:
    of several files giving the device one command, the newest counts."""
    records = newest_captures(record for file in files for record in unpack(file.packed))
    return draw(record for record in records if record.device == device).get(device)


def _within(path: str, folder: str) -> bool:
    folder = folder.rstrip(os.sep)
    return path == folder or path.startswith(folder + os.sep)


def _problems(files: Mapping[str, FileState]) -> list[str]:
    """The one-line problem of each file with errors, by path."""
    return [files[path].problem or path for path in sorted(path for path, state in files.items() if not state.ok)]


def _stats(files_ok: int, files_error: int, parse_errors: int, tally: Tally,
           config_reload: tuple[bool, float] | None) -> ExporterStats:
    return ExporterStats(files_ok=files_ok, files_error=files_error, parse_errors=parse_errors,
                         syslog_lines=tally.lines, syslog_unparsed=tally.unparsed, syslog_undecodable=tally.undecodable,
                         syslog_nul=tally.nul, syslog_device_limited=tally.device_limited, config_reload=config_reload)
