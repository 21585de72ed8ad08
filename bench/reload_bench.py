"""Reload benchmark: a storm of SIGHUPs against a daemon collecting a large configuration, and the
collection limits across reconfigures.

Part 1 starts `lic-exporter serve --config.file` with 20,000 targets (nothing listens on their
port: each collection is refused at once, at the configured login rate), then sends 50 SIGHUPs
within about 5 s, rewriting the file before each (one more target each time), while a scraper
reads /metrics. It prints the daemon's RSS and threads before, at the peak and after; scrape
latency during the storm; how many reloads answered the signals; the time from the last
signal until the last file is applied; and how long SIGTERM takes, idle and during a reload.

Part 2 collects from test switches (asyncssh, each command answered after 0.2 s) with
`concurrency: 4` and `logins_per_second: 3`, while SIGHUPs add targets every second; it prints
the most sessions at once and the most logins in any one second, counted at the switches.

With `--baseline REV` both parts run first on the package as it was at that revision (a git
worktree of it, run with this environment's dependencies), then on this checkout: the same-run
baseline. A baseline that does not apply the last file within --wait seconds is reported so.

    python -m bench.reload_bench [--targets 20000] [--signals 50] [--switches 24] [--baseline REV]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.daemon import free_port, series, wait_for
from tests.support.paths import PROJECT
from tests.support.switches import SwitchFarm
from tests.test_reload_storm import (
    PASSWORD,
    CountingSwitch,
    ServeProcess,
    SessionCounter,
    configuration,
    reloaded_counts,
    replace_file,
)


def megabytes(daemon: ServeProcess, field: str) -> float:
    return daemon.proc_status(field) / 1024


class Scraper(threading.Thread):
    """Scrapes /metrics back to back, noting how long each scrape took."""

    def __init__(self, daemon: ServeProcess):
        super().__init__(daemon=True)
        self.daemon_process = daemon
        self.seconds: list[float] = []
        self.failed = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            begun = time.perf_counter()
            try:
                status, _ = self.daemon_process.get("/metrics")
                self.seconds.append(time.perf_counter() - begun)
                self.failed += status != 200
            except OSError:
                self.failed += 1
            time.sleep(0.1)


def stop_seconds(daemon: ServeProcess) -> float:
    begun = time.perf_counter()
    code = daemon.stop(bound=120)
    assert code == 0, code
    return time.perf_counter() - begun


def within(seconds: float, done: Callable[[], bool]) -> bool:
    """Whether `done()` holds within `seconds` (a baseline may never get there)."""
    try:
        wait_for(done, timeout=seconds)
    except AssertionError:
        return False
    return True


def storm(root: Path, targets: int, signals: int, checkout: Path | None, wait: float) -> None:
    nowhere = free_port()
    config = root / "collect.yaml"

    def fleet(count: int) -> str:
        return configuration({f"sw{n:05d}": nowhere for n in range(count)}, logins_per_second=2)

    replace_file(config, fleet(targets))
    begun = time.perf_counter()
    daemon = ServeProcess(root, "--config.file", str(config), "--collect.dir", str(root / "out"), checkout=checkout)
    wait_for(daemon.ready, timeout=300)
    print(f"start with {targets:,} targets: ready in {time.perf_counter() - begun:.1f} s")
    rss_before, threads_before = megabytes(daemon, "VmRSS"), daemon.proc_status("Threads")
    scraper = Scraper(daemon)
    scraper.start()
    most_threads = threads_before
    storm_begun = time.perf_counter()
    for number in range(1, signals + 1):
        replace_file(config, fleet(targets + number))
        daemon.process.send_signal(signal.SIGHUP)
        most_threads = max(most_threads, daemon.proc_status("Threads"))
        time.sleep(0.1)
    last_signal = time.perf_counter()
    final = targets + signals

    def applied() -> bool:
        nonlocal most_threads
        most_threads = max(most_threads, daemon.proc_status("Threads"))
        return final in reloaded_counts(daemon)

    applied_in_time = within(wait, applied)
    applied_after = time.perf_counter() - last_signal
    if applied_in_time:
        within(60, lambda: len(series(daemon.samples(), "lic_exporter_collect_next_timestamp_seconds")) == final)
    scraper.done.set()
    scraper.join()
    rss_after, rss_peak = megabytes(daemon, "VmRSS"), megabytes(daemon, "VmHWM")
    reloads = [r for r in daemon.records() if r.get("msg", "").startswith("SIGHUP: reloading")]
    counts = reloaded_counts(daemon)
    if all("requests" in record for record in reloads):
        requests = sum(int(record["requests"]) for record in reloads)
        heard = f"{requests} requests reached the daemon (signals that arrive together are one), "
    else:  # a revision from before the reload thread does not say
        heard = ""
    print(f"{signals} SIGHUPs in {last_signal - storm_begun:.1f} s: {heard}{len(counts)} reloads of the collection "
          "configuration finished")
    if applied_in_time:
        print(f"  last file applied {applied_after:.1f} s after the last signal ({counts[-1]:,} targets)")
    else:
        print(f"  last file NOT applied within {wait:.0f} s of the last signal "
              f"(last applied: {counts[-1] if counts else 'none'})")
    print(f"  RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after, peak {rss_peak:.0f} MB; "
          f"threads {threads_before} before, at most {most_threads}")
    if scraper.seconds:
        ordered = sorted(scraper.seconds)
        median = statistics.median(ordered) * 1000
        print(f"  /metrics during the storm: {len(ordered)} scrapes, median {median:.0f} ms, "
              f"p95 {ordered[int(len(ordered) * 0.95)] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms, "
              f"{scraper.failed} failed")
    print(f"  SIGTERM {'when idle' if applied_in_time else 'with reloads still running'}: "
          f"exited in {stop_seconds(daemon):.2f} s")

    replace_file(config, fleet(targets))
    daemon = ServeProcess(root, "--config.file", str(config), "--collect.dir", str(root / "out2"), checkout=checkout)
    wait_for(daemon.ready, timeout=300)
    replace_file(config, fleet(targets + 1))
    daemon.process.send_signal(signal.SIGHUP)
    time.sleep(0.5)  # well inside reading the file (about 2 s for this many targets)
    print(f"  SIGTERM during a reload of {targets + 1:,} targets: exited in {stop_seconds(daemon):.2f} s")


def limits(root: Path, switches: int, checkout: Path | None) -> None:
    counter = SessionCounter()
    settings = {"concurrency": 4, "logins_per_second": 3}
    with SwitchFarm() as farm:
        ports = [CountingSwitch(farm, counter, password=PASSWORD, reply_delay=0.2).start().port
                 for _ in range(switches)]
        names = {f"sw{n:03d}": port for n, port in enumerate(ports)}
        config = root / "limits.yaml"
        first = max(switches // 3, 1)
        replace_file(config, configuration(dict(list(names.items())[:first]), **settings))
        daemon = ServeProcess(root, "--config.file", str(config), "--collect.dir", str(root / "limits-out"),
                              checkout=checkout)
        try:
            wait_for(daemon.ready, timeout=60)
            begun = time.monotonic()
            reloads = 0
            for count in range(first + 4, switches + 4, 4):
                time.sleep(1.0)
                replace_file(config, configuration(dict(list(names.items())[:min(count, switches)]), **settings))
                daemon.process.send_signal(signal.SIGHUP)
                reloads += 1

            def collected() -> bool:
                ok = series(daemon.samples(), "lic_exporter_collect_success")
                return len(ok) == switches and all(value == 1.0 for value in ok)

            wait_for(collected, timeout=600)
            seconds = time.monotonic() - begun
        finally:
            daemon.stop()
    span = max(counter.begun) - min(counter.begun) if counter.begun else 0.0
    print(f"{switches} switches, {first} targets at the start and {reloads} SIGHUPs adding 4 each, one a second:")
    print(f"  {len(counter.begun)} sessions in {seconds:.1f} s; at most {counter.most} at once "
          f"(concurrency {settings['concurrency']}); at most {counter.most_in_one_second()} logins in one second "
          f"(logins_per_second {settings['logins_per_second']}); "
          f"{(len(counter.begun) - 1) / span if span else 0:.2f} logins/s overall")


def run(root: Path, args: argparse.Namespace, checkout: Path | None) -> None:
    root.mkdir()
    storm(root, args.targets, args.signals, checkout, args.wait)
    limits(root, args.switches, checkout)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--targets", type=int, default=20_000)
    options.add_argument("--signals", type=int, default=50)
    options.add_argument("--switches", type=int, default=24)
    options.add_argument("--baseline", metavar="REV", help="first run the package as of this git revision")
    options.add_argument("--wait", type=float, default=180.0, help="seconds to wait for the last file to apply")
    args = options.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reload-bench-") as folder:
        if args.baseline:
            worktree = Path(folder) / "baseline"
            subprocess.run(["git", "-C", str(PROJECT), "worktree", "add", "--detach", "--quiet", str(worktree),
                            args.baseline], check=True)
            try:
                print(f"== baseline: {args.baseline}")
                run(Path(folder) / "before", args, worktree)
            finally:
                subprocess.run(["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(worktree)], check=True)
            print("== this checkout")
        run(Path(folder) / "after", args, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
