"""diagnose: each rule fires on a fixture that has the fault and stays quiet on a healthy one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lic_exporter.analysis.diagnose import RULES, Facts, Finding, diagnose, fleet_facts
from lic_exporter.analysis.views import device_views
from lic_exporter.model.states import AuthorizationState, Mode, RegistrationState
from lic_exporter.model.vocabulary import DEADLINE_DAYS, Attempt, Deadline, Severity
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.syslog_tally import Tally
from tests.support.paths import FIXTURES, PROJECT, SHOW_FIXTURES, SYSLOG_FIXTURES

NOW = datetime(2026, 4, 25, tzinfo=UTC)  # after policy_ack_overdue's ACK deadline (Apr 20)
CAPTURED = datetime(2026, 3, 6, 12, tzinfo=UTC)  # half a day after the healthy session was captured
HEALTHY = "session_crlf_pager.txt"  # registered, authorized, call-home over HTTPS in the management VRF


def diagnosed(*paths: Path, now: datetime = NOW) -> list[Finding]:
    parser = Parser()
    records, tally = [], Tally()
    for path in paths:
        result = parser.parse_file(path)
        records.extend(result.records)
        if result.syslog:
            tally.merge(result.syslog)
    return diagnose(fleet_facts(device_views(records), tally), now)


def findings_for(*paths: Path, now: datetime = NOW) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in diagnosed(*paths, now=now):
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
    ("policy_ack_overdue.txt", "n9k-border-02", "report_ack_passed"),
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
    header, *rows = lic_exporter("parse", "--format", "table").split("\n\n")[0].splitlines()  # the devices
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


# --- reasoning from the timers -------------------------------------------------------------

PUBLIC = FIXTURES / "public"
SLP_MIGRATE = Path("nxos/show_license_summary/ciscodoc-slpmigrate-partial_1.txt")  # deadline Oct 14 2021


def only(findings: list[Finding], problem: str) -> Finding:
    (found,) = [f for f in findings if f.problem == problem]
    return found


def test_the_corpus_capture_whose_deadline_passed_years_ago_has_expired_by_now(corpus: Path) -> None:
    """The real NX-OS summary says AUTHORIZED with a communication deadline of Oct 14 2021:
    by now (years later) authorization has expired unless the switch communicated since."""
    path = corpus / SLP_MIGRATE
    if not path.is_file():
        pytest.skip(f"{SLP_MIGRATE} is not in the shared corpus")
    deadline = datetime(2021, 10, 14, 14, 20, 59, tzinfo=UTC)
    found = only(diagnosed(path, now=deadline + timedelta(days=1874, hours=1)), "communication_deadline_passed")
    assert found.severity is Severity.CRITICAL and found.deadline == deadline
    assert "passed 1874 days ago (2021-10-14)" in found.what
    assert "has expired by now unless the device communicated with Cisco since" in found.what
    assert "The output says AUTHORIZED" in found.why and "already past when the output was dated" in found.why
    today = datetime.now(UTC)  # and so today, whatever day that is
    days = (today - deadline) / timedelta(days=1)
    assert only(diagnosed(path, now=today), "communication_deadline_passed").what.startswith(
        f"the communication deadline passed {days:.0f} days ago")


def test_a_deadline_that_passed_since_the_capture_says_so_with_the_dates() -> None:
    """session_crlf_pager was captured 2026-03-06, authorized until its deadline: a month
    past the deadline it is critical; before the window nothing; inside it, near."""
    path = SHOW_FIXTURES / HEALTHY
    facts = fleet_facts(device_views(Parser().parse_file(path).records), Tally())
    deadline = facts[0].deadlines[Deadline.COMMUNICATION_DEADLINE]
    after = only(diagnose(facts, deadline + timedelta(days=30)), "communication_deadline_passed")
    assert f"({deadline:%Y-%m-%d})" in after.what and "passed 30 days ago" in after.what
    assert f"after {facts[0].captured:%Y-%m-%d}" in after.why and "AUTHORIZATION EXPIRED" in after.why
    window = DEADLINE_DAYS[Deadline.COMMUNICATION_DEADLINE]

    def timers(now: datetime) -> list[tuple[str, Severity]]:
        return [(f.problem, f.severity) for f in diagnose(facts, now) if f.problem != "stale_capture"]

    assert timers(deadline - timedelta(days=window.warning - 1)) == [("communication_deadline_near", Severity.WARNING)]
    assert timers(deadline - timedelta(days=window.critical - 1)) == [("communication_deadline_near",
                                                                      Severity.CRITICAL)]
    assert timers(deadline - timedelta(days=window.warning + 1)) == []


def at(deadline: Deadline, days: float, **more) -> Facts:
    return Facts("sw-a", deadlines={deadline: NOW + timedelta(days=days)}, captured=NOW - timedelta(days=1),
                 captured_printed=True, **more)


def severity_of(problem: str, facts: Facts) -> Severity | None:
    return next((f.severity for f in diagnose([facts], NOW) if f.problem == problem), None)


@pytest.mark.parametrize(("deadline", "near", "passed", "state"), [
    (Deadline.COMMUNICATION_DEADLINE, "communication_deadline_near", "communication_deadline_passed",
     {"authorization": AuthorizationState.AUTHORIZED}),
    (Deadline.REGISTRATION_EXPIRY, "registration_expiry_near", "registration_expiry_passed",
     {"registration": RegistrationState.REGISTERED}),
    (Deadline.REPORT_ACK, "report_ack_overdue", "report_ack_passed", {"mode": Mode.POLICY}),
])
def test_deadline_findings_follow_the_thresholds_table(deadline: Deadline, near: str, passed: str,
                                                       state: dict) -> None:
    """Warning and critical under the table's marks (DEADLINE_DAYS, never numbers of the
    rules' own); past the deadline the other finding, critical; one of the two at a time."""
    marks = DEADLINE_DAYS[deadline]
    assert severity_of(near, at(deadline, marks.warning + 0.1, **state)) is None
    assert severity_of(near, at(deadline, marks.warning - 0.1, **state)) is Severity.WARNING
    assert severity_of(near, at(deadline, marks.critical - 0.1, **state)) is Severity.CRITICAL
    assert severity_of(passed, at(deadline, marks.critical - 0.1, **state)) is None
    gone = at(deadline, -2, **state)
    assert severity_of(passed, gone) is Severity.CRITICAL and severity_of(near, gone) is None
    assert "2 days ago" in only(diagnose([gone], NOW), passed).what


