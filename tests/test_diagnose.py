"""diagnose: each rule fires on a fixture that has the fault and stays quiet on a healthy one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lic_exporter.analysis.diagnose import RULES, diagnose, fleet_facts
from lic_exporter.analysis.views import device_views
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.syslog_tally import Tally
from tests.support.paths import PROJECT, SHOW_FIXTURES, SYSLOG_FIXTURES

NOW = datetime(2026, 4, 25, tzinfo=UTC)  # after policy_ack_overdue's ACK deadline (Apr 20)
CAPTURED = datetime(2026, 3, 6, 12, tzinfo=UTC)  # half a day after the healthy session was captured
HEALTHY = "session_crlf_pager.txt"  # registered, authorized, call-home over HTTPS in the management VRF


def findings_for(*paths: Path, now: datetime = NOW) -> dict[str, set[str]]:
    parser = Parser()
    records, tally = [], Tally()
    for path in paths:
        result = parser.parse_file(path)
        records.extend(result.records)
        if result.syslog:
            tally.merge(result.syslog)
    found: dict[str, set[str]] = {}
    for finding in diagnose(fleet_facts(device_views(records), tally), now):
        found.setdefault(finding.device, set()).add(finding.problem)
    return found


@pytest.mark.parametrize(("fixture", "device", "problem"), [
    ("callhome_plain_http.txt", "n9k-leaf-12", "callhome_plain_http"),
    ("callhome_plain_http.txt", "n9k-leaf-12", "callhome_no_vrf"),
    ("eval_mode.txt", "n9k-eval-01", "evaluation_mode"),
    ("eval_expired.txt", "n9k-eval-02", "evaluation_expired"),
    ("out_of_compliance.txt", "n9k-dc1-leaf07", "out_of_compliance"),
    ("authorization_expired.txt", "authorization_expired", "authorization_expired"),
    ("authorization_expired.txt", "authorization_expired", "callhome_failing_http_send"),
    ("communication_failed.txt", "n9k-spine-01", "registration_failing"),
    ("communication_failed.txt", "n9k-spine-01", "callhome_failing_response"),
    ("registration_failed.txt", "n3k-edge-04", "registration_failed"),
    ("registration_failed.txt", "n3k-edge-04", "callhome_failing_dns"),
    ("policy_ack_overdue.txt", "n9k-border-02", "report_ack_overdue"),
    ("authorization_expired.txt", "authorization_expired", "attempt_overdue"),
])
def test_rule_fires_on_its_fault(fixture: str, device: str, problem: str) -> None:
    assert problem in findings_for(SHOW_FIXTURES / fixture).get(device, set())


def test_healthy_device_has_no_findings() -> None:
    assert findings_for(SHOW_FIXTURES / HEALTHY, now=CAPTURED) == {}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_callhome_disabled_and_source_interface(tmp_path: Path) -> None:
    disabled = write(tmp_path, "a.txt", "sw-a# show callhome\ncallhome disabled\nCallhome Information:\nsw-a#\n")
    wrong = write(tmp_path, "b.txt", (SHOW_FIXTURES / HEALTHY).read_text().replace(
        "ip http source-interface mgmt0 vrf management", "ip http source-interface loopback0 vrf management"))
    assert findings_for(disabled) == {"sw-a": {"callhome_disabled"}}
    assert findings_for(wrong, now=CAPTURED) == {"n9k-leaf-13": {"callhome_source_interface"}}


def test_syslog_failures_tls_and_clock(tmp_path: Path) -> None:
    log = write(tmp_path, "x.log",
                "2026 Mar 01 10:00:01 leaf9 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the "
                "Cisco Smart Software Manager (CSSM) : Cannot establish secure connection because server TLS cert "
                "cannot be validated\n"
                "2026 Mar 01 10:00:02 leaf9 %LICMGR-5-LOG_SMART_LIC_SYSTEM_CLOCK_CHANGED: Smart Agent for Licensing "
                "System clock has been changed\n")
    assert findings_for(log) == {"leaf9": {"callhome_failing_tls", "clock_changed"}}


def test_stale_capture_judged_against_now() -> None:
    path = SHOW_FIXTURES / "eval_mode.txt"  # captured 2026-03-02 (show clock)
    assert "stale_capture" in findings_for(path, now=datetime(2026, 3, 10, tzinfo=UTC))["n9k-eval-01"]
    assert "stale_capture" not in findings_for(path, now=datetime(2026, 3, 3, tzinfo=UTC))["n9k-eval-01"]


def test_every_rule_is_exercised_here() -> None:
    """The rule table and these tests stay in step: a new rule needs its fixture."""
    source = Path(__file__).read_text()
    for name, _ in RULES:
        assert name.replace("<reason>", "") in source, name


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lic_exporter", "diagnose", *args], capture_output=True, text=True)


def test_cli_exit_codes_text_and_json() -> None:
    bad = run("--now", NOW.isoformat(), str(SHOW_FIXTURES / "callhome_plain_http.txt"))
    assert bad.returncode == 1 and "callhome_plain_http" in bad.stdout
    assert "destination-profile CiscoTAC-1 index 1 http https://tools.cisco.com" in bad.stdout
    good = run("--now", CAPTURED.isoformat(), str(SHOW_FIXTURES / HEALTHY))
    assert good.returncode == 0 and "no findings" in good.stdout
    assert run("--format", "xml", "x").returncode == 2
    as_json = run("--format", "json", "--now", NOW.isoformat(), str(SHOW_FIXTURES / "communication_failed.txt"))
    document = json.loads(as_json.stdout)
    problems = {f["problem"]: f for f in document["findings"]}
    assert problems["registration_failing"]["severity"] == "warning"
    assert problems["registration_failing"]["deadline"] == "2026-11-18T09:25:01-05:00"


def test_nothing_personal_is_printed() -> None:
    out = run("--now", NOW.isoformat(), str(SHOW_FIXTURES / "callhome_plain_http.txt"),
              str(SHOW_FIXTURES / "session_crlf_pager.txt"), str(SYSLOG_FIXTURES))
    for secret in ("noc@example.net", "555-0100", "Example Way", "ZmFrZS10b2tlbi1mb3ItdGVzdHMtb25seQ"):
        assert secret not in out.stdout + out.stderr


def test_problem_series_in_the_metrics() -> None:
    out = subprocess.run([sys.executable, "-m", "lic_exporter", "parse", "--format", "prometheus", "--now",
                          NOW.isoformat(), str(SHOW_FIXTURES / "callhome_plain_http.txt")],
                         capture_output=True, text=True)
    assert ('cisco_smartlic_problem{device="n9k-leaf-12",problem="callhome_plain_http",severity="critical"} 1.0'
            in out.stdout)


def test_evaluation_past_its_end_is_expired_and_near_its_end_critical() -> None:
    path = SHOW_FIXTURES / "eval_mode.txt"  # evaluation ends 2026-05-13
    assert findings_for(path, now=datetime(2026, 6, 1, tzinfo=UTC))["n9k-eval-01"] >= {"evaluation_expired"}
    assert "evaluation_mode" not in findings_for(path, now=datetime(2026, 6, 1, tzinfo=UTC))["n9k-eval-01"]
    near = diagnose(fleet_facts(device_views(Parser().parse_file(path).records), Tally()),
                    datetime(2026, 5, 10, tzinfo=UTC))
    assert [f.severity for f in near if f.problem == "evaluation_mode"] == ["critical"]


def test_a_first_registration_failure_is_not_a_renewal_failure() -> None:
    found = findings_for(SHOW_FIXTURES / "registration_failed.txt")["n3k-edge-04"]
    assert "registration_failed" in found and "registration_failing" not in found


def test_unparsable_input_fails_the_gate(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.txt", "Registration:\n  Status: REGISTERED\n")
    out = run("--now", CAPTURED.isoformat(), str(broken))
    assert out.returncode == 1 and "broken.txt:2:" in out.stderr and "input problem" in out.stdout


def reason_counts(text: str) -> dict[str, int]:
    """`response 2, dns 1` -> {"response": 2, "dns": 1}"""
    return {reason: int(n) for reason, n in (item.split() for item in text.split(", "))}


def test_diagnose_the_table_and_the_metrics_count_callhome_failures_alike() -> None:
    """One rule (the contract's, cisco_smartlic_callhome_failures_total: syslog lines only, no
    follow-on messages, no show output `Failure reason:`), read from each output on its own."""
    examples = [str(PROJECT / "examples" / "fleet"), str(PROJECT / "examples" / "syslog")]
    now = "2026-12-02T12:00:00+00:00"

    def lic_exporter(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "lic_exporter", *args, "--now", now, *examples],
                              capture_output=True, text=True).stdout

    diagnosed = {}
    for finding in json.loads(lic_exporter("diagnose", "--format", "json"))["findings"]:
        counted = re.match(r"Failed attempts seen \(([^)]*)\)", finding["why"])
        if finding["problem"].startswith("callhome_failing_") and counted:
            diagnosed[finding["device"]] = reason_counts(counted[1])
    header, *rows = lic_exporter("parse", "--format", "table").splitlines()
    tabled = {}
    for row in rows:
        cell = row[header.index("SYSLOG FAILURES"):]
        if cell != "-":
            total, reasons = re.fullmatch(r"(\d+) \(([^)]*)\)(?: last \S+)?", cell).groups()
            tabled[row.split()[0]] = reason_counts(reasons)
            assert sum(tabled[row.split()[0]].values()) == int(total), row
    exported: dict[str, dict[str, int]] = {}
    for family in text_string_to_metric_families(lic_exporter("parse", "--format", "prometheus")):
        for sample in family.samples:
            if sample.name == "cisco_smartlic_callhome_failures_total":
                exported.setdefault(sample.labels["device"], {})[sample.labels["reason"]] = int(sample.value)
    # n9k-spine-02: two COMM_FAILED lines; its ID_CERT_RENEW_FAILED follow-on and the failed
    # renewals in its show output count in none of the three.
    assert diagnosed == tabled == exported == {"n3k-edge-07": {"dns": 1}, "n9k-spine-02": {"response": 2}}
