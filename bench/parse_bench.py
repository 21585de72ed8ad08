"""Parse benchmark: `lic-exporter parse --format json` against bare TextFSM on the same files.

Generates N classic `show license status` files (NX-OS 9.3 layout, states and dates varied),
then times, each as a fresh process so Python start-up counts on both sides:
  baseline  one compiled TextFSM (../shared/bench/bare_status.textfsm) with Reset() per file;
  ours      lic-exporter parse --format json DIR (output to /dev/null).
Prints files per second for both and the ratios of docs/performance.md's table, each against
the baseline of the same run: `--jobs 1` (target <= 1.5x) and the default jobs (target <= 1.0x).

    python -m bench.parse_bench [--files 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import compiled_as_installed

HERE = Path(__file__).resolve().parent
DEFAULT_BASELINE = HERE.parent.parent / "shared" / "bench" / "bare_status.textfsm"
STAMP = "%b %d %H:%M:%S %Y UTC"
TARGET_ONE_JOB, TARGET_DEFAULT_JOBS = 1.5, 1.0  # times the bare baseline of the same run

_BASELINE = """
import sys, textfsm
from pathlib import Path
with open(sys.argv[1]) as handle:
    fsm = textfsm.TextFSM(handle)
rows = 0
for path in sorted(Path(sys.argv[2]).iterdir()):
    fsm.Reset()
    rows += len(fsm.ParseText(path.read_text()))
print(rows)
"""


def status_text(rng: random.Random, index: int) -> str:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 500_000))
    auth = rng.choice(["AUTHORIZED", "AUTHORIZED", "AUTHORIZED", "OUT OF COMPLIANCE", "AUTHORIZATION EXPIRED"])
    failed = rng.random() < 0.1
    when = f"{start + timedelta(days=30):{STAMP}}"
    reason = "\n    Failure reason: Fail to send out Call Home HTTP message."
    comm = f"FAILED on {when}{reason}" if failed else f"SUCCEEDED on {when}"
    return f"""
Smart Licensing is ENABLED

Registration:
  Status: REGISTERED
  Smart Account: Bench Account {index % 17}
  Virtual Account: VA-{index % 5}
  Export-Controlled Functionality: Allowed
  Initial Registration: SUCCEEDED on {start:{STAMP}}
  Last Renewal Attempt: None
  Next Renewal Attempt: {start + timedelta(days=180):{STAMP}}
  Registration Expires: {start + timedelta(days=365):{STAMP}}

License Authorization:
  Status: {auth} on {start:{STAMP}}
  Last Communication Attempt: {comm}
  Next Communication Attempt: {start + timedelta(days=60):{STAMP}}
  Communication Deadline: {start + timedelta(days=120):{STAMP}}

Smart License Conversion:
  Automatic Conversion Enabled: False
  Status: Not started
"""


def generate(folder: Path, count: int) -> None:
    rng = random.Random(20261128)
    for index in range(count):
        (folder / f"n9k-{index:05d}.txt").write_text(status_text(rng, index))


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and the child's peak RSS (MB) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({done.returncode}): {done.stderr[:500]}")
    return elapsed, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the best is reported")
    parser.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
    args = parser.parse_args()
    compiled_as_installed()
    if not args.baseline.is_file():
        raise SystemExit(f"baseline template not found: {args.baseline}")
    folder = Path(tempfile.mkdtemp(prefix="lic-bench-"))
    try:
        generate(folder, args.files)
        base = [sys.executable, "-c", _BASELINE, str(args.baseline), str(folder)]
        ours = [sys.executable, "-m", "lic_exporter", "parse", "--format", "json", str(folder)]
        base_runs = [timed(base) for _ in range(args.repeat)]
        our_runs = [timed(ours) for _ in range(args.repeat)]
        single_runs = [timed([*ours, "--jobs", "1"]) for _ in range(args.repeat)]
    finally:
        shutil.rmtree(folder)
    base_s, our_s = min(t for t, _ in base_runs), min(t for t, _ in our_runs)
    single_s = min(t for t, _ in single_runs)
    print(f"files: {args.files} classic show license status outputs, best of {args.repeat}, {os.cpu_count()} CPUs")
    print(f"bare TextFSM ({args.baseline.name}), one process: {base_s:.2f} s  {args.files / base_s:,.0f} files/s")
    print(f"lic-exporter parse --format json --jobs 1:      {single_s:.2f} s  {args.files / single_s:,.0f} files/s"
          f"  ratio {single_s / base_s:.2f}x (target <= {TARGET_ONE_JOB}x)")
    print(f"lic-exporter parse --format json (default jobs): {our_s:.2f} s  {args.files / our_s:,.0f} files/s"
          f"  ratio {our_s / base_s:.2f}x (target <= {TARGET_DEFAULT_JOBS}x)")
    print(f"peak RSS of one child: {max(m for _, m in base_runs + our_runs + single_runs)} MB")


if __name__ == "__main__":
    main()
