"""Daemon benchmark: 10,000 devices in one watched folder.

Generates one folder per device with `show license status` and `show license usage`, starts
`lic-exporter serve` on it, and prints:
  * seconds from start until /metrics carries every device (target: within 30 s);
  * the time of a scrape as Prometheus makes it (Accept-Encoding: gzip), median of 20, against
    prometheus_client's plain generate_latest over the same series (target: at most half);
  * the daemon's resident memory, now and at its peak (target: at most 400 MB).

    python -m bench.daemon_bench [--devices 10000]
"""

from __future__ import annotations

import argparse
import gzip
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.parse_bench import status_text

USAGE = """
License Authorization:
  Status: AUTHORIZED on Nov 20 09:13:02 2026 UTC

LAN_ENTERPRISE_SERVICES_PKG (LAN_ENTERPRISE_SERVICES_PKG):
  Description: LAN license for Nexus 9300-XF
  Count: 1
  Version: 1.0
  Status: AUTHORIZED
  Export status: NOT RESTRICTED

NXOS_ADVANTAGE_XF (NXOS_ADVANTAGE_XF):
  Description: Nexus 9300-XF Advantage
  Count: 2
  Version: 1.0
  Status: {state}
  Export status: NOT RESTRICTED
"""


def generate(root: Path, devices: int) -> None:
    rng = random.Random(20261128)
    for index in range(devices):
        folder = root / f"n9k-{index:05d}"
        folder.mkdir()
        (folder / "show_license_status.txt").write_text(status_text(rng, index))
        state = rng.choice(["AUTHORIZED", "OUT OF COMPLIANCE"])
        (folder / "show_license_usage.txt").write_text(USAGE.format(state=state))


def scrape(url: str) -> tuple[float, bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
    return time.perf_counter() - start, body


def memory_mb(pid: int) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


def baseline(page: str) -> float:
    """prometheus_client's generate_latest over the same series as the page, in this process."""
    from prometheus_client.exposition import generate_latest

    from tests.support.pages import prometheus_client_registry

    registry = prometheus_client_registry(page)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        generate_latest(registry)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=19311)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lic-daemon-bench-"))
    try:
        generate(root, args.devices)
        url = f"http://127.0.0.1:{args.port}/metrics"
        start = time.perf_counter()
        daemon = subprocess.Popen([sys.executable, "-m", "lic_exporter", "serve", "--watch", str(root),
                                   "--web.listen-address", f"127.0.0.1:{args.port}", "--log.level", "warn"])
        exported = _wait_exported(url, args.devices, start)
        times = []
        for _ in range(20):
            elapsed, body = scrape(url)
            times.append(elapsed)
        series = sum(1 for line in gzip.decompress(body).splitlines() if line and not line.startswith(b"#"))
        rss, peak = memory_mb(daemon.pid)
        daemon.terminate()
        daemon.wait(30)
        reference = baseline(gzip.decompress(body).decode())
    finally:
        shutil.rmtree(root)
    scrape_s = statistics.median(times)
    print(f"devices: {args.devices:,} ({2 * args.devices:,} files), series on the page: {series:,}")
    print(f"all devices exported {exported:.1f} s after start (target <= 30 s)")
    print(f"scrape with gzip, median of 20: {scrape_s * 1000:.1f} ms; prometheus_client generate_latest over the "
          f"same series: {reference * 1000:.0f} ms; ratio {scrape_s / reference:.3f} (target <= 0.5)")
    print(f"daemon resident memory: {rss} MB now, {peak} MB at its peak (target <= 400 MB)")


def _wait_exported(url: str, devices: int, start: float) -> float:
    while True:
        try:
            _, body = scrape(url)
            text = gzip.decompress(body)
            if text.count(b"cisco_smartlic_info{") >= devices:
                return time.perf_counter() - start
        except OSError:
            pass
        if time.perf_counter() - start > 120:
            raise SystemExit("not all devices exported within 120 s")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
