"""Account snapshots (`*.accounts.json`) read as `parse` and `diagnose` read them: the records,
`parse --format json|table|prometheus` with the values the snapshots state, and every way a
snapshot can be broken, each an error naming the file and the key, never the value found there.

The snapshots in tests/fixtures/accounts/ are this project's own, shaped as the contract's
"Accounts" section lists Cisco's answers (the licenceDetails fields as Cisco's published API
models name them: licenseType TERM / DEMO / PERPETUAL, startDate / endDate as yyyy-mm-dd).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lic_exporter.model.accounts import AccountRecord
from lic_exporter.model.states import AccountLicenseState
from lic_exporter.parsing import accounts as snapshots
from lic_exporter.parsing import walk
from lic_exporter.parsing.files import Parser
from tests.support.paths import FIXTURES, PROJECT
from tests.support.prometheus import binary
from tests.support.unprivileged import find_unprivileged, scratch_folder

ACCOUNTS = FIXTURES / "accounts"
CSSM, ONPREM, DAMAGED = ACCOUNTS / "cisco.accounts.json", ACCOUNTS / "dc1-onprem.accounts.json", \
    ACCOUNTS / "damaged.accounts.json"
# Device outputs without the example fleet's own snapshot (examples/fleet/cisco.accounts.json)
DEVICES = ("examples/fleet/n9k-leaf-01", "examples/fleet/n9k-leaf-02", "examples/fleet/n9k-spine-02-session.log")
NOW = "2026-12-02T12:00:00+00:00"
ADVANTAGE, ESSENTIALS = "NX-OS Advantage for N9K 48p 10/25G", "NX-OS Essentials for N9K 48p 10/25G"
SECRET = "s3cr3t-VALUE-never-printed"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lic_exporter", *args], capture_output=True, text=True,
                          timeout=120, cwd=PROJECT)


def record_of(path: Path) -> AccountRecord:
    result = Parser().parse_file(path)
    assert result.ok and not result.records, [str(issue) for issue in result.issues]
    [record] = result.accounts
    return record


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# ---------------------------------------------------------------- records

def test_cssm_snapshot_becomes_one_record_with_every_virtual_account() -> None:
    record = record_of(CSSM)
    assert (record.kind, record.command, record.source, record.account_source, record.type, record.smart_account) == \
        ("accounts", "accounts", str(CSSM), "cisco", "cssm", "example.com")
    assert record.polled_at == utc("2026-12-02T06:00:00+00:00")
    assert record.virtual_accounts == ("DC1-Fabric", "DC2", "Lab-Empty")  # the empty one still listed
    assert record.alerts is None  # CSSM has none
    by_key = {(item.virtual_account, item.license): item for item in record.licenses}
    assert set(by_key) == {("DC1-Fabric", ADVANTAGE), ("DC1-Fabric", ESSENTIALS), ("DC2", ESSENTIALS)}
    short = by_key[("DC1-Fabric", ADVANTAGE)]
    assert (short.quantity, short.in_use, short.available, short.shortage) == (10, 12, -2, 2)
    assert short.state is AccountLicenseState.OUT_OF_COMPLIANCE and short.state_text == "Out Of Compliance"
    assert short.term_end == utc("2027-01-31T00:00:00+00:00")  # a day: its start, in UTC
    mixed = by_key[("DC1-Fabric", ESSENTIALS)]
    assert [detail.license_type for detail in mixed.details] == ["PERPETUAL", "TERM", "TERM"]
    assert mixed.term_end == utc("2026-12-20T00:00:00+00:00")  # the earlier TERM; PERPETUAL has no end
    assert (mixed.billing_type, mixed.pending_quantity, mixed.reserved) == ("PREPAID", 2, 1)
    demo = by_key[("DC2", ESSENTIALS)]
    assert demo.term_end == utc("2026-12-15T07:30:00+00:00")  # DEMO counts; printed at +02:00
    assert demo.details[0].end is None  # an empty endDate is no date


def test_onprem_snapshot_names_no_virtual_account_and_counts_alerts() -> None:
    record = record_of(ONPREM)
    assert (record.type, record.smart_account, record.account_source) == ("onprem", "Example Networks", "dc1-onprem")
    assert record.virtual_accounts == ("", "Lab")
    states = {item.license: (item.virtual_account, item.available, item.state) for item in record.licenses}
    assert states[ESSENTIALS] == ("", -1, AccountLicenseState.OUT_OF_COMPLIANCE)  # "Out of compliance"
    assert states["DCN Lab Bundle"] == ("Lab", 3, AccountLicenseState.UNKNOWN)  # "Evaluation": not a state
    assert [alert.severity for alert in record.alerts or ()] == ["major", "major", "minor"]
    assert record.alerts is not None and record.alerts[0].alert_source == ESSENTIALS


def cssm_document() -> dict[str, Any]:
    return json.loads(CSSM.read_text())


def write(tmp_path: Path, document: Any, name: str = "cisco.accounts.json") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_pages_of_one_virtual_account_add_up_and_a_repeated_row_keeps_the_first(tmp_path: Path) -> None:
    document = cssm_document()
    rows = [{"license": f"Licence {number:03d}", "virtualAccount": "DC2", "quantity": number, "inUse": 1,
             "available": number - 1, "status": "In Compliance"} for number in range(150)]
    repeated = {**rows[99], "quantity": 999, "inUse": 999, "available": -999}  # the page boundary moved
    document["answers"][2:3] = [
        {"request": "licenses", "virtual_account": "DC2", "offset": 0,
         "body": {"totalRecords": 150, "licenses": rows[:100]}},
        {"request": "licenses", "virtual_account": "DC2", "offset": 100,
         "body": {"totalRecords": 150, "licenses": [repeated, *rows[100:]]}}]
    record = record_of(write(tmp_path, document))
    dc2 = {item.license: item for item in record.licenses if item.virtual_account == "DC2"}
    assert len(dc2) == 150
    assert (dc2["Licence 099"].quantity, dc2["Licence 099"].available) == (99, 98)  # the first row stands


@pytest.mark.parametrize(("printed", "expected"), [
    ("2027-01-31", "2027-01-31T00:00:00+00:00"),
    ("2027-01-31T10:15:00Z", "2027-01-31T10:15:00+00:00"),
    ("2027-01-31T10:15:00.000+0000", "2027-01-31T10:15:00+00:00"),
    ("2027-01-31T10:15:00-05:00", "2027-01-31T15:15:00+00:00"),
    ("2027-01-31 10:15:00", "2027-01-31T10:15:00+00:00"),  # no zone: taken as UTC
])
def test_dates_as_cisco_prints_them_are_aware_utc(tmp_path: Path, printed: str, expected: str) -> None:
    document = cssm_document()
    document["answers"][1]["body"]["licenses"][0]["licenseDetails"][0]["endDate"] = printed
    licence = record_of(write(tmp_path, document)).licenses[0]
    assert licence.term_end == utc(expected) and licence.term_end.utcoffset().total_seconds() == 0


def test_records_cross_worker_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker-process path (many files, --jobs): account records come back whole."""
    for number in range(4):
        document = cssm_document()
        document["source"] = f"cisco{number}"
        write(tmp_path, document, f"cisco{number}.accounts.json")
    monkeypatch.setattr(walk, "PARALLEL_MIN_FILES", 2)
    results = list(Parser().parse_paths([tmp_path], jobs=2))
    assert sorted(record.account_source for result in results for record in result.accounts) == \
        ["cisco0", "cisco1", "cisco2", "cisco3"]
    assert all(len(result.accounts[0].licenses) == 3 for result in results)