def test_expired_states_get_no_deadline_finding_of_their_own() -> None:
    """AUTHORIZATION EXPIRED already says it; a failing renewal says the registration expiry."""
    expired = at(Deadline.COMMUNICATION_DEADLINE, -5, authorization=AuthorizationState.AUTHORIZATION_EXPIRED)
    assert {f.problem for f in diagnose([expired], NOW)} == {"authorization_expired"}
    failing = at(Deadline.REGISTRATION_EXPIRY, -3, registration=RegistrationState.REGISTERED,
                 failures={Attempt.REGISTRATION_RENEWAL: "dns"})
    found = diagnose([failing], NOW)
    assert {f.problem for f in found} == {"registration_failing", "callhome_failing_dns"}
    assert "expired 3 days ago" in only(found, "registration_failing").what


def test_a_syslog_reporting_warning_dates_the_report_ack() -> None:
    """NX-OS logs REPORTING_REQUIRED before a report is due: without a show output naming the
    ACK deadline, the newest warning does, while its date is ahead; an old one says nothing."""
    log = PUBLIC / "syslog" / "nxos_slp_reporting_required.log"  # leaf-31: due Apr 2, 2026 (Mar 1 + 32 days)
    found = only(diagnosed(log, now=datetime(2026, 3, 25, tzinfo=UTC)), "report_ack_overdue")
    assert found.device == "dc2-leaf-31" and found.severity is Severity.WARNING
    assert "2026-04-02" in found.what and "syslog warning of 2026-03-01" in found.what
    assert "report_ack" not in str(findings_for(log, now=datetime(2026, 4, 10, tzinfo=UTC)))
    assert "report_ack" not in str(findings_for(log, now=datetime(2026, 3, 1, 12, tzinfo=UTC)))


# --- remedies per platform, wording -------------------------------------------------------

NXOS_ONLY = ("use-vrf", "mgmt0", "callhome\n", "ip domain-lookup", "LICMGR")
IOSXE_ONLY = ("call-home\n", "vrf <mgmt-vrf>", "ip domain lookup", "crypto pki", "ip http client")


def test_an_iosxe_device_is_told_iosxe_commands_only() -> None:
    """The UDI (PID:C9300-24P) says IOS-XE: no NX-OS command form in any fix."""
    found = diagnosed(PUBLIC / "iosxe" / "all_classic_dns_failing_c9300.txt", now=datetime(2026, 3, 3, tzinfo=UTC))
    dns = only(found, "callhome_failing_dns")
    assert dns.fix == "ip domain lookup\nip name-server vrf <mgmt-vrf> <dns-server>"
    for finding in found:
        assert not any(word in finding.fix for word in NXOS_ONLY), finding


def test_an_nxos_device_is_told_nxos_commands_only() -> None:
    """`show callhome` / `show running-config callhome` exist on NX-OS only."""
    found = diagnosed(SHOW_FIXTURES / "callhome_plain_http.txt")
    assert only(found, "callhome_no_vrf").fix == "callhome\n  transport http use-vrf management"
    for finding in found:
        assert not any(word in finding.fix for word in IOSXE_ONLY), finding


def test_an_unknown_platform_is_told_both_forms_labelled() -> None:
    """A lone `show license status` does not tell the platform: both forms, each named."""
    fix = only(diagnosed(SHOW_FIXTURES / "registration_failed.txt"), "callhome_failing_dns").fix
    nxos, iosxe = fix.split("\non IOS-XE:\n")
    assert nxos.startswith("on NX-OS:\n") and "use-vrf management" in nxos and "use-vrf" not in iosxe
    assert "ip name-server vrf <mgmt-vrf> <dns-server>" in iosxe


def test_no_finding_repeats_itself() -> None:
    """`communication with Cisco fails: communication with Cisco fails` was one: a cause of
    `other` adds nothing, and no finding's text says the same thing twice."""
    other = diagnose([Facts("sw-a", syslog_failures={"other": 2})], NOW)
    assert only(other, "callhome_failing_other").what == "communication with Cisco fails"
    examples = [PROJECT / "examples" / "fleet", PROJECT / "examples" / "syslog", SHOW_FIXTURES, PUBLIC]
    findings = diagnosed(*[p for folder in examples for p in sorted(folder.rglob("*")) if p.is_file()])
    assert findings
    for finding in findings:
        head, _, rest = finding.what.partition(": ")
        assert not rest.startswith(head), finding.what


def test_stale_capture_names_the_collector() -> None:
    found = only(diagnosed(SHOW_FIXTURES / "eval_mode.txt", now=datetime(2026, 3, 10, tzinfo=UTC)), "stale_capture")
    assert "lic-exporter collect" in found.fix and "Ansible" not in found.fix
    assert found.what.startswith("newest output captured 2026-03-02")
