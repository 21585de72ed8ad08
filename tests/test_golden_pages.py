"""Golden pages: the daemon's /metrics page and the textfile page (`parse --format prometheus`)
of examples/fleet and examples/syslog at a fixed --now, against tests/golden/pages/, compared
sample for sample (the value of every series, HELP and TYPE of every family), so that any change
to the exposition shows as a diff.

The examples are copied to a temporary folder, every file dated MTIME: outputs without a time of
their own are dated by their file, and the page must not depend on the checkout. Nor on the
build: lic_exporter_build_info's `revision` and `pythonversion` are compared as written in the
golden file only in that they are there; the daemon's process_* families (read at each scrape)
are checked to be there and left out of the comparison.

After a deliberate change of the exposition, rewrite the pages and review the diff:

    LIC_EXPORTER_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_pages.py
    git diff tests/golden/pages
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.daemon import Daemon
from tests.support.pages import Page, differences
from tests.support.paths import GOLDEN, PROJECT

NOW = "2026-12-02T12:00:00+00:00"
MTIME = datetime(2026, 12, 1, 6, 0, tzinfo=UTC).timestamp()
PAGES = GOLDEN / "pages"
UPDATE = os.environ.get("LIC_EXPORTER_UPDATE_GOLDEN") == "1"
SETTLE_SECONDS = 15.0  # the syslog follower may still be reading when the daemon says ready


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of examples/fleet and examples/syslog under tmp_path/examples, files dated MTIME;
    the commands run in tmp_path and name them relatively, as a user in the checkout would."""
    for folder in ("fleet", "syslog"):
        shutil.copytree(PROJECT / "examples" / folder, tmp_path / "examples" / folder)
    for path in (tmp_path / "examples").rglob("*"):
        if path.is_file():
            os.utime(path, (MTIME, MTIME))
    return tmp_path


BUILD_INFO = "lic_exporter_build_info"
BUILT_WITH = {"revision": "REVISION", "pythonversion": "PYTHON"}  # as the golden files write them
PROCESS_FAMILIES = {"process_virtual_memory_bytes", "process_resident_memory_bytes", "process_start_time_seconds",
                    "process_cpu_seconds", "process_open_fds", "process_max_fds"}


def comparable(page: Page) -> Page:
    """The page without what differs from one build or one scrape to the next: the build's
    revision and Python version as placeholders, and no process_* families."""
    samples = {}
    for (name, labels), value in page.samples.items():
        if name.startswith("process_"):
            continue
        if name == BUILD_INFO:
            labels = tuple((key, BUILT_WITH.get(key, text)) for key, text in labels)
        samples[(name, labels)] = value
    families = {name: meta for name, meta in page.families.items() if not name.startswith("process_")}
    return Page(samples, families, page.repeated)


def golden_text(text: str) -> str:
    """The page as its golden file keeps it: build placeholders, no process_* families."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("process_", "# HELP process_", "# TYPE process_")):
            continue
        if line.startswith(BUILD_INFO + "{"):
            for key, placeholder in BUILT_WITH.items():
                line = re.sub(rf'\b{key}="[^"]*"', f'{key}="{placeholder}"', line)
        lines.append(line)
    return "".join(lines)


def check(name: str, text: str) -> None:
    """The page against its golden file (or, in update mode, the page written as that file)."""
    golden = PAGES / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(golden_text(text))
    diff = differences(comparable(Page.read(golden.read_text())), comparable(Page.read(text)))
    assert not diff, f"{name} differs from {golden} (- golden, + now, ~ changed):\n" + "\n".join(diff)


def test_textfile_page(examples: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "lic_exporter", "parse", "--format", "prometheus", "--now", NOW,
                          "examples/fleet", "examples/syslog"], cwd=examples, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    check("textfile.prom", out.stdout)
    # node_exporter, which reads the textfile, has process_* families of its own; the day counts
    # would freeze when the file was written.
    assert not {name for name in Page.read(out.stdout).families
                if name.startswith("process_") or name == "cisco_smartlic_deadline_days"}


def _scrape_until(daemon: Daemon, done: Callable[[list[str]], bool]) -> str:
    """The /metrics page once `done(pages so far)`, or the last one after SETTLE_SECONDS."""
    deadline = time.monotonic() + SETTLE_SECONDS
    pages: list[str] = []
    while True:
        status, body, _ = daemon.get("/metrics")
        assert status == 200, body
        pages.append(body.decode())
        if done(pages) or time.monotonic() > deadline:
            return pages[-1]
        time.sleep(0.5)


def test_metrics_page(examples: Path) -> None:
    daemon = Daemon("--watch", "examples/fleet", "--syslog", "examples/syslog/*.log", "--now", NOW, cwd=examples)
    try:
        daemon.wait_ready()
        if UPDATE:  # nothing to wait for but the page staying the same for two seconds
            page = _scrape_until(daemon, lambda pages: len(pages) > 4 and len(set(pages[-5:])) == 1)
        else:
            expected = Page.read((PAGES / "metrics.txt").read_text())
            page = _scrape_until(daemon, lambda pages: not differences(comparable(expected),
                                                                       comparable(Page.read(pages[-1]))))
    finally:
        daemon.stop()
    check("metrics.txt", page)
    assert set(Page.read(page).families) >= PROCESS_FAMILIES  # there, and left out of the comparison
