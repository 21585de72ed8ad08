"""`lic-exporter serve`: start the daemon (and, with --config.file, the collection), run until
SIGTERM or SIGINT, re-scan (and re-read the collection's configuration) on SIGHUP."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from lic_exporter.cli.options import EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, read_device_map
from lic_exporter.daemon.http import MetricsServer, parse_address
from lic_exporter.daemon.state import Exporter
from lic_exporter.daemon.webconfig import WebConfig, WebConfigError, load
from lic_exporter.parsing.files import Parser

log = logging.getLogger("lic_exporter")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='ts=%(asctime)s level=%(levelname)s logger=%(name)s msg="%(message)s"')
    logging.getLogger("lic_exporter").setLevel(_LEVELS[args.log_level])  # not watchdog's own debug flood
    problem = _check(args)
    if problem:
        print(f"lic-exporter serve: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        web = load(args.web_config) if args.web_config else WebConfig()
        device_map = read_device_map(args.device_map) if args.device_map else None
        address = parse_address(args.listen)
    except (WebConfigError, OSError, ValueError) as exc:
        print(f"lic-exporter serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser = Parser(zones=dict(args.tz) or None, device_map=device_map, jobs=args.jobs,
                    syslog_max_devices=args.syslog_max_devices, syslog_known_only=args.syslog_known_only)
    collection = _collection(args)
    if isinstance(collection, int):
        return collection
    exporter = Exporter(args.watch + ([args.collect_dir] if collection else []), parser, args.syslog)
    if collection is not None:
        collection.collector.on_result = lambda result: exporter.refresh()
        exporter.collect_status = collection.statuses
    try:
        server = MetricsServer(address, exporter, web)
    except OSError as exc:
        print(f"lic-exporter serve: cannot listen on {args.listen}: {exc.strerror}", file=sys.stderr)
        return EXIT_RUNTIME
    return _run(server, exporter, args.listen, web, collection, args)


def _collection(args: argparse.Namespace):
    """The collection loop for --config.file (not started yet), None without it, or an exit
    code for a configuration that cannot be used (every problem listed)."""
    if args.config_file is None:
        return None
    from lic_exporter.collect import CollectLoop, ConfigError
    from lic_exporter.collect.run import configured

    try:
        config = configured(args.config_file, args.collect_dir, shard=args.shard)
        args.collect_dir.mkdir(parents=True, exist_ok=True)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"lic-exporter serve: {args.config_file}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"lic-exporter serve: --collect.dir {args.collect_dir}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    for warning in config.warnings:
        log.warning("%s: %s", args.config_file, warning)
    return CollectLoop(config, args.collect_dir)


def _check(args: argparse.Namespace) -> str | None:
    if not args.watch and not args.syslog and not args.config_file:
        return "nothing to do: give --watch DIR, --syslog PATH and/or --config.file FILE --collect.dir DIR"
    if (args.config_file is None) != (args.collect_dir is None):
        return "--config.file and --collect.dir go together"
    for folder in args.watch:
        if not folder.is_dir():
            return f"--watch {folder}: no such folder"
    return None


def _run(server: MetricsServer, exporter: Exporter, listen: str, web: WebConfig, collection,
         args: argparse.Namespace) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=_rescan, args=(exporter, collection, args),
                                                             daemon=True).start())
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    scheme = "https" if web.tls is not None else "http"
    log.info("listening on %s (%s%s)", listen, scheme, ", basic auth" if web.users else "")
    starting = threading.Thread(target=exporter.start, name="initial-scan", daemon=True)
    starting.start()
    if collection is not None:
        collection.start()
    stop.wait()
    log.info("stopping")
    if collection is not None:
        collection.stop()
    server.shutdown()
    server.server_close()
    if starting.is_alive():  # stopped during the initial scan: do not wait for it to finish
        logging.shutdown()
        os._exit(EXIT_OK)
    exporter.stop()
    return EXIT_OK


def _rescan(exporter: Exporter, collection, args: argparse.Namespace) -> None:
    log.info("SIGHUP: watching the folders again and scanning every watched file")
    if collection is not None:
        _reload(collection, args)
    exporter.rewatch()


def _reload(collection, args: argparse.Namespace) -> None:
    """A broken new configuration is logged and the old one kept."""
    from lic_exporter.collect import ConfigError
    from lic_exporter.collect.run import configured

    try:
        config = configured(args.config_file, args.collect_dir, shard=args.shard)
    except ConfigError as exc:
        log.error("%s: not reloaded, the running configuration is kept: %s", args.config_file,
                  "; ".join(exc.problems))
        return
    for warning in config.warnings:
        log.warning("%s: %s", args.config_file, warning)
    collection.reload(config)
