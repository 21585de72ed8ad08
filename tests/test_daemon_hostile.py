"""The daemon under hostile or unlucky input: no value and no bug in handling one file stops it
or costs the other files."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lic_exporter.daemon import page as page_module
from lic_exporter.daemon import state as state_module
from lic_exporter.daemon.state import ExporterState
from lic_exporter.daemon.watcher import SETTLE_SECONDS, FolderWatcher
from lic_exporter.parsing.files import Parser
from tests.support.daemon import Daemon, series, wait_for
from tests.support.paths import SHOW_FIXTURES

EVAL = (SHOW_FIXTURES / "eval_mode.txt").read_text()
HANDLES = (SHOW_FIXTURES / "techsupport_handles.txt").read_text()
HUGE_COUNT = HANDLES.replace("Count: 14", "Count: " + "9" * 400)
EPOCH = datetime(2026, 11, 21, tzinfo=UTC)


def _watching(folder: Path, settle_seconds: float = SETTLE_SECONDS) -> FolderWatcher:
    """The daemon's state fed by a watcher of `folder`, as `serve` wires them (no syslog)."""
    parser = Parser(jobs=1)
    return FolderWatcher([folder], parser, ExporterState(know_devices=parser.syslog_lines.know),
                         settle_seconds=settle_seconds)


def _page(watcher: FolderWatcher) -> str:
    return watcher.page().text.decode()