def test_newest_snapshot_of_a_source_stands(tmp_path: Path) -> None:
    old = cssm_document()
    old["polled_at"] = "2026-11-30T06:00:00+00:00"
    old["answers"][1]["body"]["licenses"][0]["available"] = 5
    write(tmp_path, old, "cisco-copy.accounts.json")
    write(tmp_path, cssm_document())
    out = run("parse", "--format", "prometheus", "--now", NOW, str(tmp_path))
    assert out.returncode == 0, out.stderr
    values = samples(out.stdout)
    assert values[("cisco_smartlic_account_license_available", ("cisco", "example.com", "DC1-Fabric", ADVANTAGE))] \
        == -2  # the later poll's; and one series, not two (samples() asserts none is repeated)


# ---------------------------------------------------------------- parse's three formats

def test_parse_json_lists_account_records_beside_device_records() -> None:
    out = run("parse", "--format", "json", str(CSSM), str(ONPREM), *DEVICES)
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)["records"]
    accounts = [record for record in records if record["command"] == "accounts"]
    assert len(records) > len(accounts) == 2
    assert {(r["source"], r["account_source"], r["kind"]) for r in accounts} == \
        {(str(CSSM), "cisco", "accounts"), (str(ONPREM), "dc1-onprem", "accounts")}
    cisco = next(record for record in accounts if record["account_source"] == "cisco")
    assert cisco["polled_at"] == "2026-12-02T06:00:00+00:00"
    assert cisco["licenses"][0] | {"details": None} == {
        "virtual_account": "DC1-Fabric", "license": ADVANTAGE, "quantity": 10, "in_use": 12, "available": -2,
        "state": "out_of_compliance", "state_text": "Out Of Compliance", "billing_type": "SUBSCRIPTION",
        "pending_quantity": 0, "reserved": 0, "details": None, "term_end": "2027-01-31T00:00:00+00:00"}


