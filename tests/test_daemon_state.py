"""The daemon's state without the daemon: files applied and forgotten by calling its methods, the
page rendered for a fixed time. No threads, no folders watched."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lic_exporter.daemon.about import About
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


def test_a_device_text_is_kept_packed_small_and_unpacks_whole() -> None:
    """Every fixture's devices: the packed text gives back the text byte for byte, in a
    fraction of its size (most of a fleet's memory in the daemon is this text)."""
    from lic_exporter.analysis.views import device_views
    from lic_exporter.daemon.digest import pack_text
    from lic_exporter.exposition.metrics import device_text

    parser = Parser(jobs=1)
    records = [record for path in sorted(SHOW_FIXTURES.glob("*.txt"))
               for record in parser.parse_file(path, explicit=False, syslog_events=False).records]
    texts = [device_text(view) for view in device_views(records)]
    assert len(texts) > 10
    for text in texts:
        packed = pack_text(text)
        assert (packed.device, packed.chunks) == (text.device, text.chunks)
    raw = sum(len(b"".join(text.chunks)) for text in texts)
    assert sum(len(pack_text(text).packed) for text in texts) < raw / 3


def test_applied_file_is_on_the_page_with_day_counts_for_the_clock(tmp_path: Path) -> None:
    state = ExporterState(clock=lambda: NOW, deadline_days=True)  # serve --metrics.deadline-days
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


# --- the status page at /, rendered with the page -------------------------------------------------

def test_the_status_page_says_the_scan_runs_until_the_first_render(tmp_path: Path) -> None:
    state = ExporterState(clock=lambda: NOW, about=About(watched=("/srv/fleet",)))
    before = state.page().html.decode()
    assert "Initial scan running" in before and "<code>/srv/fleet</code>" in before
    assert 'class="fleet"' not in before  # no device table yet, not even an empty one
    state.apply(parsed(tmp_path, "a.txt", EVAL))
    state.render()
    after = state.page().html.decode()
    assert "Initial scan running" not in after
    assert 'id="device-n9k-eval-01"' in after and "1 parsed cleanly" in after


def test_the_status_page_flags_a_syslog_pattern_that_matches_nothing() -> None:
    about = About(syslog_patterns=("/var/log/net/*.log", "/var/log/net/*.lgo"))
    state = ExporterState(clock=lambda: NOW, about=about,
                          syslog_patterns=lambda: {"/var/log/net/*.log": 3, "/var/log/net/*.lgo": 0})
    state.render()
    html = state.page().html.decode()
    assert "<code>/var/log/net/*.log</code>: 3 files" in html
    assert '<li class="warning"><code>/var/log/net/*.lgo</code>: <strong>matches no file</strong>' in html


def test_without_the_followers_counts_the_patterns_are_listed_not_judged() -> None:
    state = ExporterState(clock=lambda: NOW, about=About(syslog_patterns=("/var/log/net/*.log",)))
    state.render()
    html = state.page().html.decode()
    assert "<li><code>/var/log/net/*.log</code></li>" in html and "matches no file" not in html


def test_the_status_page_lists_the_files_with_errors_and_their_problem(tmp_path: Path) -> None:
    state = ExporterState(clock=lambda: NOW)
    good = parsed(tmp_path, "a.txt", EVAL)
    state.apply(good)
    state.apply(FileResult(good.path, issues=(ParseIssue(good.path, 3, "cut off"),)))
    for n in range(25):  # more than the page lists
        path = str(tmp_path / f"broken-{n:02d}.txt")
        state.apply(FileResult(path, issues=(ParseIssue(path, None, "no output of a known command"),)))
    state.render()
    html = state.page().html.decode()
    assert "26 with errors" in html
    assert f"<li><code>{good.path}:3: cut off</code></li>" in html  # the file's last good records still show
    assert 'id="device-n9k-eval-01"' in html
    assert html.count("no output of a known command") == 19  # 20 listed, the first is a.txt
    assert "6 more: see the log" in html


def test_a_parsed_file_is_logged_at_debug_not_info(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = ExporterState(clock=lambda: NOW)
    with caplog.at_level(logging.DEBUG, logger="lic_exporter"):
        state.apply(parsed(tmp_path, "a.txt", EVAL))
    lines = [record for record in caplog.records if "parsed, 1 record(s)" in record.getMessage()]
    assert [record.levelno for record in lines] == [logging.DEBUG]


def test_workers_forked_in_advance_digest_as_those_forked_when_needed(tmp_path: Path) -> None:
    """The initial scan forks its workers before the folders are watched (worker_pool): they
    are all there before the first file is handed over, and what comes back is what workers
    forked at the scan, or no workers at all, give."""
    import multiprocessing

    from lic_exporter.daemon.digest import unpack
    from lic_exporter.daemon.state import digest
    from lic_exporter.parsing.walk import PARALLEL_MIN_FILES, prepare_found, walk, worker_pool

    texts = [(SHOW_FIXTURES / name).read_text() for name in ("eval_mode.txt", "communication_failed.txt")]
    for number in range(PARALLEL_MIN_FILES + 20):  # enough files for workers
        (tmp_path / f"n9k-{number:04d}_show_license_status.txt").write_text(texts[number % 2])
    parser = Parser(jobs=2)
    found = list(walk([tmp_path]))

    def kept(digests: list) -> list:
        return [(made.result.path, made.devices, unpack(made.packed), {name: drawing.text.chunks for name, drawing
                                                                       in made.drawings.items()}) for made in digests]

    before = len(multiprocessing.active_children())
    with worker_pool(parser, 2) as pool:
        assert pool is not None and len(multiprocessing.active_children()) == before + 2
        in_advance = kept(list(prepare_found(parser, found, digest, jobs=2, pool=pool)))
    when_needed = kept(list(prepare_found(parser, found, digest, jobs=2)))
    alone = kept(list(prepare_found(replace(parser, jobs=1), found, digest, jobs=1)))
    assert len(in_advance) == PARALLEL_MIN_FILES + 20
    assert in_advance == when_needed == alone
    with worker_pool(parser, 1) as none:
        assert none is None


_VALIDATORS_PROBE = """
from lic_exporter.model.records import LicenseRecord
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.walk import worker_pool

def complete():
    return LicenseRecord.__pydantic_complete__

print(complete())
with worker_pool(Parser(jobs=2), 2) as pool:
    print(complete(), pool.submit(complete).result())
"""


def test_record_validators_are_built_before_workers_fork() -> None:
    """Deferred to first use (a log alone never builds them), but built once in the parent
    before a pool forks: the workers share that copy instead of each building its own."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _VALIDATORS_PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True"]


def test_freed_memory_is_handed_back_where_the_c_library_can() -> None:
    """glibc (this machine's C library) has malloc_trim: the daemon trims after each scan."""
    import os

    from lic_exporter.daemon.heap import release_freed

    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):
        glibc = False
    assert release_freed() is glibc


def test_the_daemon_page_holds_the_device_families_the_one_shot_page_does(tmp_path: Path) -> None:
    """Every fixture, one file each, day counts on: the daemon's page (assembled family by
    family from each device's packed text) carries the device families byte for byte as
    `parse --format prometheus` writes them from the same records."""
    from lic_exporter.exposition.metrics import ExporterStats, devices_text, exposition
    from lic_exporter.parsing.results import newest_captures

    parser = Parser(jobs=1)
    state = ExporterState(clock=lambda: NOW, deadline_days=True)
    records = []
    for path in sorted(SHOW_FIXTURES.glob("*.txt")):
        result = parser.parse_file(path, explicit=False, syslog_events=False)
        records.extend(result.records)
        state.apply(result)
    state.render()
    one_shot = exposition(devices_text(newest_captures(records)), Tally(), ExporterStats(), NOW, deadline_days=True)
    tail = b"# HELP cisco_smartlic_problem "
    assert one_shot.count(b'cisco_smartlic_deadline_days{device="') > 10
    assert state.page().text.partition(tail)[0] == one_shot.partition(tail)[0]


def test_the_files_naming_a_device_are_held_in_path_order_as_they_come_and_go() -> None:
    from lic_exporter.daemon.state import DeviceFiles

    files = DeviceFiles()
    assert files.paths("sw1") == []
    files.add("sw1", "/b")
    files.add("sw1", "/b")
    assert files.paths("sw1") == ["/b"]
    files.add("sw1", "/a")
    files.add("sw2", "/a")
    assert files.paths("sw1") == ["/a", "/b"] and files.paths("sw2") == ["/a"]
    files.discard("sw1", "/b")
    assert files.paths("sw1") == ["/a"]
    files.discard("sw1", "/c")  # never named it
    files.discard("sw1", "/a")
    assert files.paths("sw1") == [] and files.paths("sw2") == ["/a"]
    files.add("sw1", "/c")
    assert files.paths("sw1") == ["/c"]