def test_workers_that_cannot_be_forked_ahead_of_the_scan_do_not_stop_it(tmp_path: Path, monkeypatch,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """The initial scan's workers are forked before the folders are watched; should that fail
    (no processes or memory left), the daemon still scans, becomes ready and follows changes."""
    import errno
    from contextlib import contextmanager

    from lic_exporter.daemon import watcher as watcher_module

    @contextmanager
    def no_fork(parser: Parser, jobs: int):
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        yield None

    monkeypatch.setattr(watcher_module, "worker_pool", no_fork)
    (tmp_path / "a.txt").write_text(EVAL)
    exporter = _watching(tmp_path, settle_seconds=0.2)
    exporter.start()
    try:
        assert exporter.is_ready() and 'device="n9k-eval-01"' in _page(exporter)
        assert "cannot start the initial scan's worker processes ahead of it" in caplog.text
        (tmp_path / "b.txt").write_text((SHOW_FIXTURES / "communication_failed.txt").read_text())
        wait_for(lambda: 'device="n9k-spine-01"' in _page(exporter), timeout=10)
    finally:
        exporter.stop()


def test_events_the_kernel_dropped_make_every_file_below_be_read_again(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    """inotify's queue overflows under a burst of changes, and watchdog then reports the loss
    for the watched folder (only to a watch that asks for it). A change made while no event
    could arrive (here: the observer stopped) is read once the loss is reported."""
    from watchdog.events import EventsLostEvent

    from lic_exporter.daemon.events import CHANGE_EVENTS

    assert EventsLostEvent in CHANGE_EVENTS  # the watches ask for it
    (tmp_path / "a.txt").write_text(EVAL)
    exporter = _watching(tmp_path, settle_seconds=0.2)
    exporter.start()
    try:
        assert exporter._observer is not None
        exporter._observer.stop()  # from here on, no event arrives: as if the kernel dropped them
        exporter._observer.join(5)
        (tmp_path / "b.txt").write_text((SHOW_FIXTURES / "communication_failed.txt").read_text())
        time.sleep(1.0)
        assert 'device="n9k-spine-01"' not in _page(exporter)
        exporter._events.dispatch(EventsLostEvent(str(tmp_path), is_directory=True))
        wait_for(lambda: 'device="n9k-spine-01"' in _page(exporter), timeout=10)
        assert f"{tmp_path}: inotify's queue overflowed" in caplog.text
        assert 'device="n9k-eval-01"' in _page(exporter)
    finally:
        exporter.stop()


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
    real = state_module.device_text

    def planted(view):
        if view.device == "doomed":
            raise RuntimeError("planted")
        return real(view)

    monkeypatch.setattr(state_module, "device_text", planted)
    (tmp_path / "doomed.txt").write_text(EVAL.replace("n9k-eval-01", "doomed"))
    exporter = _watching(tmp_path, settle_seconds=0.2)
    exporter.start()
    try:
        assert exporter.is_ready()
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
    exporter = _watching(tmp_path, settle_seconds=0.2)
    exporter.start()
    try:
        before = exporter.page()
        monkeypatch.setattr(page_module, "page_tail", lambda *args, **kwargs: 1 / 0)
        exporter.state.render()
        assert exporter.page() is before and b"n9k-eval-01" in before.text
    finally:
        exporter.stop()


def test_unconfigured_callhome_in_a_session_keeps_the_other_records(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text((SHOW_FIXTURES / "callhome_unconfigured_session.txt").read_text())
    exporter = _watching(tmp_path)
    exporter.start()
    try:
        page = _page(exporter)
        assert 'cisco_smartlic_callhome_enabled{device="n3k-edge-09"} 0.0' in page
        assert 'cisco_smartlic_authorization_state{device="n3k-edge-09",state="evaluation"} 1.0' in page
        assert 'cisco_smartlic_problem{device="n3k-edge-09",problem="callhome_disabled"' in page
    finally:
        exporter.stop()


# --- cardinality from syslog senders -------------------------------------------------------

def _comm_failed(host: str) -> str:
    return (f"<187>{host}: 2026 Nov 20 10:00:01 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure "
            "with the Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname/domain name\n")


def test_syslog_devices_are_bounded_and_the_rest_counted_as_skipped(tmp_path: Path) -> None:
    log = tmp_path / "collector.log"
    log.write_text("".join(_comm_failed(f"leaf{n}") for n in range(5)) + _comm_failed("leaf0"))
    (tmp_path / "shows").mkdir()
    process = Daemon("--watch", str(tmp_path / "shows"), "--syslog", str(log), "--syslog.max-devices", "3")
    try:
        process.wait_ready()
        samples = process.samples()
        failures = "cisco_smartlic_callhome_failures_total"
        devices = {dict(pairs)["device"] for (name, pairs) in samples if name == failures}
        assert devices == {"leaf0", "leaf1", "leaf2"}
        assert series(samples, "cisco_smartlic_callhome_failures_total", device="leaf0") == [2.0]
        assert samples[("lic_exporter_syslog_skipped_lines_total", (("reason", "device_limit"),))] == 2.0
    finally:
        _, log_text = process.stop()
    assert log_text.count("are not counted") == 1  # logged once


def test_known_devices_only_keeps_mapped_and_show_output_devices(tmp_path: Path) -> None:
    from lic_exporter.parsing.syslog_chunks import Block, tally_stream

    parser = Parser(device_map={"10.0.0.9": "n9k-mapped"}, syslog_known_only=True)
    parser.syslog_lines.know({"n9k-from-shows"})
    lines = _comm_failed("10.0.0.9") + _comm_failed("n9k-from-shows") + _comm_failed("stranger") * 2
    tally = tally_stream([Block.of(lines.encode())], parser.syslog_lines, "fallback", EPOCH)
    assert {device for device, _ in tally.failures} == {"n9k-mapped", "n9k-from-shows"}
    assert tally.device_limited == 2


def test_dot_named_files_are_ignored_until_renamed(tmp_path: Path) -> None:
    """A collector writes `.<device>.log.<random>.tmp`, then renames it: the half-written
    temporary file is never parsed (no error, no half a record)."""
    exporter = _watching(tmp_path, settle_seconds=0.2)
    exporter.start()
    try:
        temporary = tmp_path / ".n9k-eval-01.log.x1.tmp"
        temporary.write_text(EVAL[: len(EVAL) // 2])
        time.sleep(1.0)
        assert 'device="n9k-eval-01"' not in _page(exporter)
        assert 'lic_exporter_files{state="error"} 0.0' in _page(exporter)
        temporary.write_text(EVAL)
        temporary.rename(tmp_path / "n9k-eval-01.log")
        deadline = time.monotonic() + 15
        while 'device="n9k-eval-01"' not in _page(exporter) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert 'cisco_smartlic_authorization_state{device="n9k-eval-01",state="evaluation"} 1.0' in _page(exporter)
        assert 'lic_exporter_files{state="error"} 0.0' in _page(exporter)
    finally:
        exporter.stop()
