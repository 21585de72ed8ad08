"""Fidelity: complete real-world outputs parse whole, a bad line never costs the good ones, and
nothing secret survives a damaged file. Each test stands on an authored fixture that
reproduces one defect found on real outputs or under mutation (tests/fixtures, `derived_from`)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lic_exporter.exposition.metrics import ExporterStats, devices_text, exposition
from lic_exporter.model.states import EntitlementState, Mode
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.syslog_tally import Tally
from tests.support.daemon import Daemon
from tests.support.paths import FIXTURES, PROJECT

SHOW = FIXTURES / "show"
DEFECTS = FIXTURES / "defects"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lic_exporter", *args], capture_output=True, text=True, timeout=60)


# --- complete IOS-XE outputs are read whole ------------------------------------------------

def test_summary_without_deadline_and_with_no_licences_is_whole(parser: Parser) -> None:
    result = parser.parse_file(SHOW / "summary_no_licenses.txt")
    assert result.issues == ()
    [record] = result.records
    assert record.mode is Mode.SMART and record.authorization.state.value == "authorized"
    assert record.authorization.communication_deadline is None
    assert record.entitlements == ()  # the table's only line says so: an empty list, not an error


def test_tech_support_licences_are_read_from_their_handle_blocks(parser: Parser) -> None:
    [record] = parser.parse_file(SHOW / "techsupport_handles.txt").records
    got = [(e.tag, e.name, e.count, e.state, e.enforcement, e.license_type) for e in record.entitlements]
    assert got == [
        ("C9300-48 Network Advantage", "network-advantage", 2, EntitlementState.IN_USE, "NOT ENFORCED", "Perpetual"),
        ("C9300-48 DNA Advantage", "dna-advantage", 2, EntitlementState.IN_USE, "NOT ENFORCED", "Subscription"),
        ("U.S. Export Restriction Compliance license for DNA based Routers", "hseck9", 0, EntitlementState.NOT_IN_USE,
         "EXPORT RESTRICTED", "Perpetual"),
        ("AIR Network Essentials", "air-network-essentials", 14, EntitlementState.NOT_AUTHORIZED, "ENFORCED",
         "Subscription"),
    ]
    assert record.entitlements[2].regid.startswith("regid.2019-03.com.cisco.DNA_HSEC")
    assert record.udi == "PID:C9300-48P,SN:FOC2522X0AB"  # the list ends where Product Information starts
    text = exposition(devices_text([record]), Tally(), ExporterStats(), record.captured_at).decode()
    assert ('cisco_smartlic_entitlement_licenses{device="c9300-acc-03",entitlement="AIR Network Essentials"} 14.0'
            in text)


def test_policy_summary_has_a_mode_and_so_an_info_series(parser: Parser) -> None:
    [record] = parser.parse_file(SHOW / "summary_policy_account.txt").records
    assert record.mode is Mode.POLICY and record.account.smart_account == "Example Campus Ltd"
    text = exposition(devices_text([record]), Tally(), ExporterStats(), record.captured_at).decode()
    assert ('cisco_smartlic_info{device="summary_policy_account",mode="policy",'
            'smart_account="Example Campus Ltd"') in text


# --- cut off is judged by the end of the output ------------------------------------------

@pytest.mark.parametrize("drop", ["  Communication Deadline:", "  Status: AUTHORIZED", "  Status: REGISTERED"])
def test_a_line_missing_mid_output_is_not_a_cut(tmp_path: Path, parser: Parser, drop: str) -> None:
    """The same line missing where more follows (a prompt, another block) costs nothing else."""
    text = (SHOW / "summary_classic.txt").read_text()
    lines = [line for line in text.splitlines() if not line.startswith(drop)]
    path = tmp_path / "sw1.txt"
    path.write_text("\n".join(lines) + "\n")
    result = parser.parse_file(path)
    assert result.ok, result.issues
    [record] = result.records
    assert len(record.entitlements) == 2
    if "Status" in drop:  # said once, not silently
        assert [issue.fatal for issue in result.issues] == [False]
        assert "no Status line" in result.issues[0].message


def test_the_same_output_without_the_prompt_after_it_is_a_cut(tmp_path: Path, parser: Parser) -> None:
    text = (SHOW / "communication_failed.txt").read_text()
    cut = text[: text.index("  Communication Deadline")]  # the authorization block is the last thing
    path = tmp_path / "sw1.txt"
    path.write_text(cut)
    [issue] = parser.parse_file(path).issues
    assert "cut off" in issue.message and "Communication Deadline" in issue.message
    path.write_text(cut + "n9k-spine-01#\n")  # the device's prompt came back: whole as printed
    result = parser.parse_file(path)
    assert result.issues == () and result.records[0].authorization.communication_deadline is None


# --- time zones ------------------------------------------------------------------------------

def test_a_long_zone_name_gives_exactly_one_error_naming_it_and_tz(parser: Parser) -> None:
    result = parser.parse_file(DEFECTS / "zone_long_name_session.txt")
    assert [str(issue) for issue in result.issues] == [
        f"{DEFECTS / 'zone_long_name_session.txt'}:2: unknown time zone 'pacific' (add it with --tz pacific=+HH:MM)"]


def test_tz_applies_to_every_zone_name_in_show_outputs_and_syslog() -> None:
    out = run("parse", "--format", "json", "--jobs", "1", "--tz", "pacific=-08:00", "--tz", "Europe=+01:00",
              str(DEFECTS / "zone_long_name_session.txt"), str(DEFECTS / "zone_long_name.log"))
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)["records"]
    [status] = [r for r in records if r["command"] == "show license status"]
    assert status["captured_at"] == "2026-10-15T09:41:22.517000-08:00"
    assert status["authorization"]["communication_deadline"] == "2027-01-12T21:56:00-08:00"
    times = sorted(r["time"] for r in records if r["source"].endswith(".log"))
    assert times == ["2026-10-14T21:31:00-08:00", "2026-10-14T22:01:05-08:00", "2026-10-14T23:15:41+01:00"]


@pytest.mark.parametrize("bad", ["XYZ=+25:00", "XYZ=+14:30", "XYZ=-12:60", "X Y=+01:00"])
def test_tz_offsets_out_of_range_are_usage_errors(bad: str) -> None:
    out = run("parse", "--tz", bad, str(SHOW / "eval_mode.txt"))
    assert out.returncode == 2 and "--tz" in out.stderr and "Traceback" not in out.stderr


# --- syslog with corrupt lines -------------------------------------------------------------

NUL_LOG = DEFECTS / "collector_nul_line.log"


def test_a_syslog_file_with_nul_bytes_is_still_syslog_in_parse_and_diagnose() -> None:
    out = run("parse", "--format", "prometheus", "--jobs", "1", str(NUL_LOG))
    assert out.returncode == 1
    assert f"{NUL_LOG}:3: 1 line(s) with NUL bytes" in out.stderr
    assert 'cisco_smartlic_callhome_failures_total{device="n9k-east-02",reason="dns"} 2.0' in out.stdout
    assert 'cisco_smartlic_callhome_failures_total{device="n9k-east-02",reason="http_send"} 1.0' in out.stdout
    assert 'lic_exporter_syslog_skipped_lines_total{reason="nul"} 1.0' in out.stdout
    diagnosis = run("diagnose", "--format", "json", "--jobs", "1", str(NUL_LOG))
    findings = json.loads(diagnosis.stdout)["findings"]
    assert [(f["device"], f["problem"]) for f in findings] == [("n9k-east-02", "callhome_failing_dns")]


def test_serve_counts_the_same_lines_of_that_file(tmp_path: Path) -> None:
    log = tmp_path / "collector.log"
    log.write_bytes(NUL_LOG.read_bytes())
    daemon = Daemon("--syslog", str(log), "--jobs", "1")
    try:
        daemon.wait_ready()
        samples = daemon.samples()
        failures = {k: v for k, v in samples.items() if k[0] == "cisco_smartlic_callhome_failures_total"}
        assert failures == {
            ("cisco_smartlic_callhome_failures_total", (("device", "n9k-east-02"), ("reason", "dns"))): 2.0,
            ("cisco_smartlic_callhome_failures_total", (("device", "n9k-east-02"), ("reason", "http_send"))): 1.0}
        assert samples[("lic_exporter_syslog_skipped_lines_total", (("reason", "nul"),))] == 1.0
    finally:
        daemon.stop()


# --- what mutation fuzzing found ----------------------------------------------------------

def test_unconfigured_callhome_is_a_disabled_record_and_the_session_keeps_the_rest(parser: Parser) -> None:
    result = parser.parse_file(SHOW / "callhome_unconfigured_session.txt")
    assert result.issues == ()
    kinds = {(record.command, getattr(record, "enabled", None)) for record in result.records}
    assert kinds == {("show license status", None), ("show running-config callhome", False),
                     ("show callhome", False)}
    out = run("diagnose", "--format", "json", "--jobs", "1", str(SHOW / "callhome_unconfigured_session.txt"))
    assert "callhome_disabled" in {f["problem"] for f in json.loads(out.stdout)["findings"]}


@pytest.mark.parametrize(("old", "new"), [
    ("Count: 14", "Count: " + "9" * 400),                       # past a float: rendering overflowed
    ("Oct 02 07:14:09 2026 UTC", "Oct 02 07:14:09 2026 +99:99"),  # a zone offset timezone() refuses
    ("INSTALLED on Sep 30 11:02:51 2026 UTC", "INSTALLED on Sep " + "3" * 20 + " 11:02:51 2026 UTC"),  # fuzz
])
def test_out_of_range_values_are_errors_in_every_format(tmp_path: Path, old: str, new: str) -> None:
    path = tmp_path / "c9300.txt"
    path.write_text((SHOW / "techsupport_handles.txt").read_text().replace(old, new, 1))
    for command, form in [("parse", "prometheus"), ("parse", "json"), ("parse", "table"), ("diagnose", "text")]:
        out = run(command, "--format", form, "--jobs", "1", str(path))
        assert out.returncode == 1, (form, out.stderr)
        assert "Traceback" not in out.stderr and "internal error" not in out.stderr
        assert out.stderr.startswith(f"{path}:")


def test_an_overlong_grace_comment_is_an_error_of_its_line(tmp_path: Path, parser: Parser) -> None:
    """Found by the fuzzer: the legacy table's duration escaped its bounded conversion."""
    text = (SHOW / "usage_legacy_pak_n7k.txt").read_text().replace("Grace 41D 7H", "Grace " + "41D " * 60)
    path = tmp_path / "n7k.txt"
    path.write_text(text)
    [issue] = parser.parse_file(path).issues
    assert issue.message.startswith("Comments: not a duration") and "MPLS_PKG" in text.splitlines()[issue.line - 1]