def test_parse_table_lists_account_licences_after_the_devices() -> None:
    out = run("parse", "--now", NOW, "--color", "always", *DEVICES, str(CSSM), str(ONPREM))
    assert out.returncode == 0, out.stderr
    devices, accounts = out.stdout.split("\n\n")
    assert devices.startswith("DEVICE") and "n9k-leaf-01" in devices
    lines = accounts.splitlines()
    assert lines[0].split() == ["SOURCE", "SMART", "ACCOUNT", "VIRTUAL", "ACCOUNT", "LICENSE", "QUANTITY", "IN",
                                "USE", "AVAILABLE", "STATUS", "TERM", "END"]
    red, yellow = "\033[31m", "\033[33m"
    short = next(line for line in lines if "DC1-Fabric" in line and ADVANTAGE in line)
    assert f"{red}-2" in short and f"{red}Out Of Compliance" in short and "2027-01-31 (60 d)" in short
    ending = next(line for line in lines if "DC1-Fabric" in line and ESSENTIALS in line)
    assert f"{yellow}2026-12-20 (18 d)" in ending  # within TERM_END_DAYS.warning (30), not .critical (7)
    assert any("Lab-Empty" in line and "(no licences)" in line for line in lines)
    onprem = [line for line in lines if line.startswith("dc1-onprem")]
    assert len(onprem) == 3 and all("Example Networks" in line for line in onprem)


def test_parse_table_of_accounts_alone() -> None:
    out = run("parse", "--now", NOW, "--color", "never", str(CSSM))
    assert out.returncode == 0 and out.stdout.startswith("SOURCE") and "\033[" not in out.stdout


def samples(page: str) -> dict[tuple[str, tuple[str, ...]], float]:
    found: dict[tuple[str, tuple[str, ...]], float] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            key = (sample.name, tuple(sample.labels.values()))
            assert key not in found, f"repeated series {key}"
            found[key] = sample.value
    return found


def test_parse_prometheus_states_the_snapshots_values() -> None:
    out = run("parse", "--format", "prometheus", "--now", NOW, str(CSSM), str(ONPREM))
    assert out.returncode == 0, out.stderr
    values = samples(out.stdout)
    short = ("cisco", "example.com", "DC1-Fabric", ADVANTAGE)
    assert values[("cisco_smartlic_account_license_quantity", short)] == 10
    assert values[("cisco_smartlic_account_license_in_use", short)] == 12
    assert values[("cisco_smartlic_account_license_available", short)] == -2
    for labels in [short, ("cisco", "example.com", "DC2", ESSENTIALS),
                   ("dc1-onprem", "Example Networks", "", ESSENTIALS),
                   ("dc1-onprem", "Example Networks", "Lab", "DCN Lab Bundle")]:
        states = {state: values[("cisco_smartlic_account_license_status", (*labels, state))]
                  for state in ("in_compliance", "out_of_compliance", "unknown")}
        assert sorted(states.values()) == [0, 0, 1], labels  # all three, exactly one 1
    assert values[("cisco_smartlic_account_license_status", (*short, "out_of_compliance"))] == 1
    term_end = "cisco_smartlic_account_license_term_end_timestamp_seconds"
    assert values[(term_end, short)] == utc("2027-01-31T00:00:00+00:00").timestamp()
    assert values[(term_end, ("cisco", "example.com", "DC1-Fabric", ESSENTIALS))] == \
        utc("2026-12-20T00:00:00+00:00").timestamp()
    assert values[(term_end, ("cisco", "example.com", "DC2", ESSENTIALS))] == \
        utc("2026-12-15T07:30:00+00:00").timestamp()
    assert not [key for key in values if key[0] == term_end and key[1][0] == "dc1-onprem"]  # none: no details
    alerts = {key[1]: value for key, value in values.items() if key[0] == "cisco_smartlic_account_alerts"}
    assert alerts == {("dc1-onprem", "Example Networks", "major"): 2, ("dc1-onprem", "Example Networks", "minor"): 1}
    assert not [key for key in values if key[0].startswith("lic_exporter_accounts_")]  # the daemon's, not parse's


