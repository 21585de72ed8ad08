"""Scale benchmark: one daemon for a fleet of N devices (10,000 and 100,000 by default).

For each N, builds N devices (one classic `show license status` each, bench.parse_bench's text;
one folder per device as the daemon benchmark lays them out, or one file per device in one
folder with `--layout files`), starts `lic-exporter serve --watch` on them and prints:
  * ready: seconds from start until /metrics carries every device's series;
  * peak and steady memory, proportional (PSS from /proc/PID/smaps_rollup, the daemon and its
    worker processes together), sampled every 50 ms from start; steady is taken after the
    scrapes, once the daemon has been idle for --idle seconds;
  * a scrape as Prometheus makes it (Accept-Encoding: gzip), median of 20.

With `--baseline REV` every N runs first on the package as it was at that revision (a git
worktree of it, run with this environment's dependencies), then on this checkout, over the
same files: the same-run baseline. Targets at 100,000 devices: ready <= 20 s, peak PSS <= 400 MB,
/metrics median <= 10 ms.

    python -m bench.scale_bench [--devices 10000 100000] [--layout folders|files] [--baseline REV]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.parse_bench import status_text
from tests.support.daemon import free_port
from tests.support.paths import PROJECT

READY_LIMIT_SECONDS = 600.0
TARGETS = {"ready_s": 20.0, "peak_mb": 400.0, "scrape_ms": 10.0}


def generate(root: Path, devices: int, layout: str) -> None:
    rng = random.Random(20261128)
    for index in range(devices):
        text = status_text(rng, index)
        if layout == "folders":
            folder = root / f"n9k-{index:06d}"
            folder.mkdir()
            (folder / "show_license_status.txt").write_text(text)
        else:
            (root / f"n9k-{index:06d}_show_license_status.txt").write_text(text)


def family_tree(pid: int) -> list[int]:
    """The process and its descendants (the scan's worker processes)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def pss_mb(pid: int) -> float:
    """Proportional set size of the process and its children, MB: shared pages count once."""
    total_kb = 0
    for member in family_tree(pid):
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            continue  # a worker that just exited
    return total_kb / 1024


class MemorySampler(threading.Thread):
    """Samples the daemon's PSS every 50 ms, keeping the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, pss_mb(self.pid))


def fetch(url: str, gzip: bool = True) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip else {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


@dataclass
class Figures:
    devices: int
    ready_s: float
    peak_mb: float
    steady_mb: float
    scrape_ms: float
    page_mb: float
    gzip_mb: float


def measure(root: Path, devices: int, checkout: Path | None, idle: float) -> Figures:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    begun = time.perf_counter()
    daemon = subprocess.Popen(  # `-m` looks in the working folder first: the baseline's checkout
        [sys.executable, "-m", "lic_exporter", "serve", "--watch", str(root), "--web.listen-address",
         f"127.0.0.1:{port}", "--log.level", "warn"], cwd=checkout, stdout=subprocess.DEVNULL)
    sampler = MemorySampler(daemon.pid)
    sampler.start()
    try:
        ready_s = _wait_exported(base, devices, begun, daemon)
        times = []
        for _ in range(20):
            started = time.perf_counter()
            status, body = fetch(base + "/metrics")
            times.append(time.perf_counter() - started)
            assert status == 200, status
        _, plain = fetch(base + "/metrics", gzip=False)
        time.sleep(idle)
        steady = pss_mb(daemon.pid)
    finally:
        sampler.done.set()
        sampler.join()
        daemon.terminate()
        daemon.wait(60)
    return Figures(devices, ready_s, max(sampler.peak, steady), steady, statistics.median(times) * 1000,
                   len(plain) / 1e6, len(body) / 1e6)


def _wait_exported(base: str, devices: int, begun: float, daemon: subprocess.Popen[bytes]) -> float:
    """Seconds from `begun` until /metrics has every device's info series. Polls /-/ready (cheap)
    and looks at the page only once ready: before, /metrics has no devices."""
    while time.perf_counter() - begun < READY_LIMIT_SECONDS:
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited with {daemon.returncode}")
        try:
            if fetch(base + "/-/ready")[0] == 200:
                ready = time.perf_counter() - begun  # not counting the page's own transfer below
                status, body = fetch(base + "/metrics", gzip=False)
                if status == 200 and body.count(b"\ncisco_smartlic_info{") >= devices:
                    return ready
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"not all {devices:,} devices exported within {READY_LIMIT_SECONDS:.0f} s")


def report(label: str, figures: Figures) -> None:
    def mark(key: str, value: float) -> str:
        return "" if figures.devices < 100_000 else (" ok" if value <= TARGETS[key] else " MISSED")

    print(f"{label:>10} {figures.devices:>8,}: ready {figures.ready_s:6.1f} s{mark('ready_s', figures.ready_s)}, "
          f"PSS peak {figures.peak_mb:6.0f} MB{mark('peak_mb', figures.peak_mb)}, steady {figures.steady_mb:6.0f} MB, "
          f"/metrics gzip median {figures.scrape_ms:5.1f} ms{mark('scrape_ms', figures.scrape_ms)} "
          f"(page {figures.page_mb:.1f} MB, gzip {figures.gzip_mb:.1f} MB)", flush=True)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--devices", type=int, nargs="+", default=[10_000, 100_000])
    options.add_argument("--layout", choices=["folders", "files"], default="folders",
                         help="one folder per device (default) or one file per device in one folder")
    options.add_argument("--baseline", metavar="REV", help="also run the package as of this git revision")
    options.add_argument("--idle", type=float, default=5.0, help="seconds idle before the steady PSS")
    args = options.parse_args(argv)
    print(f"targets at 100,000 devices: ready <= {TARGETS['ready_s']:.0f} s, peak PSS <= {TARGETS['peak_mb']:.0f} MB, "
          f"/metrics median <= {TARGETS['scrape_ms']:.0f} ms; layout: {args.layout}", flush=True)
    with tempfile.TemporaryDirectory(prefix="lic-scale-bench-") as folder:
        worktree = Path(folder) / "baseline"
        if args.baseline:
            subprocess.run(["git", "-C", str(PROJECT), "worktree", "add", "--detach", "--quiet", str(worktree),
                            args.baseline], check=True)
        try:
            for devices in args.devices:
                root = Path(folder) / f"fleet-{devices}"
                root.mkdir()
                generate(root, devices, args.layout)
                if args.baseline:
                    report(args.baseline[:10], measure(root, devices, worktree, args.idle))
                report("this tree", measure(root, devices, None, args.idle))
                shutil.rmtree(root)
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(worktree)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