def test_an_internal_error_is_one_line_naming_the_file(tmp_path: Path, monkeypatch) -> None:
    from lic_exporter.parsing import build

    def broken(*args, **kwargs):
        raise IndexError("planted")

    monkeypatch.setattr(build, "license_record", broken)
    path = tmp_path / "sw.txt"
    path.write_text((SHOW / "eval_mode.txt").read_text())
    result = Parser().parse_file(path)
    assert [str(issue) for issue in result.issues] == [
        f"{path}: internal error (IndexError: planted); please report it with this file"]


# --- secrets -------------------------------------------------------------------------------

PROXY_STATUS = """Smart Licensing is ENABLED

Transport:
  Type: Smart
  URL: https://smartreceiver.cisco.com/licservice/license
  Proxy:
    Address: http://svc_licproxy:Pr0xyS3cret-77@proxy.example.net
    Port: 8080
    Username: svc_licproxy
    Password: Pr0xyS3cret-77
  VRF:
    Mgmt-vrf

Registration:
  Status: REGISTERED
  Last Renewal Attempt: FAILED on Oct 01 10:20:41 2026 UTC
    Failure reason: Fail to send out Smart Licensing message to: http://svc_licproxy:Pr0xyS3cret-77@proxy.example.net
  Next Renewal Attempt: Oct 02 10:20:41 2026 UTC
  Registration Expires: Oct 01 10:15:02 2027 UTC

License Authorization:
  Status: AUTHORIZED on Oct 14 22:01:05 2026 UTC
  Communication Deadline: Jan 12 21:56:00 2027 UTC
"""