def test_parse_prometheus_page_passes_promtool() -> None:
    out = run("parse", "--format", "prometheus", "--now", NOW, str(CSSM), str(ONPREM), *DEVICES)
    done = subprocess.run([binary("promtool"), "check", "metrics"], input=out.stdout.encode(), capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_account_family_without_account_snapshots() -> None:
    out = run("parse", "--format", "prometheus", "--now", NOW, *DEVICES)
    assert "cisco_smartlic_account_" not in out.stdout and "lic_exporter_accounts_" not in out.stdout


def test_diagnose_groups_account_findings_under_their_account() -> None:
    out = run("diagnose", "--now", NOW, "--color", "never", str(CSSM))
    assert out.returncode == 1, out.stderr  # warnings found
    heads = [line for line in out.stdout.splitlines() if line and not line.startswith(" ")]
    assert heads == sorted(set(heads), key=heads.index)  # each account once
    assert "account cisco/DC1-Fabric" in heads
    assert "account_shortage" in out.stdout and ADVANTAGE in out.stdout


# ---------------------------------------------------------------- broken snapshots

def mutated(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(cssm_document())
    change(document)
    return document


def licence0(document: dict[str, Any]) -> dict[str, Any]:
    return document["answers"][1]["body"]["licenses"][0]


BROKEN = {
    "format missing": (lambda d: d.pop("format"), "format: missing: not an account snapshot"),
    "format of another version": (lambda d: d.update(format=SECRET), "format: not lic_exporter.accounts/1"),
    "unknown type": (lambda d: d.update(type=SECRET), "type: unknown: expected cssm or onprem"),
    "type missing": (lambda d: d.pop("type"), "type: missing (cssm or onprem)"),
    "source missing": (lambda d: d.pop("source"), "source: missing"),
    "polled_at not a date": (lambda d: d.update(polled_at=SECRET), "polled_at: not a date"),
    "answers not a list": (lambda d: d.update(answers={"x": SECRET}), "answers: not a list"),
    "unknown request": (lambda d: d["answers"][2].update(request=SECRET),
                        "answers[2].request: unknown for a cssm source (expected virtual_accounts or licenses)"),
    "alerts in a cssm snapshot": (lambda d: d["answers"][2].update(request="alerts"), "answers[2].request: unknown"),
    "body missing": (lambda d: d["answers"][3].pop("body"), "answers[3].body: missing"),
    "licenses not a list": (lambda d: d["answers"][1]["body"].update(licenses=SECRET),
                            "answers[1].body.licenses: not a list"),
    "available not a number": (lambda d: licence0(d).update(available=SECRET),
                               "answers[1].body.licenses[0].available: not a number"),
    "quantity not whole": (lambda d: licence0(d).update(quantity=2.5),
                           "answers[1].body.licenses[0].quantity: not a whole number"),
    "in use a boolean": (lambda d: licence0(d).update(inUse=True), "answers[1].body.licenses[0].inUse: not a number"),
    "licence name missing": (lambda d: licence0(d).pop("license"), "answers[1].body.licenses[0].license: missing"),
    "licence not an object": (lambda d: d["answers"][1]["body"]["licenses"].append(SECRET),
                              "answers[1].body.licenses[2]: not an object"),
    "end date not a date": (lambda d: licence0(d)["licenseDetails"][0].update(endDate=SECRET),
                            "answers[1].body.licenses[0].licenseDetails[0].endDate: not a date"),
    "no such day": (lambda d: licence0(d)["licenseDetails"][0].update(endDate="2027-02-30"),
                    "answers[1].body.licenses[0].licenseDetails[0].endDate: not a date (no such day or time)"),
    "detail type missing": (lambda d: licence0(d)["licenseDetails"][0].pop("licenseType"),
                            "answers[1].body.licenses[0].licenseDetails[0].licenseType: missing"),
    "virtual account name not a string": (lambda d: d["answers"][0]["body"]["virtualAccounts"][1].update(name=7),
                                          "answers[0].body.virtualAccounts[1].name: not a string"),
    "polled virtual account missing": (lambda d: d["answers"][3].pop("virtual_account"),
                                       "answers[3].virtual_account: missing"),
    "no answers at all": (lambda d: d.update(answers=[]), "answers: no licenses answer"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_each_broken_snapshot_is_an_error_naming_file_and_key(tmp_path: Path, case: str) -> None:
    change, expected = BROKEN[case]
    path = write(tmp_path, mutated(change))
    result = Parser().parse_file(path)
    assert not result.ok and not result.accounts and not result.records
    messages = [str(issue) for issue in result.issues]
    assert any(message.startswith(f"{path}: {expected}") for message in messages), messages
    assert not any(SECRET in message for message in messages)  # the value found is never quoted


def test_onprem_snapshot_needs_both_answers(tmp_path: Path) -> None:
    document = json.loads(ONPREM.read_text())
    document["answers"].pop()
    document["answers"][0]["body"]["licenses"][1]["severity"] = 3  # not read on a licence: no problem
    result = Parser().parse_file(write(tmp_path, document, "dc1-onprem.accounts.json"))
    assert [issue.message for issue in result.issues] == ["answers: no alerts answer"]


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    def break_two(document: dict[str, Any]) -> None:
        licence0(document).update(available="x", inUse=None)
        document["answers"][2]["body"]["licenses"][0].update(quantity=[1])

    result = Parser().parse_file(write(tmp_path, mutated(break_two)))
    assert [issue.message for issue in result.issues] == [
        "answers[1].body.licenses[0].available: not a number",  # inUse null: not stated, no problem
        "answers[2].body.licenses[0].quantity: not a number"]


def test_a_file_of_junk_is_a_bounded_number_of_problems(tmp_path: Path) -> None:
    document = cssm_document()
    document["answers"][1]["body"]["licenses"] = [{"license": 1}] * 500
    result = Parser().parse_file(write(tmp_path, document))
    assert len(result.issues) == snapshots.MAX_ISSUES + 1
    assert result.issues[-1].message == f"{500 - snapshots.MAX_ISSUES} more problems"


@pytest.mark.parametrize(("text", "line", "message"), [
    ('{"format": "lic_exporter.accounts/1",\n "source": "cisco",\n "type" "cssm"}', 3,
     "not valid JSON: Expecting ':' delimiter (column 9)"),
    ("", None, "empty file: no account snapshot saved"),
    ("[1, 2]", None, "(top level): not an object"),
])
def test_damaged_json_names_the_line(tmp_path: Path, text: str, line: int | None, message: str) -> None:
    path = write(tmp_path, text)
    [issue] = Parser().parse_file(path).issues
    assert (issue.path, issue.line, issue.message) == (str(path), line, message)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.accounts.json"
    path.write_bytes(b'{\n"source": "\xff"}')
    [issue] = Parser().parse_file(path).issues
    assert (issue.line, issue.message) == (2, "not UTF-8 text")


def test_a_huge_file_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "MAX_DOCUMENT_BYTES", 1024)
    path = write(tmp_path, CSSM.read_text())  # about 3 kB
    [issue] = Parser().parse_file(path).issues
    assert issue.message.startswith("larger than") and issue.message.endswith("MB: not an account snapshot")


def test_an_unreadable_snapshot_is_a_read_error() -> None:
    """Run as a user file modes bind (tests/support/unprivileged.py), so this holds as root too."""
    with scratch_folder() as folder:
        runner = find_unprivileged(folder)
        path = folder / "cisco.accounts.json"
        path.write_text(CSSM.read_text())
        path.chmod(0)
        done = runner.run("parse", "--format", "json", str(path), cwd=folder)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"{path}: cannot read: permission denied"]
    assert json.loads(done.stdout)["records"] == []


def test_damaged_fixture_fails_parse_with_exit_one_and_the_rest_printed() -> None:
    out = run("parse", "--format", "json", str(DAMAGED), str(ONPREM))
    assert out.returncode == 1
    assert out.stderr.splitlines() == [f"{DAMAGED}:18: not valid JSON: Unterminated string starting at (column 71)"]
    document = json.loads(out.stdout)
    assert [record["account_source"] for record in document["records"]] == ["dc1-onprem"]
    assert document["errors"] == [{"path": str(DAMAGED), "line": 18,
                                   "message": "not valid JSON: Unterminated string starting at (column 71)"}]


def test_a_snapshot_met_while_walking_a_folder_is_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    write(tmp_path / "site", "not json at all")
    out = run("parse", str(tmp_path))
    assert out.returncode == 1 and "cisco.accounts.json:1: not valid JSON" in out.stderr
