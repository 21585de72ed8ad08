"""JSON memory benchmark: `lic-exporter parse --format json` on a large syslog file made only
of licensing lines (the worst case: every line is a record), as a child process. Prints the
file size, records written, wall time and the child's peak RSS. The document is written as
the records come, so the peak must not grow with the file (try --megabytes 240).

    python -m bench.json_memory_bench [--megabytes 120]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINE = ("2026 Nov {d:02d} 10:{m:02d}:{s:02d} n9k-leaf-{n:03d} %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications "
        "failure with the Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname/domain name\n")


def write_log(path: Path, megabytes: int) -> None:
    target = megabytes << 20
    block = "".join(LINE.format(d=1 + n % 28, m=n % 60, s=(n * 7) % 60, n=n % 200) for n in range(10_000))
    with open(path, "w") as handle:
        written = 0
        while written < target:
            handle.write(block)
            written += len(block)


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--megabytes", type=int, default=120)
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "collector.log"
        write_log(log, args.megabytes)
        document = Path(folder) / "out.json"
        start = time.perf_counter()
        with open(document, "wb") as sink:
            out = subprocess.run([sys.executable, "-m", "lic_exporter", "parse", "--format", "json", "--jobs", "1",
                                  str(log)], stdout=sink, stderr=subprocess.DEVNULL, check=False)
        seconds = time.perf_counter() - start
        with open(document, "rb") as result:
            records = sum(line.count(b'"kind":"syslog"') for line in result)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"file {log.stat().st_size / 2**20:.0f} MB, {records:,} records, exit {out.returncode}, "
              f"{seconds:.1f} s, peak RSS {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
