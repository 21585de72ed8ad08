"""`promtool check metrics` (Debian's promtool) accepts every page the exporter writes, with no
lint at all: the daemon's /metrics (with the default flags, and collecting with --config.file),
and `parse --format prometheus` for node_exporter's textfile collector. Only the opt-in
cisco_smartlic_deadline_days draws promtool's unit lint (days are not seconds), and it alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, free_port
from tests.support.paths import PROJECT
from tests.support.prometheus import binary

EXAMPLES = ("examples/fleet", "examples/syslog")


def promtool_lint(page: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([binary("promtool"), "check", "metrics"], input=page, capture_output=True, timeout=60)


def assert_clean(page: bytes) -> None:
    done = promtool_lint(page)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), (done.stdout + done.stderr).decode()


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    for folder in EXAMPLES:
        shutil.copytree(PROJECT / folder, tmp_path / folder)
    return tmp_path


def served_page(examples: Path, *args: str) -> bytes:
    daemon = Daemon("--watch", "examples/fleet", "--syslog", "examples/syslog/*.log", *args, cwd=examples)
    try:
        daemon.wait_ready()
        status, body, _ = daemon.get("/metrics")
        assert status == 200, body
        return body
    finally:
        daemon.stop()


def test_served_page_is_clean(examples: Path) -> None:
    page = served_page(examples)
    assert b"\nprocess_open_fds " in page and b"\ncisco_smartlic_deadline_timestamp_seconds{" in page
    assert_clean(page)


def test_served_page_collecting_is_clean(examples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIC_PROMTOOL_TEST_PASSWORD", "not-a-real-password")
    config = examples / "targets.yml"
    config.write_text("defaults: {username: licmon, password_env: LIC_PROMTOOL_TEST_PASSWORD}\n"
                      f"targets:\n  nx-nowhere-01: {{host: 127.0.0.1, port: {free_port()}}}\n")
    page = served_page(examples, "--config.file", str(config), "--collect.dir", str(examples / "out"))
    for family in (b"lic_exporter_collect_failures_total", b"lic_exporter_config_last_reload_successful"):
        assert b"\n" + family in page
    assert_clean(page)


def test_textfile_page_is_clean(examples: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "lic_exporter", "parse", "--format", "prometheus", *EXAMPLES],
                          cwd=examples, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b"cisco_smartlic_info{" in done.stdout and b"process_" not in done.stdout
    assert_clean(done.stdout)


def test_only_the_opt_in_day_counts_draw_a_lint(examples: Path) -> None:
    """Why the family is opt-in: promtool wants base units. It is the one complaint."""
    done = promtool_lint(served_page(examples, "--metrics.deadline-days"))
    assert done.returncode != 0
    assert done.stdout.decode().splitlines() + done.stderr.decode().splitlines() == [
        'cisco_smartlic_deadline_days use base unit "seconds" instead of "days"']
