"""Collection benchmark: 1,000 test switches (one listener each, in a child process, each
answering every command after 50 ms), collected by the real CollectionRunner with the default limits
raised to 64 sessions at once (and the login rate raised to match: at the default 2 logins a
second, 1,000 devices take 500 s by design).

Prints wall time, devices per second, CPU seconds per device on the client side and the
client's peak RSS. Target: all collected, 0 failures, at most 60 s, at most 300 MB.

    python -m bench.collect_bench [--switches 1000] [--concurrency 64] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from lic_exporter.collect.runner import CollectionRunner
from lic_exporter.collect.targets import CollectConfig, CollectSettings, Credential, Target

PASSWORD = "bench-password"


def serve(count: int, delay: float) -> None:
    """The child: a farm of `count` switches; prints their ports, runs until stdin closes."""
    from tests.support.switches import SwitchFarm

    with SwitchFarm() as farm:
        switches = farm.add_many(count, password=PASSWORD, reply_delay=delay)
        print(json.dumps([switch.port for switch in switches]), flush=True)
        sys.stdin.read()


def collect(ports: list[int], concurrency: int, folder: Path) -> tuple[float, int, list[str]]:
    credential = Credential(username="licmon", password=PASSWORD)
    targets = tuple(Target(name=f"sw{n:04d}", host="127.0.0.1", port=port, credential=credential,
                           known_hosts=folder / "known_hosts") for n, port in enumerate(ports))
    settings = replace(CollectSettings(), concurrency=concurrency, logins_per_second=1000.0)
    runner = CollectionRunner(CollectConfig(targets=targets, collect=settings, warnings=()), folder / "out")
    (folder / "out").mkdir()
    start = time.perf_counter()
    results = asyncio.run(runner.run_once())
    wall = time.perf_counter() - start
    failures = [f"{r.device}: {r.reason} {r.message}" for r in results if not r.ok]
    return wall, sum(r.ok for r in results), failures


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--switches", type=int, default=1000)
    options.add_argument("--concurrency", type=int, default=64)
    options.add_argument("--delay", type=float, default=0.05)
    options.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.serve:
        serve(args.switches, args.delay)
        return 0
    farm = subprocess.Popen([sys.executable, "-m", "bench.collect_bench", "--serve", "--switches", str(args.switches),
                             "--delay", str(args.delay)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ports = json.loads(farm.stdout.readline())
        with tempfile.TemporaryDirectory() as folder:
            before = resource.getrusage(resource.RUSAGE_SELF)
            wall, collected, failures = collect(ports, args.concurrency, Path(folder))
            after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        farm.stdin.close()
        farm.wait(timeout=60)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_mb = after.ru_maxrss / 1024
    print(f"switches {args.switches}, {args.concurrency} sessions at once, {args.delay * 1000:.0f} ms a command")
    print(f"collected {collected}, failed {len(failures)}, wall {wall:.1f} s, {collected / wall:.1f} devices/s, "
          f"client CPU {cpu / max(collected, 1) * 1000:.1f} ms/device, client peak RSS {peak_mb:.0f} MB")
    for failure in failures[:10]:
        print("  " + failure)
    ok = collected == args.switches and not failures and wall <= 60 and peak_mb <= 300
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
