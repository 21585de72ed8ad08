"""`lic-exporter serve`: start the daemon (and, with --config.file, the collection and the
account polling), run until SIGTERM or SIGINT, re-scan (and re-read the configuration) on SIGHUP
and, with --web.enable-lifecycle, on POST /-/reload. SIGTERM ends it within a few seconds
whatever is running (the initial scan, a reload, sessions, polls): what is still busy then is
not waited for.

The wiring: the state (files -> devices -> page) is told where the syslog totals, the
collection's and the account polls' statuses, the configuration's reload status and the time
come from; the watcher feeds it from the folders (--collect.dir among them, where transcripts
and account snapshots are written); the HTTP server serves the watcher's page with the process_*
families of each scrape (DaemonSource); the syslog follower, the collection and the account
polling report what changed to the pending changes the watcher applies.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from lic_exporter.cli.check import serve_settings
from lic_exporter.cli.logs import configure_logging
from lic_exporter.cli.options import EXIT_OK, EXIT_RUNTIME, UsageError
from lic_exporter.daemon.about import About
from lic_exporter.daemon.follower import SyslogFollower
from lic_exporter.daemon.http import MetricsServer
from lic_exporter.daemon.pending import PendingChanges
from lic_exporter.daemon.reload import Reloader, ReloadStatus
from lic_exporter.daemon.scrape import DaemonSource
from lic_exporter.daemon.state import ExporterState, utc_now
from lic_exporter.daemon.watcher import FolderWatcher
from lic_exporter.daemon.webconfig import WebConfig
from lic_exporter.parsing.files import Parser

if TYPE_CHECKING:  # imported where used: asyncssh only when collecting, httpx only when polling accounts
    from lic_exporter.accounts import AccountsLoop
    from lic_exporter.accounts.settings import AccountsConfig
    from lic_exporter.collect import CollectLoop
    from lic_exporter.collect.targets import CollectConfig

log = logging.getLogger("lic_exporter")
# SIGTERM to exit at most: the collection and the account polls get 3 s each to let go, the
# folder watcher up to 5 s; past this, what is still busy is not waited for.
STOP_DEADLINE_SECONDS = 7.0


def serve(args: argparse.Namespace) -> int:
    """Run the daemon; UsageError for options that cannot be used."""
    configure_logging(args.log_level, args.log_format)
    settings = serve_settings(args)
    parser = Parser(zones=dict(args.tz) or None, device_map=settings.device_map, jobs=args.jobs,
                    syslog_max_devices=args.syslog_max_devices, syslog_known_only=args.syslog_known_only,
                    device_pattern=args.device_pattern)
    pending = PendingChanges()
    collection = _collection(settings.collect, args, on_result=lambda result: pending.refresh())
    # A poll's snapshot reaches the page as a file of --collect.dir; its status right away.
    accounts = _accounts(settings.accounts, args, on_result=lambda result: pending.refresh())
    follower = SyslogFollower(args.syslog, parser.syslog_lines, on_change=pending.refresh) if args.syslog else None
    configured = collection is not None or accounts is not None
    folders = args.watch + ([args.collect_dir] if configured else [])
    about = About(watched=tuple(str(folder) for folder in folders), syslog_patterns=tuple(args.syslog),
                  lifecycle=args.lifecycle)
    # serve_settings has just loaded --config.file: that load is the first successful one.
    reload_status = ReloadStatus() if configured else None
    state = ExporterState(know_devices=parser.syslog_lines.know, clock=_clock(args.now),
                          syslog_totals=follower.snapshot if follower is not None else None,
                          collect_status=collection.statuses if collection is not None else None,
                          about=about, deadline_days=args.deadline_days, config_reload=reload_status,
                          syslog_patterns=follower.pattern_files if follower is not None else None,
                          account_status=accounts.statuses if accounts is not None else None)
    watcher = FolderWatcher(folders, parser, state, follower=follower, pending=pending)
    reload = Reloader(watcher.rewatch, partial(_reload, collection, accounts, args) if configured else None,
                      reload_status)
    source = DaemonSource(watcher, lifecycle=reload if args.lifecycle else None)
    try:
        server = MetricsServer(settings.address, source, settings.web)
    except OSError as exc:
        print(f"lic-exporter serve: cannot listen on {args.listen}: {exc.strerror}", file=sys.stderr)
        return EXIT_RUNTIME
    return _run(server, watcher, args.listen, settings.web, collection, accounts, reload)


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """The time the page's day counts and findings are computed for: --now, or the time."""
    if now is None:
        return utc_now
    pretended = now
    return lambda: pretended


def _collection(config: CollectConfig | None, args: argparse.Namespace,
                on_result: Callable[[object], None]) -> CollectLoop | None:
    """The collection loop for --config.file (not started yet; `on_result` is told each
    collection's result), None without it."""
    if config is None:
        return None
    from lic_exporter.collect import CollectLoop

    _prepare(args, config.warnings)
    return CollectLoop(config, args.collect_dir, on_result=on_result)


def _accounts(config: AccountsConfig | None, args: argparse.Namespace,
              on_result: Callable[[object], None]) -> AccountsLoop | None:
    """The account polling for the `accounts:` sources of --config.file, writing into
    --collect.dir (not started yet); None without --config.file. A configuration without
    account sources gets a loop with none, so that a reload may add some."""
    if args.config_file is None:
        return None
    from lic_exporter.accounts import AccountsConfig, AccountsLoop
    from lic_exporter.parsing.accounts import snapshot_problem

    config = _this_shard(config if config is not None else AccountsConfig(), args)
    _prepare(args, config.warnings)

    return AccountsLoop(config, args.collect_dir, on_result=on_result, check=snapshot_problem)


