"""`make demo` stays true: the table README.md shows is what the Makefile's demo command prints,
run as `make` would run it (its command line taken from `make -n demo`), and its deadlines are
still ahead at the instant it pins."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.support.paths import PROJECT
from tests.support.prometheus import binary

README = PROJECT / "README.md"


def demo_parse_command() -> list[str]:
    """The `lic-exporter parse` line of the demo recipe, with make's variables expanded, to run
    with this interpreter's lic-exporter (the .venv's when run from `make test`)."""
    program = Path(sys.executable).parent / "lic-exporter"
    listed = subprocess.run([binary("make", "apt-get install make"), "-n", "-s", "demo", f"BIN={program.parent}"],
                            capture_output=True, text=True, cwd=PROJECT, timeout=60, check=True).stdout
    [line] = [line for line in listed.splitlines() if line.startswith(f"{program} parse ")]
    command = shlex.split(line)
    # Where this interpreter has no lic-exporter script (an install without one), the same program:
    return command if program.exists() else [sys.executable, "-m", "lic_exporter", *command[1:]]


def readme_table() -> str:
    """The first code block of the README's `make demo` section."""
    section = README.read_text().split("## What `make demo` shows", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert found, "README.md: no sample output in the make demo section"
    return found.group(1)


def test_the_readme_table_is_what_make_demo_prints() -> None:
    command = demo_parse_command()
    assert "--now" in command, "the demo pins its clock, or its table drifts from the README's day by day"
    out = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == readme_table()


def test_the_demo_fleet_is_ahead_of_its_deadlines_at_the_pinned_instant() -> None:
    """Every demo device still has its nearest deadline ahead (none negative), every one of the
    example fleet's devices is in the table, and below it the example Smart Account's licences,
    their term ends ahead too."""
    devices, accounts = readme_table().split("\n\n")
    rows = [line.split() for line in devices.splitlines()[1:]]
    assert [row[0] for row in rows] == ["n3k-edge-07", "n9k-border-01", "n9k-leaf-01", "n9k-leaf-02", "n9k-spine-02"]
    days_left = [float(next(word for word in row[5:] if re.fullmatch(r"-?\d+\.\d", word))) for row in rows]
    assert all(days > 0 for days in days_left), days_left
    licences = accounts.splitlines()[1:]
    assert [line.split()[0] for line in licences] == ["cisco"] * 3
    term_days = [int(days) for days in re.findall(r"\((-?\d+) d\)", accounts)]
    assert len(term_days) == 2 and all(days > 0 for days in term_days), term_days
