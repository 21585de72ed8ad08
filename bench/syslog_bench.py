"""Syslog benchmark: `lic-exporter parse --format prometheus` on a large switch log against
`grep -cE` on the same file.

Generates a log of N lines (default 2,000,000) in the NX-OS `show logging logfile` and
on-the-wire layouts: 2% licensing failures (COMM_FAILED under several causes), the rest
ordinary switch messages. Prints both times (best of --repeat runs each), the ratio to grep's
time of the same run (target: within 4x with the default jobs), whether every failure was
counted, and the peak memory of the parse (target: under 100 MB, whatever the file size: run
with --lines 4000000 to see it stay flat).

    python -m bench.syslog_bench [--lines 2000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench import compiled_as_installed

NOISE = [
    "%ETHPORT-5-IF_UP: Interface Ethernet1/{p} is up in mode access",
    "%ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/{p} is down (Link failure)",
    "%AUTHPRIV-3-SYSTEM_MSG: pam_aaa:Authentication failed from 10.0.0.{p} - dcos_sshd[6531]",
    "%VSHD-5-VSHD_SYSLOG_CONFIG_I: Configured from vty by admin on 10.0.0.{p}@pts/0",
    "%STP-2-BLOCK_PVID_LOCAL: Blocking port-channel{p} on VLAN0092. Inconsistent local vlan.",
]
REASONS = [
    "Unable to resolve server hostname/domain name",
    "Fail to send out Call Home HTTP message.",
    "Error parsing response data from SCH server",
    "Cannot establish secure connection because server TLS cert cannot be validated",
]
FAILURE = ("%LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the Cisco Smart Software Manager "
           "(CSSM) : {reason}")
PATTERN = "LICMGR|SMART_LIC|CALL_?HOME"
TARGET_RATIO = 4.0  # default jobs, times grep -cE on the same file in the same run


def generate(path: Path, lines: int) -> int:
    rng = random.Random(20261128)
    failures = 0
    with open(path, "w") as handle:
        batch = []
        for i in range(lines):
            second, host = i % 60, f"n9k-leaf-{i % 97:02d}"
            if rng.random() < 0.02:
                body = FAILURE.format(reason=rng.choice(REASONS))
                failures += 1
            else:
                body = rng.choice(NOISE).format(p=i % 48 + 1)
            if i % 2:
                batch.append(f"2026 Nov 20 10:{i // 60 % 60:02d}:{second:02d} {host} {body}\n")
            else:
                batch.append(f"<187>{host}: 2026 Nov 20 10:{i // 60 % 60:02d}:{second:02d} UTC: {body}\n")
            if len(batch) == 10000:
                handle.write("".join(batch))
                batch.clear()
        handle.write("".join(batch))
    return failures


def timed(command: list[str]) -> tuple[float, str, int]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} failed: {done.stderr[:500]}")
    return elapsed, done.stdout, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024


def best(command: list[str], runs: int) -> tuple[float, str, int]:
    """The fastest of `runs` runs (its time and output), and the peak RSS so far."""
    results = [timed(command) for _ in range(max(runs, 1))]
    fastest = min(results, key=lambda result: result[0])
    return fastest[0], fastest[1], max(result[2] for result in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the best is reported")
    args = parser.parse_args()
    compiled_as_installed()
    with tempfile.TemporaryDirectory(prefix="lic-syslog-bench-") as folder:
        log = Path(folder) / "switches.log"
        expected = generate(log, args.lines)
        size_mb = log.stat().st_size / 1e6
        command = [sys.executable, "-m", "lic_exporter", "parse", "--format", "prometheus", str(log)]
        grep_s, grep_out, _ = best(["grep", "-cE", PATTERN, str(log)], args.repeat)
        ours_s, ours_out, peak_mb = best(command, args.repeat)
        single_s, single_out, _ = best([*command, "--jobs", "1"], args.repeat)
    assert single_out == ours_out, "one process and several must count the same"
    families = {f.name: f for f in text_string_to_metric_families(ours_out)}
    counted = sum(s.value for s in families["cisco_smartlic_callhome_failures"].samples)
    lines = families["lic_exporter_syslog_lines"].samples[0].value
    print(f"log: {args.lines:,} lines, {size_mb:.0f} MB, {expected:,} licensing failures")
    print(f"grep -cE '{PATTERN}': {grep_s:.2f} s ({int(grep_out):,} matching lines)")
    print(f"lic-exporter parse --format prometheus ({os.cpu_count()} CPUs): {ours_s:.2f} s"
          f"  {args.lines / ours_s:,.0f} lines/s  ratio {ours_s / grep_s:.1f}x (target <= {TARGET_RATIO:.0f}x)")
    print(f"  --jobs 1 (one process): {single_s:.2f} s  ratio {single_s / grep_s:.1f}x")
    print(f"failures counted: {counted:,.0f} of {expected:,} ({'all' if counted == expected else 'MISSING SOME'});"
          f" lines counted: {lines:,.0f}")
    print(f"peak RSS of the parse: {peak_mb} MB (target < 100 MB)")


if __name__ == "__main__":
    main()