def _prepare(args: argparse.Namespace, warnings: Iterable[str]) -> None:
    """--collect.dir made (a usage error when it cannot be) and the configuration's warnings logged."""
    try:
        args.collect_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--collect.dir {args.collect_dir}: {exc.strerror}") from None
    for warning in warnings:
        log.warning("%s: %s", args.config_file, warning)


def _this_shard(config: AccountsConfig, args: argparse.Namespace) -> AccountsConfig:
    """The account sources this exporter polls: all of them, or under --collect.shard K/N only
    on shard 1, so that N exporters poll each Smart Account once and export its series once."""
    if args.shard is None or args.shard[0] == 1 or not config.sources:
        return config
    log.info("account sources are polled by shard 1 of %d, not by this one (%d/%d)", args.shard[1], *args.shard)
    return replace(config, sources=())


def _log_thread_death(hook: threading.ExceptHookArgs) -> None:
    """A thread's uncaught exception as one escaped log record, not a raw traceback on stderr
    (its message may carry a device's or a file's words)."""
    if hook.exc_type is not SystemExit and hook.exc_value is not None:
        thread = hook.thread.name if hook.thread is not None else "a thread"
        log.error("%s ended by an unexpected error", thread,
                  exc_info=(hook.exc_type, hook.exc_value, hook.exc_traceback))


def _run(server: MetricsServer, watcher: FolderWatcher, listen: str, web: WebConfig,
         collection: CollectLoop | None, accounts: AccountsLoop | None, reload: Reloader) -> int:
    threading.excepthook = _log_thread_death
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.request("SIGHUP"))  # never waits: one reload thread
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    scheme = "https" if web.tls is not None else "http"
    log.info("listening on %s (%s%s)", listen, scheme, ", basic auth" if web.users else "")
    # The loops first, then the scan: once /-/ready answers 200, every thread the daemon keeps
    # for its life is running (what a reload or a storm of them adds is counted against that).
    if collection is not None:
        collection.start()
    if accounts is not None:
        accounts.start()
    starting = threading.Thread(target=watcher.start, name="initial-scan", daemon=True)
    starting.start()
    while not stop.wait(1.0):  # a timeout: a signal taken by another thread is seen within it
        pass
    log.info("stopping")
    _exit_at(time_limit=STOP_DEADLINE_SECONDS)
    collection_stopped = collection.stop() if collection is not None else True
    accounts_stopped = accounts.stop() if accounts is not None else True
    server.shutdown()
    server.server_close()
    if starting.is_alive() or reload.busy() or not collection_stopped or not accounts_stopped:
        # Stopped during the initial scan, a reload (a 20,000-target configuration takes
        # seconds) or sessions that do not end: do not wait for them, nor let the interpreter
        # wait for their worker threads at exit. Everything they write is written atomically.
        logging.shutdown()
        _end_workers()
        os._exit(EXIT_OK)
    watcher.stop()
    return EXIT_OK


def _end_workers() -> None:
    """Before exiting without waiting: end the scan's worker processes. Forked, each holds the
    write end of its own task queue, so once this process is gone it would wait for a task for
    ever; they hold nothing but work in progress (and SIGTERM would only run the handler they
    inherited), so they are killed."""
    for worker in multiprocessing.active_children():
        worker.kill()


def _exit_at(time_limit: float) -> None:
    """The last word on stopping: whatever still holds the stop up `time_limit` seconds after
    the signal (a session, a poll or a scan that does not let go), the process exits then."""
    def expire() -> None:
        # Logged from a thread of its own: should the hold-up be a lock the log needs, the
        # exit still comes (a second later, without the line).
        note = threading.Thread(target=log.warning, daemon=True, args=(
            "still stopping %.0f s after the signal: exiting without waiting for the rest", time_limit))
        note.start()
        note.join(1.0)
        _end_workers()
        os._exit(EXIT_OK)

    timer = threading.Timer(time_limit, expire)
    timer.daemon = True
    timer.start()


def _reload(collection: CollectLoop | None, accounts: AccountsLoop | None, args: argparse.Namespace) -> str | None:
    """Read --config.file again and apply it, the targets and the account sources together:
    None once done; else why not (logged), and the running configuration is kept whole."""
    from lic_exporter.accounts.loading import load_accounts
    from lic_exporter.accounts.settings import AccountsConfigError
    from lic_exporter.collect import ConfigError
    from lic_exporter.collect.command import configured

    problems: list[str] = []
    try:
        config = configured(args.config_file, args.collect_dir, shard=args.shard)
    except ConfigError as exc:
        problems.extend(exc.located(args.config_file))
    try:
        sources = load_accounts(args.config_file)  # its unknown sections: the collection says which
    except AccountsConfigError as exc:  # a file YAML cannot read: the collection said so already
        problems.extend(problem for problem in exc.located(args.config_file) if problem not in problems)
    if problems:
        located = "; ".join(problems)
        log.error("not reloaded, the running configuration is kept: %s", located)
        return located
    for warning in dict.fromkeys([*config.warnings, *sources.warnings]):
        log.warning("%s: %s", args.config_file, warning)
    if collection is not None:
        collection.reload(config)
    if accounts is not None and not accounts.reload(_this_shard(sources, args)):
        log.warning("account sources: the polling loop has not taken the new configuration yet; "
                    "the page shows it from its next change")
    return None
