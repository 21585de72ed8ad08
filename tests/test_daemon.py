"""The daemon for real: a process, a watched folder, HTTP over loopback, signals."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.daemon import Daemon, series, wait_for
from tests.support.paths import SHOW_FIXTURES
from tests.support.prometheus import Prometheus, binary

STATUS = (SHOW_FIXTURES / "communication_failed.txt").read_text()
OOC = (SHOW_FIXTURES / "out_of_compliance.txt").read_text()
PROCESS_SAMPLES = {"process_virtual_memory_bytes", "process_resident_memory_bytes", "process_start_time_seconds",
                   "process_cpu_seconds_total", "process_open_fds", "process_max_fds"}


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    folder = tmp_path / "fleet"
    (folder / "n9k-a").mkdir(parents=True)
    (folder / "n9k-a" / "show_license_status.txt").write_text(STATUS.split("\n", 1)[1])
    (folder / "b.log").write_text(OOC)
    return folder


@pytest.fixture
def daemon(fleet: Path):
    started = []

    def start(*args: str) -> Daemon:
        process = Daemon("--watch", str(fleet), *args)
        started.append(process)
        process.wait_ready()
        return process

    yield start
    for process in started:
        process.stop()


def auth_state(samples, device: str) -> str:
    states = [dict(pairs)["state"] for (name, pairs), value in samples.items()
              if name == "cisco_smartlic_authorization_state" and dict(pairs)["device"] == device and value == 1]
    return states[0] if len(states) == 1 else f"not one-hot: {states}"


def test_initial_scan_then_endpoints(daemon) -> None:
    d = daemon()
    samples = d.samples()
    assert auth_state(samples, "n9k-a") == "authorized"
    assert auth_state(samples, "n9k-dc1-leaf07") == "out_of_compliance"
    assert series(samples, "lic_exporter_files", state="ok") == [2.0]
    assert series(samples, "lic_exporter_build_info")
    assert d.get("/-/healthy")[0] == 200 and b'href="metrics"' in d.get("/")[1]
    _, body, headers = d.get("/metrics", {"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip" and b"cisco_smartlic_info" in one_gzip_member(body)


def test_now_pretends_the_time_for_the_day_counts(daemon) -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    samples = daemon("--now", now.isoformat(), "--metrics.deadline-days").samples()
    days = {labels: value for (name, labels), value in samples.items() if name == "cisco_smartlic_deadline_days"}
    assert days
    for labels, value in days.items():
        stamp = samples[("cisco_smartlic_deadline_timestamp_seconds", labels)]
        assert value == pytest.approx((stamp - now.timestamp()) / 86400)


def test_day_counts_only_with_their_flag(daemon) -> None:
    """Rules and dashboards compute the days from the timestamps; the family is opt-in."""
    samples = daemon().samples()
    assert not [name for name, _ in samples if name == "cisco_smartlic_deadline_days"]
    assert [name for name, _ in samples if name == "cisco_smartlic_deadline_timestamp_seconds"]


def process_values(text: bytes) -> dict[str, float]:
    return {sample.name: sample.value for family in text_string_to_metric_families(text.decode())
            if family.name.startswith("process_") for sample in family.samples}


def test_process_families_read_at_each_scrape(daemon) -> None:
    """process_* on the daemon's page, plain and gzip, read when scraped: five more connections
    open are five more descriptors on the next scrape."""
    d = daemon()
    _, plain, _ = d.get("/metrics")
    before = process_values(plain)
    assert set(before) == PROCESS_SAMPLES
    assert before["process_max_fds"] >= before["process_open_fds"] > 0
    idle = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(5)]
    try:
        _, body, headers = d.get("/metrics", {"Accept-Encoding": "gzip"})
    finally:
        for sock in idle:
            sock.close()
    assert headers.get("Content-Encoding") == "gzip"
    after = process_values(one_gzip_member(body))
    assert after["process_open_fds"] >= before["process_open_fds"] + 5
    assert after["process_start_time_seconds"] == before["process_start_time_seconds"]


def one_gzip_member(body: bytes) -> bytes:
    """The text of `body`, which must be exactly one whole gzip member (nothing after it)."""
    member = zlib.decompressobj(16 + zlib.MAX_WBITS)
    text = member.decompress(body) + member.flush()
    assert member.eof and member.unused_data == b"", "not one whole gzip member"
    assert gzip.decompress(body) == text
    return text


def test_gzip_head_finishes_one_member_per_tail() -> None:
    """The page compressed once, finished with a different tail by many threads at once: each
    answer is one gzip member of page + its own tail."""
    from lic_exporter.daemon.gzip_head import GzipHead

    page = (SHOW_FIXTURES / "communication_failed.txt").read_bytes() * 50
    head = GzipHead.of(page)
    tails = [f"process_open_fds {n}\n".encode() * (n % 7) for n in range(64)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda tail: head.prefix + head.finish(tail), tails))
    assert [one_gzip_member(answer) for answer in answers] == [page + tail for tail in tails]
    assert len(head.prefix) < len(page) / 5  # compressed, not stored


def test_columns_added_in_any_order_end_as_one_member_in_column_order() -> None:
    """The daemon writes its page device by device but the page reads family by family: pieces
    added to the columns in any interleaving come out as one gzip member of the columns in
    order (each column's pieces in the order given), finished with any tail, and inflate back
    to that text in bounded pieces."""
    import random

    from lic_exporter.daemon.gzip_head import Columns

    rng = random.Random(7)
    columns, expected = Columns(4), [[] for _ in range(4)]
    for number in range(30_000):  # some 1.3 MB: each column is compressed in several batches
        column = rng.randrange(4)
        piece = f'family_{column}{{device="n9k-{number:06d}"}} {rng.random()}\n'.encode() if number % 9 else b""
        columns.add(column, piece)
        expected[column].append(piece)
    head = columns.head()
    text = b"".join(b"".join(pieces) for pieces in expected)
    assert one_gzip_member(head.prefix + head.finish(b"# tail\n")) == text + b"# tail\n"
    assert one_gzip_member(head.prefix + head.finish(b"")) == text
    pieces = list(head.text_pieces(4096))
    assert b"".join(pieces) == text and head.length == len(text) and max(map(len, pieces)) <= 4096
    assert len(head.prefix) < len(text) / 3


@pytest.mark.parametrize("length", [0, 1, 4095, 65536, 65537, 200_003])
def test_crc32_of_two_parts_combines_to_the_crc32_of_the_whole(length: int) -> None:
    import random

    from lic_exporter.daemon.gzip_head import crc32_combine

    first, second = random.Random(length).randbytes(97), random.Random(-length).randbytes(length)
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), length) == zlib.crc32(first + second)


def test_each_page_is_compressed_once_when_rendered() -> None:
    """A page carries its text compressed in the thread that assembled it: a scrape only
    finishes that gzip member with its tail, and two tails never disturb each other."""
    from lic_exporter.daemon.page import assemble
    from lic_exporter.exposition.metrics import ExporterStats, exposition
    from lic_exporter.parsing.syslog_tally import Tally

    now = datetime(2026, 12, 2, tzinfo=UTC)
    page = assemble([], [], ExporterStats(files_ok=3), Tally(), now, None)
    text = exposition([], Tally(), ExporterStats(files_ok=3), now)  # the one-shot path's page
    first = one_gzip_member(page.gzip.prefix + page.gzip.finish(b"# one\n"))
    second = one_gzip_member(page.gzip.prefix + page.gzip.finish(b"# two\n"))
    assert first == text + b"# one\n" and second == text + b"# two\n"
    assert b'lic_exporter_files{state="ok"} 3' in text
    assert one_gzip_member(page.gzipped) == text == page.text


def test_prometheus_scrapes_the_gzip_page(daemon, tmp_path: Path) -> None:
    """Prometheus asks for gzip (its default): it reads the page and the process_* families from
    the one gzip member of each scrape (a broken one fails the scrape: up 0, no samples)."""
    binary("prometheus")
    d = daemon()
    prometheus = Prometheus(tmp_path, d.port)
    try:
        up = prometheus.wait_for('up{job="lic_exporter"} == 1')
        assert up
        assert prometheus.wait_for('process_open_fds{job="lic_exporter"} > 0')
        assert prometheus.wait_for('cisco_smartlic_info{device="n9k-dc1-leaf07"}')
        # Scrape after scrape (each finishes its gzip member anew), the same process.
        assert prometheus.wait_for('count_over_time(process_cpu_seconds_total{job="lic_exporter"}[1m]) > 2')
        assert prometheus.query('changes(process_start_time_seconds{job="lic_exporter"}[1m])')[0]["value"][1] == "0"
    finally:
        prometheus.stop()


def test_changes_are_picked_up_once_settled(daemon, fleet: Path) -> None:
    d = daemon()
    target = fleet / "n9k-a" / "show_license_status.txt"
    target.write_text(target.read_text().replace("Status: AUTHORIZED on", "Status: OUT OF COMPLIANCE on"))
    wait_for(lambda: auth_state(d.samples(), "n9k-a") == "out_of_compliance")
    (fleet / "c").mkdir()
    shutil.copy(SHOW_FIXTURES / "eval_mode.txt", fleet / "c" / "late.txt")
    wait_for(lambda: auth_state(d.samples(), "n9k-eval-01") == "evaluation")


def test_broken_file_keeps_last_good_records_until_it_parses_again(daemon, fleet: Path) -> None:
    d = daemon()
    target = fleet / "n9k-a" / "show_license_status.txt"
    good = target.read_text()
    target.write_text(good[: good.index("License Authorization:")])  # half written
    wait_for(lambda: series(d.samples(), "lic_exporter_files", state="error") == [1.0])
    samples = d.samples()
    assert auth_state(samples, "n9k-a") == "authorized"  # the last good records stand
    assert series(samples, "lic_exporter_parse_errors_total")[0] >= 1
    target.write_text(good)
    wait_for(lambda: series(d.samples(), "lic_exporter_files", state="error") == [0.0])


def test_deleted_file_series_disappear(daemon, fleet: Path) -> None:
    d = daemon()
    (fleet / "b.log").unlink()
    wait_for(lambda: not series(d.samples(), "cisco_smartlic_info", device="n9k-dc1-leaf07"))
    assert series(d.samples(), "cisco_smartlic_info", device="n9k-a")


def test_folder_moved_out_and_back(daemon, fleet: Path, tmp_path: Path) -> None:
    d = daemon()
    (fleet / "n9k-a").rename(tmp_path / "away")
    wait_for(lambda: not series(d.samples(), "cisco_smartlic_info", device="n9k-a"))
    (tmp_path / "away").rename(fleet / "n9k-a")
    wait_for(lambda: bool(series(d.samples(), "cisco_smartlic_info", device="n9k-a")))


def test_scrapes_never_see_half_an_update(daemon, fleet: Path) -> None:
    """While files flip between two states, every scrape is a whole page: each device
    one-hot, all devices present."""
    d = daemon()
    target = fleet / "n9k-a" / "show_license_status.txt"
    versions = [target.read_text(), target.read_text().replace("Status: AUTHORIZED on", "Status: OUT OF COMPLIANCE on")]
    deadline = time.monotonic() + 6
    seen = set()
    flip = 0
    while time.monotonic() < deadline:
        flip += 1
        target.write_text(versions[flip % 2])
        samples = d.samples()
        state = auth_state(samples, "n9k-a")
        assert state in ("authorized", "out_of_compliance"), state
        assert auth_state(samples, "n9k-dc1-leaf07") == "out_of_compliance"
        seen.add(state)
        time.sleep(0.3 if flip % 5 else 1.5)
    assert seen == {"authorized", "out_of_compliance"}


def test_syslog_followed_and_counted(daemon, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "switch.log"
    log.parent.mkdir()
    line = ("2026 Nov 20 10:00:01 n9k-a %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the "
            "Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname/domain name\n")
    log.write_text(line)
    d = daemon("--syslog", str(tmp_path / "logs" / "*.log"))
    assert series(d.samples(), "cisco_smartlic_callhome_failures_total", device="n9k-a", reason="dns") == [1.0]
    with open(log, "a") as handle:
        handle.write(line + line)
    wait_for(lambda: series(d.samples(), "cisco_smartlic_callhome_failures_total", device="n9k-a") == [3.0])
    assert series(d.samples(), "lic_exporter_syslog_lines_total") == [3.0]
    assert series(d.samples(), "cisco_smartlic_callhome_last_failure_timestamp_seconds", device="n9k-a")


def test_sighup_rescans(daemon, fleet: Path) -> None:
    d = daemon()
    d.process.send_signal(signal.SIGHUP)
    wait_for(lambda: d.get("/-/ready")[0] == 200)
    time.sleep(1)
    assert auth_state(d.samples(), "n9k-a") == "authorized"
    code, err = d.stop()
    assert code == 0 and "SIGHUP" in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly(fleet: Path, sig: int) -> None:
    d = Daemon("--watch", str(fleet))
    try:
        d.wait_ready()
    finally:
        code, err = d.stop(sig)
    assert code == 0 and "Traceback" not in err


def test_missing_watch_folder_is_a_clear_message(tmp_path: Path) -> None:
    d = Daemon("--watch", str(tmp_path / "nope"))
    code, err = d.stop() if d.process.wait(timeout=20) is None else (d.process.returncode, d.process.stderr.read())
    assert code == 2 and "no such folder" in err and "Traceback" not in err


def test_unreadable_file_is_reported_not_fatal(daemon, fleet: Path) -> None:
    os.symlink(fleet / "missing-target.txt", fleet / "dangling.txt")  # root reads any mode: use a dead link
    d = daemon()
    samples = d.samples()
    assert series(samples, "lic_exporter_files", state="error") == [1.0]
    assert auth_state(samples, "n9k-a") == "authorized"
    _, err = d.stop()
    assert "dangling.txt" in err and "cannot read" in err and "Traceback" not in err


def test_watch_folder_removed_and_created_again(daemon, fleet: Path, tmp_path: Path) -> None:
    d = daemon()
    backup = tmp_path / "backup"
    shutil.copytree(fleet, backup)
    shutil.rmtree(fleet)
    shutil.copytree(backup, fleet)
    (fleet / "late.txt").write_text(OOC.replace("N9K-DC1-LEAF07", "N9K-LATE-01"))
    wait_for(lambda: bool(series(d.samples(), "cisco_smartlic_info", device="n9k-late-01")), timeout=30)
    assert auth_state(d.samples(), "n9k-a") == "authorized"


def test_good_file_overwritten_with_junk_keeps_its_records(daemon, fleet: Path) -> None:
    d = daemon()
    (fleet / "b.log").write_text("%%% junk\n")
    wait_for(lambda: series(d.samples(), "lic_exporter_files", state="error") == [1.0])
    assert auth_state(d.samples(), "n9k-dc1-leaf07") == "out_of_compliance"


def test_gzip_refused_with_q_zero(daemon) -> None:
    d = daemon()
    _, body, headers = d.get("/metrics", {"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in headers and body.startswith(b"# HELP")


def test_stop_during_the_initial_scan(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for index in range(3000):
        (folder / f"n9k-{index:04d}").mkdir(parents=True)
        (folder / f"n9k-{index:04d}" / "show_license_status.txt").write_text(STATUS.split("\n", 1)[1])
    d = Daemon("--watch", str(folder), "--jobs", "1")

    def listening() -> bool:
        try:
            return d.get("/-/healthy")[0] == 200
        except OSError:
            return d.process.poll() is not None

    try:
        wait_for(listening, timeout=30)
    finally:
        started = time.monotonic()
        code, err = d.stop()
    assert code == 0 and time.monotonic() - started < 10 and "Traceback" not in err