@pytest.mark.parametrize("damage", [
    lambda t: t,
    lambda t: t.replace("    Address:", "Address:"),                      # re-indented
    lambda t: t.replace("  Proxy:\n", ""),                                # its neighbour removed
    lambda t: t.replace("://svc", ":/svc"),                              # a damaged scheme
    lambda t: t.replace("@proxy", "#proxy"),                             # a damaged separator
])
def test_proxy_credentials_never_reach_json(tmp_path: Path, damage) -> None:
    path = tmp_path / "sw.txt"
    path.write_text(damage(PROXY_STATUS))
    out = run("parse", "--format", "json", "--jobs", "1", str(path))
    assert "Pr0xyS3cret" not in out.stdout + out.stderr
    assert "svc_licproxy" not in out.stdout + out.stderr


@pytest.mark.parametrize("line", [
    "%CALLHOME-2-EVENT: license smart register i%dtoken ODRlOTM5MjItOTQ3Mi00ZTE0LWJhMTQtOTg5MmQ2NzE1NTYy%0AODQ5NTV8",
    "%CALLHOME-2-EVENT: stre\x1b[31metaddress 4711 Quarry Lane Suite 9",
    "%CALLHOME-2-EVENT: phone-cont0ct +1-408-555-0173 via noc",
    "%CALLHOME-2-EVENT: email-c0ntact noc.licensing-jrivera@example-corp.test",
    "%CALLHOME-2-EVENT: email-contact noc.licensing-jrivera#example-corp.test",
])
def test_syslog_messages_keep_no_secret_when_the_keyword_is_damaged(tmp_path: Path, line: str) -> None:
    path = tmp_path / "collector.log"
    path.write_text(f"<186>n9k-a1: 2026 Oct 14 21:31:00 UTC: {line}\n" * 3)
    out = run("parse", "--format", "json", "--jobs", "1", str(path))
    records = json.loads(out.stdout)["records"]
    assert [r["mnemonic"] for r in records] == ["EVENT"] * 3
    for secret in ("ODRlOTM5MjItOTQ3Mi00ZTE0", "Quarry Lane", "555-0173", "jrivera", "\x1b"):
        assert secret not in out.stdout


# --- the import graph ----------------------------------------------------------------------

def test_the_package_has_no_import_cycle() -> None:
    package = PROJECT / "lic_exporter"
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package).with_suffix("").parts)
        graph[module] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                base = module.split(".")[:-node.level] if "." in module else []
                target = ".".join([*base, node.module] if node.module else base)
                names = [target] if node.module else [alias.name for alias in node.names]
                graph[module].update(name for name in names if name)
    seen: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            assert seen.get(nxt) != 1, f"import cycle: {' -> '.join([*path, nxt])}"
            if nxt in graph and nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for module in sorted(graph):
        if module not in seen:
            visit(module, [module])
