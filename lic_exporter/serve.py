"""`lic-exporter serve`: start the daemon, run until SIGTERM or SIGINT, re-scan on SIGHUP."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .daemon import Exporter
from .options import EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, read_device_map
from .parse import Parser
from .server import MetricsServer, parse_address
from .webconfig import WebConfig, WebConfigError, load

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
    exporter = Exporter(args.watch, parser, args.syslog)
    try:
        server = MetricsServer(address, exporter, web)
    except OSError as exc:
        print(f"lic-exporter serve: cannot listen on {args.listen}: {exc.strerror}", file=sys.stderr)
        return EXIT_RUNTIME
    return _run(server, exporter, args.listen, web)


def _check(args: argparse.Namespace) -> str | None:
    if not args.watch and not args.syslog:
        return "nothing to do: give --watch DIR and/or --syslog PATH"
    for folder in args.watch:
        if not folder.is_dir():
            return f"--watch {folder}: no such folder"
    return None


def _run(server: MetricsServer, exporter: Exporter, listen: str, web: WebConfig) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=_rescan, args=(exporter,), daemon=True).start())
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    scheme = "https" if web.tls is not None else "http"
    log.info("listening on %s (%s%s)", listen, scheme, ", basic auth" if web.users else "")
    starting = threading.Thread(target=exporter.start, name="initial-scan", daemon=True)
    starting.start()
    stop.wait()
    log.info("stopping")
    server.shutdown()
    server.server_close()
    if starting.is_alive():  # stopped during the initial scan: do not wait for it to finish
        logging.shutdown()
        os._exit(EXIT_OK)
    exporter.stop()
    return EXIT_OK


def _rescan(exporter: Exporter) -> None:
    log.info("SIGHUP: watching the folders again and scanning every watched file")
    exporter.rewatch()
