"""The daemon under hostile or unlucky input: no value and no bug in handling one file stops it
or costs the other files."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import SHOW_FIXTURES
from daemon_helpers import Daemon, series, wait_for

from lic_exporter import daemon as daemon_module
from lic_exporter.daemon import Exporter
from lic_exporter.parse import Parser

EVAL = (SHOW_FIXTURES / "eval_mode.txt").read_text()
HANDLES = (SHOW_FIXTURES / "techsupport_handles.txt").read_text()
HUGE_COUNT = HANDLES.replace("Count: 14", "Count: " + "9" * 400)


def _page(exporter: Exporter) -> str:
    return exporter.page().text.decode()


def test_a_huge_number_neither_blocks_readiness_nor_stops_later_changes(tmp_path: Path) -> None:
    (tmp_path / "poisoned.txt").write_text(HUGE_COUNT)
    process = Daemon("--watch", str(tmp_path), "--jobs", "1")
    try:
        process.wait_ready(timeout=20)
        assert process.get("/-/ready")[0] == 200
        samples = process.samples()
        assert samples[("lic_exporter_files", (("state", "error"),))] == 1.0
        (tmp_path / "poisoned-too.txt").write_text(HUGE_COUNT.replace("c9300-acc-03", "c9300-acc-04"))
        (tmp_path / "n9k-eval-01.txt").write_text(EVAL)
        wait_for(lambda: series(process.samples(), "cisco_smartlic_authorization_state", device="n9k-eval-01"), 15)
        assert process.samples()[("lic_exporter_files", (("state", "error"),))] == 2.0
        assert process.process.poll() is None
    finally:
        process.stop()


def test_an_exception_while_applying_one_file_costs_that_file_only(tmp_path: Path, monkeypatch) -> None:
    """A bug planted where a file's records become text: the file counts as failed, is logged,
    and the thread that applies changes lives on to apply the next one."""
    real = daemon_module.device_text

    def planted(view):
        if view.device == "doomed":
            raise RuntimeError("planted")
        return real(view)

    monkeypatch.setattr(daemon_module, "device_text", planted)
    (tmp_path / "doomed.txt").write_text(EVAL.replace("n9k-eval-01", "doomed"))
    exporter = Exporter([tmp_path], Parser(jobs=1), settle_seconds=0.2)
    exporter.start()
    try:
        assert exporter.ready.is_set()
        assert 'lic_exporter_files{state="error"} 1.0' in _page(exporter)
        (tmp_path / "doomed.txt").write_text(EVAL.replace("n9k-eval-01", "doomed") + "\n")  # fails again
        (tmp_path / "healthy.txt").write_text(EVAL.replace("n9k-eval-01", "healthy"))
        deadline = time.monotonic() + 15
        while 'device="healthy"' not in _page(exporter) and time.monotonic() < deadline:
            time.sleep(0.1)
        page = _page(exporter)
        assert 'cisco_smartlic_authorization_state{device="healthy",state="evaluation"} 1.0' in page
        assert 'device="doomed"' not in page
        assert "lic_exporter_parse_errors_total 2.0" in page
    finally:
        exporter.stop()


def test_a_failing_render_keeps_the_last_page(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "a.txt").write_text(EVAL)
    exporter = Exporter([tmp_path], Parser(jobs=1), settle_seconds=0.2)
    exporter.start()
    try:
        before = exporter.page()
        monkeypatch.setattr(daemon_module, "exposition", lambda *args, **kwargs: 1 / 0)
        exporter.render()
        assert exporter.page() is before and b"n9k-eval-01" in before.text
    finally:
        exporter.stop()


def test_unconfigured_callhome_in_a_session_keeps_the_other_records(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text((SHOW_FIXTURES / "callhome_unconfigured_session.txt").read_text())
    exporter = Exporter([tmp_path], Parser(jobs=1))
    exporter.start()
    try:
        page = _page(exporter)
        assert 'cisco_smartlic_callhome_enabled{device="n3k-edge-09"} 0.0' in page
        assert 'cisco_smartlic_authorization_state{device="n3k-edge-09",state="evaluation"} 1.0' in page
        assert 'cisco_smartlic_problem{device="n3k-edge-09",problem="callhome_disabled"' in page
    finally:
        exporter.stop()
