"""The daemon's state without the daemon: files applied and forgotten by calling its methods, the
page rendered for a fixed time. No threads, no folders watched."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from lic_exporter.daemon.state import ExporterState
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.results import FileResult, ParseIssue
from lic_exporter.parsing.syslog_tally import Tally
from tests.support.paths import SHOW_FIXTURES

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
EVAL = (SHOW_FIXTURES / "eval_mode.txt").read_text()


def samples(state: ExporterState) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(state.page().text.decode()) for s in f.samples}


def parsed(tmp_path: Path, name: str, text: str) -> FileResult:
    path = tmp_path / name
    path.write_text(text)
    return Parser(jobs=1).parse_file(path, explicit=False, syslog_events=False)


def test_applied_file_is_on_the_page_with_day_counts_for_the_clock(tmp_path: Path) -> None:
    state = ExporterState(clock=lambda: NOW)
    state.apply(parsed(tmp_path, "a.txt", EVAL))
    state.render()
    page = samples(state)
    assert page[("cisco_smartlic_authorization_state", (("device", "n9k-eval-01"), ("state", "evaluation")))] == 1.0
    expiry = page[("cisco_smartlic_deadline_timestamp_seconds",
                   (("deadline", "evaluation_expiry"), ("device", "n9k-eval-01")))]
    days = page[("cisco_smartlic_deadline_days", (("deadline", "evaluation_expiry"), ("device", "n9k-eval-01")))]
    assert days == (expiry - NOW.timestamp()) / 86400
    assert page[("lic_exporter_files", (("state", "ok"),))] == 1.0


def test_a_broken_file_keeps_its_last_good_records_and_a_gone_one_takes_them_along(tmp_path: Path) -> None:
    state = ExporterState(clock=lambda: NOW)
    good = parsed(tmp_path, "a.txt", EVAL)
    state.apply(good)
    state.apply(FileResult(good.path, issues=(ParseIssue(good.path, 3, "cut off"),)))
    state.render()
    page = samples(state)
    assert page[("lic_exporter_files", (("state", "error"),))] == 1.0
    assert page[("lic_exporter_parse_errors_total", ())] == 1.0
    assert any(name == "cisco_smartlic_info" and dict(labels)["device"] == "n9k-eval-01" for name, labels in page)
    state.keep_only(set())
    state.render()
    assert not any(dict(labels).get("device") == "n9k-eval-01" for _, labels in samples(state))
    assert samples(state)[("lic_exporter_files", (("state", "ok"),))] == 0.0


def test_an_internal_error_costs_the_file_not_its_records(tmp_path: Path) -> None:
    state = ExporterState(clock=lambda: NOW)
    good = parsed(tmp_path, "a.txt", EVAL)
    state.apply(good)
    state.failed(good.path, RuntimeError("planted"))
    state.render()
    page = samples(state)
    assert page[("lic_exporter_files", (("state", "error"),))] == 1.0
    assert page[("lic_exporter_parse_errors_total", ())] == 1.0
    assert any(name == "cisco_smartlic_info" and dict(labels)["device"] == "n9k-eval-01" for name, labels in page)
    assert state.paths_under(str(tmp_path)) == [good.path]


def test_show_output_devices_are_made_known_to_syslog_counting(tmp_path: Path) -> None:
    known: list[str] = []
    state = ExporterState(know_devices=known.extend)
    state.apply(parsed(tmp_path, "a.txt", EVAL))
    assert known == ["n9k-eval-01"]


@dataclass
class _Status:
    device: str
    success: bool | None = True
    seconds: float | None = 2.0
    last_success: float | None = 1_700_000_000.0
    next_due: float | None = None
    interval: float | None = 21600.0
    failures: dict[str, int] = field(default_factory=dict)


def test_the_page_takes_syslog_totals_and_collection_statuses_from_their_sources() -> None:
    totals = Tally()
    totals.lines = 7
    state = ExporterState(clock=lambda: NOW, syslog_totals=lambda: totals,
                          collect_status=lambda: [_Status("nx-a")])
    state.render()
    page = samples(state)
    assert page[("lic_exporter_syslog_lines_total", ())] == 7.0
    assert page[("lic_exporter_collect_success", (("device", "nx-a"),))] == 1.0
