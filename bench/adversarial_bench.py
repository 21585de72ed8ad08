"""Adversarial benchmark: small crafted files that once took quadratic time.

Each case is built at its base size and at double that size, parsed in-process by the same
Parser the daemon uses (best of 3), and the figures printed: seconds at 1x and 2x and their
ratio. Linear time doubles at most about 2.5x; every case must stay under a second at 1x.

    python -m bench.adversarial_bench [--repeat 3]

Exit 1 when a case breaks either bound (so CI could run it; it is a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lic_exporter.parsing.files import Parser

STATUS_HEAD = ("Smart Licensing is ENABLED\n\nRegistration:\n  Status: UNREGISTERED\n\n"
               "License Authorization:\n")
SYSLOG_LINE = "2026 Nov 20 10:00:01 leaf01 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED:{gap}Communications failure{gap}x\n"


def eval_digits(size: int) -> str:
    """20 kB of digits after `Evaluation Period Remaining:`."""
    return STATUS_HEAD + "  Status: EVAL MODE\n  Evaluation Period Remaining: " + "7" * size + "\n"


def status_spaces(size: int) -> str:
    """A `Status:` line with 40k spaces."""
    return STATUS_HEAD + "  Status:" + " " * size + "EVAL MODE x\n  Evaluation Period Remaining: 3 days\n"


def hashes(size: int) -> str:
    """1 MB of `#` (prompt characters, on one line)."""
    return "#" * size + "\n"


def hashes_lines(size: int) -> str:
    """1 MB of `#` lines (prompt characters, 80 to a line)."""
    return ("#" * 79 + "\n") * (size // 80)


def escape_osc(size: int) -> str:
    """100 kB of `ESC ]` (unterminated terminal title sequences)."""
    return STATUS_HEAD + "\x1b]" * (size // 2) + "\n"


def syslog_whitespace(size: int) -> str:
    """Syslog lines with long whitespace runs (each line ~0.5 s once), `size` lines of 4 kB."""
    gap = " " * 2000
    return SYSLOG_LINE.format(gap=gap) * size


def value_gaps(size: int) -> str:
    """`size` status lines whose value holds a 400-space gap (lazy `.*?` then `\\s*$` once was
    quadratic in the gap, on every line)."""
    return STATUS_HEAD + ("  Status: EVAL" + " " * 400 + "MODE x\n") * size


def syslog_no_spaces(size: int) -> str:
    """`size` syslog lines of 8 kB without a space, each naming a licensing facility."""
    return ("%LICMGR-3-LOG_SMART_LIC_COMM_FAILED:" + "x" * 8000 + "\n") * size


def prompt_like(size: int) -> str:
    """A long line that starts like a prompt: `a` then dots and dashes, then `#`."""
    return "a" + ".-" * (size // 2) + "#x\n"


CASES: list[tuple[str, Callable[[int], str], int, str]] = [
    ("eval remaining: digits", eval_digits, 20_000, ".txt"),
    ("status: spaces", status_spaces, 40_000, ".txt"),
    ("'#' x 1 MB, one line", hashes, 1_000_000, ".txt"),
    ("'#' x 1 MB, lines", hashes_lines, 1_000_000, ".txt"),
    ("ESC ] x 100 kB", escape_osc, 100_000, ".txt"),
    ("prompt-like line", prompt_like, 100_000, ".txt"),
    ("value gaps, many lines", value_gaps, 2_000, ".txt"),
    ("syslog 8 kB lines", syslog_no_spaces, 200, ".log"),
    ("syslog whitespace runs", syslog_whitespace, 200, ".log"),
]


def timed(parser: Parser, path: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        parser.parse_file(path)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--repeat", type=int, default=3)
    args = options.parse_args()
    parser = Parser()
    failed = False
    print(f"{'case':<28} {'size':>10} {'1x s':>8} {'2x s':>8} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as folder:
        for name, make, size, suffix in CASES:
            times = []
            for factor in (1, 2):
                path = Path(folder) / f"case{factor}{suffix}"
                path.write_text(make(size * factor), encoding="utf-8")
                times.append(timed(parser, path, args.repeat))
            ratio = times[1] / max(times[0], 1e-6)
            bad = times[0] >= 1.0 or (ratio > 2.5 and times[1] > 0.05)
            failed |= bad
            print(f"{name:<28} {size:>10,} {times[0]:>8.3f} {times[1]:>8.3f} {ratio:>6.2f}{'  FAIL' if bad else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
