"""Cardinality benchmark: syslog lines from many distinct hosts (anyone who can send syslog to
the collector can add hosts). Times, for N hosts:
  parse     `lic-exporter parse --format prometheus` of the log, in-process (parse + diagnose + page);
  assemble  the daemon's page assembly (ExporterState.render: diagnose over every device + exposition)
            with those hosts in the follower's totals, best of 3.
Assembly must stay under 1 s at 10,000 and 20,000 hosts and grow linearly.

    python -m bench.cardinality_bench [--hosts 5000 10000 20000]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from lic_exporter.cli.main import main as cli_main
from lic_exporter.daemon.follower import SyslogFollower
from lic_exporter.daemon.state import ExporterState
from lic_exporter.daemon.watcher import FolderWatcher
from lic_exporter.parsing.files import Parser

LINE = ("<187>leaf{n:05d}: 2026 Nov 20 10:00:{s:02d} UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications "
        "failure with the Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname/domain name\n")


def write_log(path: Path, hosts: int) -> None:
    with open(path, "w") as handle:
        for n in range(hosts):
            handle.write(LINE.format(n=n, s=n % 60))


def time_parse(path: Path) -> float:
    start = time.perf_counter()
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        cli_main(["parse", "--format", "prometheus", "--jobs", "1", str(path)])
    return time.perf_counter() - start


def time_assembly(folder: Path, path: Path) -> tuple[float, int]:
    parser = Parser(jobs=1)
    follower = SyslogFollower([str(path)], parser.syslog_lines)
    state = ExporterState(parser.syslog_lines.know, syslog_totals=follower.snapshot)
    watcher = FolderWatcher([folder / "empty"], parser, state, follower=follower)
    watcher.start()
    try:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            state.render()
            best = min(best, time.perf_counter() - start)
        return best, state.page().text.count(b"cisco_smartlic_callhome_failures_total{")
    finally:
        watcher.stop()


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--hosts", type=int, nargs="+", default=[5000, 10000, 20000])
    args = options.parse_args()
    print(f"{'hosts':>8} {'parse s':>9} {'assemble s':>11} {'series':>8}")
    slow = False
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "empty").mkdir()
        for hosts in args.hosts:
            log = folder / f"collector-{hosts}.log"
            write_log(log, hosts)
            parse_s = time_parse(log)
            assemble_s, series = time_assembly(folder, log)
            slow |= assemble_s >= 1.0
            print(f"{hosts:>8,} {parse_s:>9.2f} {assemble_s:>11.3f} {series:>8,}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
