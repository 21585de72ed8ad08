"""`lic-exporter parse` as a user runs it: a real process, its output, its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.paths import SHOW_FIXTURES as FIXTURES

NOW = "2026-04-01T00:00:00+00:00"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lic_exporter", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_json_shape_and_exit_zero() -> None:
    out = run("parse", "--format", "json", str(FIXTURES / "eval_mode.txt"))
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    assert set(document) == {"records", "errors"} and document["errors"] == []
    [record] = document["records"]
    assert record["device"] == "n9k-eval-01" and record["command"] == "show license status"
    assert record["source"] == str(FIXTURES / "eval_mode.txt")
    assert record["authorization"]["evaluation_expires"] == "2026-05-13T12:04:10.318000+00:00"


def test_errors_go_to_stderr_as_path_line_message_and_exit_one(tmp_path: Path) -> None:
    broken = tmp_path / "sw9.txt"
    broken.write_text("Registration:\n  Status: REGISTERED\n")
    out = run("parse", "--format", "json", str(broken), str(FIXTURES / "eval_mode.txt"))
    assert out.returncode == 1
    assert out.stderr.splitlines() == [f"{broken}:2: 'show license status' output ends before its "
                                       "'License Authorization:' block (output cut off?)"]
    document = json.loads(out.stdout)
    assert len(document["records"]) == 1  # the rest is still printed
    assert document["errors"] == [{"path": str(broken), "line": 2, "message": out.stderr.split(": ", 1)[1].strip()}]


@pytest.mark.parametrize("args", [["parse"], ["parse", "--format", "xml", "x"], ["frobnicate"]])
def test_usage_errors_exit_two(args: list[str]) -> None:
    assert run(*args).returncode == 2


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    out = run("parse", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no such file" in out.stderr


def test_table_one_row_per_device_with_nearest_deadline() -> None:
    out = run("parse", "--now", NOW, str(FIXTURES))
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert "\x1b[" not in out.stdout  # not a terminal: no colour
    assert rows["n9k-border-02"].split()[1:5] == ["policy", "-", "-", "report_ack"]
    assert "19.4" in rows["n9k-border-02"]
    assert "failed 2026-05-19 (Error parsing response data from SCH server)" in rows["n9k-spine-01"]
    assert rows["n9k-leaf-11"].split()[4:6] == ["communication_deadline", "2026-05-30"]


def test_table_is_coloured_on_request() -> None:
    out = run("parse", "--now", NOW, "--color", "always", str(FIXTURES / "authorization_expired.txt"))
    assert "\x1b[31mauthorization_expired" in out.stdout


def test_prometheus_format_is_valid_exposition() -> None:
    out = run("parse", "--format", "prometheus", str(FIXTURES))
    assert out.returncode == 0, out.stderr
    families = {f.name: f for f in text_string_to_metric_families(out.stdout)}
    auth = {s.labels["state"]: s.value for s in families["cisco_smartlic_authorization_state"].samples
            if s.labels["device"] == "authorization_expired"}
    assert auth["authorization_expired"] == 1 and sum(auth.values()) == 1
    assert families["lic_exporter_files"].samples


def test_id_token_never_reaches_any_output() -> None:
    for fmt in ("json", "table", "prometheus"):
        out = run("parse", "--format", fmt, str(FIXTURES / "session_crlf_pager.txt"))
        assert out.returncode == 0
        assert "ZmFrZS10b2tlbi1mb3ItdGVzdHMtb25seQ" not in out.stdout + out.stderr


def test_contacts_never_reach_any_output() -> None:
    for fmt in ("json", "table", "prometheus"):
        out = run("parse", "--format", fmt, str(FIXTURES / "callhome_plain_http.txt"),
                  str(FIXTURES / "nxos_show_callhome.txt"))
        text = out.stdout + out.stderr
        for secret in ("noc@example.net", "555-0100", "Example Way", "proxy.example.net"):
            assert secret not in text, (fmt, secret)


def test_unknown_zone_is_reported_and_can_be_named(tmp_path: Path) -> None:
    path = tmp_path / "sw1.txt"
    path.write_text((FIXTURES / "communication_failed.txt").read_text().replace("EDT", "MSD"))
    out = run("parse", "--format", "json", str(path))
    assert out.returncode == 1 and "unknown time zone 'MSD'" in out.stderr
    out = run("parse", "--format", "json", "--tz", "MSD=+04:00", str(path))
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)["records"][0]
    assert record["authorization"]["communication_deadline"] == "2026-07-18T09:26:00+04:00"


def test_real_corpus_parses(corpus: Path) -> None:
    out = run("parse", "--format", "json", str(corpus))
    document = json.loads(out.stdout)
    # Two real samples are cut off by their source (marked PARTIAL): exactly those are errors.
    assert out.returncode == 1
    assert sorted(Path(e["path"]).name for e in document["errors"]) == [
        "ciscodoc217965-partial_1.txt", "muninn-issue1167-partial_1.txt"]
    assert len(document["records"]) >= 25


def test_parallel_parse_gives_the_same_result_as_one_process(tmp_path: Path) -> None:
    """Above the parallel threshold the files are shared among workers; the output (order
    included) must not change."""
    sources = sorted(FIXTURES.glob("*.txt"))
    for index in range(450):
        source = sources[index % len(sources)]
        (tmp_path / f"{index:04d}-{source.name}").write_bytes(source.read_bytes())
    (tmp_path / "0007-broken.txt").write_text("Registration:\n  Status: REGISTERED\n")
    one = run("parse", "--format", "json", "--jobs", "1", str(tmp_path))
    two = run("parse", "--format", "json", "--jobs", "2", str(tmp_path))
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout and one.stderr == two.stderr
    assert len(json.loads(two.stdout)["records"]) > 450
    now = "2026-12-02T12:00:00+00:00"  # the findings are judged for it
    table_one = run("parse", "--format", "prometheus", "--jobs", "1", "--now", now, str(tmp_path))
    table_two = run("parse", "--format", "prometheus", "--jobs", "2", "--now", now, str(tmp_path))
    # A textfile page has no day counts (they would freeze when it is written): equal as a whole.
    assert table_one.stdout == table_two.stdout and "cisco_smartlic_deadline_days" not in table_one.stdout


def test_device_map_names_syslog_senders(tmp_path: Path) -> None:
    log = tmp_path / "collector.log"
    log.write_text("<187>10.1.2.3: 2026 Nov 20 10:00:01 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications "
                   "failure with the Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname\n")
    mapping = tmp_path / "devices.txt"
    mapping.write_text("# address  name\n10.1.2.3  N9K-LEAF-9.example.net\n10.1.2.4, n9k-leaf-10\n")
    out = run("parse", "--format", "prometheus", "--device-map", str(mapping), str(log))
    assert out.returncode == 0, out.stderr
    assert 'cisco_smartlic_callhome_failures_total{device="n9k-leaf-9",reason="dns"} 1.0' in out.stdout
    mapping.write_text("10.1.2.3\n")
    bad = run("parse", "--device-map", str(mapping), str(log))
    assert bad.returncode == 2 and f"{mapping}:1: expected ADDRESS NAME" in bad.stderr


def test_syslog_in_all_three_formats() -> None:
    folder = FIXTURES.parent / "syslog"
    as_json = json.loads(run("parse", "--format", "json", str(folder)).stdout)
    kinds = {record["command"] for record in as_json["records"]}
    assert kinds == {"syslog"} and len(as_json["records"]) == 22
    table = run("parse", "--now", NOW, str(folder)).stdout
    assert "n9k-leaf-01" in table and "3 (dns 3) last 2026-11-20" in table
    prom = run("parse", "--format", "prometheus", str(folder)).stdout
    families = {f.name: f for f in text_string_to_metric_families(prom)}
    assert families["lic_exporter_syslog_lines"].samples[0].value == 25
    assert sum(s.value for s in families["cisco_smartlic_callhome_failures"].samples) == 18
