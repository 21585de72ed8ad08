"""The public vocabulary (lic_exporter/model/vocabulary.py) is the one source: its names are the
contract's and the page's, and the alert rules, the Grafana alerts, the dashboards' colours, the
table's colours and the diagnose severities all follow its one table of thresholds; none of the
generated files or of the modules that judge urgency holds a number of its own."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from lic_exporter.analysis.diagnose import Facts, diagnose
from lic_exporter.exposition.metrics import ExporterStats, exposition
from lic_exporter.model.states import AuthorizationState
from lic_exporter.model.vocabulary import (
    ACCOUNT_POLL_STALE_INTERVALS,
    ATTEMPT_OVERDUE_DAYS,
    CALLHOME_FLEETWIDE,
    CALLHOME_REPEATING,
    CAPTURE_STALE_DAYS,
    COLLECT_REASONS,
    COLLECT_REASONS_ADDED,
    COLLECTION_AGE,
    DEADLINE_DAYS,
    SEVERITIES,
    TERM_END_DAYS,
    Attempt,
    Deadline,
    MetricName,
    Reason,
    Severity,
)
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.syslog_tally import Tally
from tests.support.paths import FIXTURES, PROJECT

CONTRACT = PROJECT.parent / "shared" / "CONTRACT.md"
README = PROJECT / "README.md"
DASHBOARDS = PROJECT / "dashboards"
RULES = DASHBOARDS / "prometheus" / "lic_exporter.rules.yml"
GRAFANA_ALERTS = DASHBOARDS / "grafana" / "provisioning" / "alerting" / "lic_exporter.yml"
BOARDS = sorted((DASHBOARDS / "grafana").glob("*.json"))
EXAMPLES = [str(PROJECT / "examples" / "fleet"), str(PROJECT / "examples" / "syslog")]
NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
_METRIC = re.compile(r"\b(?:cisco_smartlic|lic_exporter)_[a-z_]+")


def contract_row(metric: str) -> str:
    """The contract's table row of a metric."""
    return next(line for line in CONTRACT.read_text().splitlines() if line.startswith(f"| `{metric}` |"))


def backticked(text: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", text))


# --- names -----------------------------------------------------------------------------------

@pytest.mark.skipif(not CONTRACT.is_file(), reason="no ../shared/CONTRACT.md")
def test_label_vocabularies_are_the_contracts() -> None:
    meaning = contract_row(MetricName.DEADLINE_TIMESTAMP).split("|")[4]
    assert {d.value for d in Deadline} == backticked(meaning)
    attempts = (contract_row(MetricName.NEXT_ATTEMPT_TIMESTAMP).split("|")[4]
                + contract_row(MetricName.LAST_ATTEMPT_TIMESTAMP).split("|")[4])
    assert {a.value for a in Attempt} == backticked(attempts)
    assert [s.value for s in SEVERITIES] == ["info", "warning", "critical"]
    assert {s.value for s in Severity} <= backticked(contract_row(MetricName.PROBLEM))
    assert {r.value for r in Reason} == backticked(paragraph("- `reason` (failure causes")) - {"reason"}
    contract_reasons = backticked(paragraph("`reason`: `auth`")) - {"reason"}
    assert contract_reasons <= set(COLLECT_REASONS)  # every one the contract names is kept
    assert set(COLLECT_REASONS) - contract_reasons == COLLECT_REASONS_ADDED  # additions are declared


def paragraph(opening: str) -> str:
    """The contract's paragraph that begins with these words, without what it says in parentheses."""
    text = opening + CONTRACT.read_text().split(opening, 1)[1].split("\n\n", 1)[0]
    return re.sub(r"\([^()]*\)", "", text)


def test_every_metric_name_is_documented() -> None:
    sources = [README, *sorted((PROJECT / "docs").glob("*.md")), *([CONTRACT] if CONTRACT.is_file() else [])]
    documented = "".join(source.read_text() for source in sources)
    assert {name.value for name in MetricName if f"`{name}" not in documented} == set()


ACCOUNT_FIXTURES = FIXTURES / "accounts"


@dataclass
class Collected:
    device: str = "sw-a"
    success: bool | None = True
    seconds: float | None = 1.5
    last_success: float | None = 1.7e9
    next_due: float | None = 1.7e9 + 3600
    interval: float | None = 21600.0
    failures: dict[str, int] = field(default_factory=dict)


@dataclass
class Polled:
    """An account source's polls as AccountPollStatus reads them."""

    source: str = "cisco"
    success: bool | None = True
    last_success: float | None = 1.7e9
    interval: float | None = 21600.0
    failures: dict[str, int] = field(default_factory=dict)


def test_the_page_exposes_exactly_the_vocabularys_families() -> None:
    accounts = [Parser().parse_file(ACCOUNT_FIXTURES / name).accounts[0]
                for name in ("cisco.accounts.json", "dc1-onprem.accounts.json")]
    page = exposition([], Tally(), ExporterStats(config_reload=(True, 1.7e9)), NOW, collect=[Collected()],
                      deadline_days=True, accounts=accounts, account_polls=[Polled()]).decode()
    exposed = {family.name + ("_total" if family.type == "counter" else "")
               for family in text_string_to_metric_families(page)}
    assert exposed == {name.value for name in MetricName}


def test_rules_and_dashboards_query_only_the_vocabularys_metrics() -> None:
    names = {name.value for name in MetricName}
    for path in [RULES, GRAFANA_ALERTS, *(DASHBOARDS / "grafana").glob("*.json")]:
        used = set(_METRIC.findall(path.read_text()))
        assert used and used <= names, (path.name, used - names)


# --- the deadline thresholds -------------------------------------------------------------------

def alert_rules(path) -> list[dict]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]
            if "alert" in rule or "title" in rule]


def prometheus_thresholds() -> dict[str, dict[str, float]]:
    """deadline -> severity -> days, from the Prometheus rules:
    `(..._timestamp_seconds{deadline="x"} - time()) / 86400 < N`."""
    found: dict[str, dict[str, float]] = {}
    for rule in alert_rules(RULES):
        days_left = rf'\({MetricName.DEADLINE_TIMESTAMP}\{{deadline="(\w+)"\}} - time\(\)\) / 86400'
        match = re.fullmatch(days_left + r" < ([\d.]+)", rule["expr"])
        if match:
            found.setdefault(match[1], {})[rule["labels"]["severity"]] = float(match[2])
    return found


def grafana_thresholds() -> dict[str, dict[str, float]]:
    """The same from the Grafana-managed alerts: query A on the deadline, condition C `lt N`."""
    found: dict[str, dict[str, float]] = {}
    for rule in alert_rules(GRAFANA_ALERTS):
        match = re.search(rf'{MetricName.DEADLINE_TIMESTAMP}\{{deadline="(\w+)"\}}', rule["data"][0]["model"]["expr"])
        if match:
            [condition] = rule["data"][1]["model"]["conditions"]
            assert condition["evaluator"]["type"] == "lt", rule["title"]
            found.setdefault(match[1], {})[rule["labels"]["severity"]] = float(condition["evaluator"]["params"][0])
    return found


def test_thresholds_are_the_alert_rules() -> None:
    """Both the Prometheus rules and the Grafana-managed alerts say what the table says; the
    evaluation period alone has no critical alert (its critical mark is diagnose's)."""
    expected = {deadline.value: {"warning": days.warning, "critical": days.critical}
                for deadline, days in DEADLINE_DAYS.items()}
    del expected[Deadline.EVALUATION_EXPIRY]["critical"]
    assert prometheus_thresholds() == grafana_thresholds() == expected


def test_the_table_colours_each_deadline_by_its_own_thresholds() -> None:
    """Red under the deadline's critical mark, yellow under its warning one: report_ack at
    26.8 days and the evaluation at 17.9 are plain (they were yellow under one 30/7 rule for all),
    the registration at 8.9 days is yellow."""
    out = subprocess.run([sys.executable, "-m", "lic_exporter", "parse", "--now", NOW.isoformat(), "--color",
                          "always", *EXAMPLES], capture_output=True, text=True).stdout
    colours = {"\x1b[31m": Severity.CRITICAL, "\x1b[33m": Severity.WARNING}
    seen = {}
    for row in out.split("\n\n")[0].splitlines()[1:]:  # the devices' table (the accounts' follows)
        match = re.search(r"(\x1b\[3[13]m)?([a-z_]+) \d{4}-\d\d-\d\d *(?:\x1b\[0m)?  (?:\x1b\[3[13]m)?(-?[\d.]+)", row)
        assert match, row
        tint, deadline, days = match.groups()
        seen[deadline] = float(days)
        assert colours.get(tint or "") == DEADLINE_DAYS[Deadline(deadline)].severity(float(days)), row
    assert seen == {"evaluation_expiry": 17.9, "report_ack": 26.8, "communication_deadline": 84.1,
                    "registration_expiry": 8.9}


def _severity(problem: str, facts: Facts) -> Severity | None:
    return next((f.severity for f in diagnose([facts], NOW) if f.problem == problem), None)


def test_diagnose_severities_follow_the_table() -> None:
    def at(deadline: Deadline, days: float, **more) -> Facts:
        return Facts("sw-a", deadlines={deadline: NOW + timedelta(days=days)}, **more)

    evaluation, ack = DEADLINE_DAYS[Deadline.EVALUATION_EXPIRY], DEADLINE_DAYS[Deadline.REPORT_ACK]
    registration = DEADLINE_DAYS[Deadline.REGISTRATION_EXPIRY]
    in_evaluation = {"authorization": AuthorizationState.EVALUATION}
    # Evaluation mode is a warning however long is left, critical under the critical mark.
    assert _severity("evaluation_mode", at(Deadline.EVALUATION_EXPIRY, 60, **in_evaluation)) is Severity.WARNING
    assert _severity("evaluation_mode", at(Deadline.EVALUATION_EXPIRY, evaluation.critical + 0.1,
                                           **in_evaluation)) is Severity.WARNING
    assert _severity("evaluation_mode", at(Deadline.EVALUATION_EXPIRY, evaluation.critical - 0.1,
                                           **in_evaluation)) is Severity.CRITICAL
    # The report ACK: nothing, a warning, then critical, as its alerts.
    assert _severity("report_ack_overdue", at(Deadline.REPORT_ACK, ack.warning + 0.1)) is None
    assert _severity("report_ack_overdue", at(Deadline.REPORT_ACK, ack.warning - 0.1)) is Severity.WARNING
    assert _severity("report_ack_overdue", at(Deadline.REPORT_ACK, ack.critical - 0.1)) is Severity.CRITICAL
    # A failing renewal is critical as soon as the alerts would warn of the expiry.
    failing = {"failures": {Attempt.REGISTRATION_RENEWAL: "dns"}}
    assert _severity("registration_failing", at(Deadline.REGISTRATION_EXPIRY, registration.warning + 0.1,
                                                **failing)) is Severity.WARNING
    assert _severity("registration_failing", at(Deadline.REGISTRATION_EXPIRY, registration.warning - 0.1,
                                                **failing)) is Severity.CRITICAL


# --- no threshold of its own anywhere --------------------------------------------------------

def marks() -> set[float]:
    """Every number the vocabulary's tables give a threshold: deadline days, freshness (days,
    interval factors), failure counts and the fleet share."""
    found = {float(n) for days in DEADLINE_DAYS.values() for n in (days.warning, days.critical)}
    found |= {COLLECTION_AGE.late, COLLECTION_AGE.stale, CAPTURE_STALE_DAYS, ATTEMPT_OVERDUE_DAYS,
              CALLHOME_REPEATING.failures, CALLHOME_FLEETWIDE.percent, CALLHOME_FLEETWIDE.devices,
              TERM_END_DAYS.warning, TERM_END_DAYS.critical, ACCOUNT_POLL_STALE_INTERVALS}
    return found


# Numbers in a query that are no threshold: booleans and counts (0, 1), percent (100), seconds
# per hour and per day, milliseconds (Grafana's dates).
UNITS = {0.0, 1.0, 100.0, 1000.0, 3600.0, 86400.0}
# Windows that are no threshold: how long a device or exporter is remembered (1d), a scrape (1m).
MEMORY = {"1d", "1m"}
_NUMBER = re.compile(r"(?<![\w.$])\d+(?:\.\d+)?(?![\w.])")
_DURATION = re.compile(r"\b\d+[smhdwy]\b")


def query_numbers(expr: str) -> tuple[set[float], set[str]]:
    """The numbers and the durations of a PromQL expression (label values left out)."""
    bare = re.sub(r'"[^"]*"', '""', expr)
    return {float(n) for n in _NUMBER.findall(_DURATION.sub("", bare))}, set(_DURATION.findall(bare))


def generated_queries() -> list[tuple[str, str]]:
    """Every alert expression, Grafana alert query, and dashboard query that judges time."""
    found = [(rule["alert"], rule["expr"]) for rule in alert_rules(RULES)]
    found += [(rule["title"], rule["data"][0]["model"]["expr"]) for rule in alert_rules(GRAFANA_ALERTS)]
    for path in BOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            found += [(f"{path.stem}: {panel['title']}", t["expr"]) for t in panel.get("targets", [])
                      if "time()" in t["expr"]]
    return found


def test_no_generated_query_holds_a_threshold_of_its_own() -> None:
    allowed = marks() | UNITS
    windows = MEMORY | {f"{CALLHOME_REPEATING.hours}h", f"{CALLHOME_FLEETWIDE.hours}h"}
    queries = generated_queries()
    assert len(queries) > 20
    for where, expr in queries:
        numbers, durations = query_numbers(expr)
        assert numbers <= allowed, (where, numbers - allowed)
        assert durations <= windows, (where, durations - windows)


def test_no_grafana_condition_or_dashboard_threshold_of_its_own() -> None:
    """Grafana's conditions (gt/lt only) are the marks, in seconds where the query is, or a
    hair under a count (> N - 0.001 for >= N); 0.5 splits a 1/0 query. Every dashboard threshold
    step is a mark, or 1 (a 0/1 stat, one failure)."""
    conditions = marks() | {days * 86400 for days in (CAPTURE_STALE_DAYS, ATTEMPT_OVERDUE_DAYS)}
    conditions |= {CALLHOME_REPEATING.failures - 0.001, 0.0, 0.5, 1.0}
    for rule in alert_rules(GRAFANA_ALERTS):
        [condition] = rule["data"][1]["model"]["conditions"]
        assert set(condition["evaluator"]["params"]) <= conditions, rule["title"]
    for path in BOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            fields = panel.get("fieldConfig", {})
            configs = [fields.get("defaults", {})] + [{p["id"]: p["value"] for p in o["properties"]}
                                                     for o in fields.get("overrides", [])]
            for config in configs:
                steps = (config.get("thresholds") or {}).get("steps", [])
                values = {step["value"] for step in steps} - {None}
                assert values <= marks() | {1}, (path.stem, panel["title"], values)


def test_each_deadline_is_coloured_by_its_own_marks() -> None:
    """A column of one deadline has that deadline's thresholds; a row naming its deadline is
    coloured by the urgency Prometheus computes with that deadline's marks."""
    fleet, device = (json.loads((DASHBOARDS / "grafana" / name).read_text())
                     for name in ("fleet-overview.json", "device-detail.json"))
    matrix = next(p for p in fleet["panels"] if p["title"] == "Every deadline per device (days left)")
    columns = {o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
               for o in matrix["fieldConfig"]["overrides"]}
    for deadline, days in DEADLINE_DAYS.items():
        steps = [(step["color"], step["value"]) for step in columns[deadline]["thresholds"]["steps"]]
        assert steps == [("red", None), ("orange", days.critical), ("green", days.warning)], deadline
    rows = [p for board in (fleet, device) for p in board["panels"]
            if p["title"] in ("Nearest deadline per device", "Deadlines (days left)")]
    assert len(rows) == 2
    for panel in rows:
        urgency = panel["targets"][1]["expr"]
        pairs = re.findall(r'deadline="(\w+)"[^}]*\} - time\(\)\) / 86400 < bool ([\d.]+)', urgency)
        found: dict[str, set[float]] = {}
        for deadline, days in pairs:
            found.setdefault(deadline, set()).add(float(days))
        expected = {d.value: {float(t.warning), float(t.critical)} for d, t in DEADLINE_DAYS.items()}
        assert found == expected, panel["title"]
        [colour] = [o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == "urgency"]
        assert colour["properties"][0]["value"]["applyToRow"] is True


def test_collection_freshness_is_judged_against_each_devices_interval() -> None:
    fleet = json.loads((DASHBOARDS / "grafana" / "fleet-overview.json").read_text())
    panel = next(p for p in fleet["panels"] if p["title"].startswith("Collection from the switches"))
    state = panel["targets"][1]["expr"]
    factors = {float(f) for f in re.findall(rf"> bool ([\d.]+) \* {MetricName.COLLECT_INTERVAL}", state)}
    assert factors == {COLLECTION_AGE.late, COLLECTION_AGE.stale}
    assert "thresholds" not in panel["fieldConfig"]["defaults"] or not [
        s for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"] if s["value"] is not None]
    collecting = next(rule for rule in alert_rules(RULES) if rule["alert"] == "LicCollectionFailing")
    assert f"< {COLLECTION_AGE.stale} * {MetricName.COLLECT_INTERVAL}" in collecting["expr"]
    assert COLLECTION_AGE.state(10 * 3600, 6 * 3600) is Severity.WARNING  # one run missed
    assert COLLECTION_AGE.state(19 * 3600, 6 * 3600) is Severity.CRITICAL
    assert COLLECTION_AGE.state(30 * 3600, 24 * 3600) is None  # a daily schedule, on time


# The modules that judge urgency: the diagnose rules, the days-left computation, the table's colours.
JUDGES = [*sorted((PROJECT / "lic_exporter" / "analysis").glob("*.py")),
          PROJECT / "lic_exporter" / "exposition" / "formats.py"]


def own_thresholds(path) -> list[str]:
    """Where a module holds a number of its own: a duration written as a literal, a comparison
    with a number other than 0 or 1, a module-level numeric constant (seconds per day aside)."""
    found = []
    tree = ast.parse(path.read_text())

    def numeric(node: ast.AST) -> bool:
        return (isinstance(node, ast.Constant) and isinstance(node.value, int | float)
                and not isinstance(node.value, bool))

    def duration(node: ast.AST) -> bool:
        return (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "timedelta"
                and any(numeric(a) for a in [*node.args, *(k.value for k in node.keywords)]))

    def comparison(node: ast.AST) -> bool:
        return isinstance(node, ast.Compare) and any(numeric(side) and side.value not in (0, 1)
                                                     for side in [node.left, *node.comparators])

    found += [f"{path.name}:{node.lineno}: {ast.unparse(node)}" for node in ast.walk(tree)
              if duration(node) or comparison(node)]
    found += [f"{path.name}:{node.lineno}: {ast.unparse(node)}" for node in tree.body
              if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and numeric(node.value)
              and ast.unparse(node).split()[0].rstrip(":") != "SECONDS_PER_DAY"]
    return found


def test_no_judging_module_holds_a_threshold_of_its_own() -> None:
    assert len(JUDGES) >= 3
    assert [where for path in JUDGES for where in own_thresholds(path)] == []


def test_the_scan_finds_a_threshold_of_its_own(tmp_path) -> None:
    """The scans above would see a number written in place of the table's."""
    module = tmp_path / "rogue.py"
    module.write_text("from datetime import timedelta\nWARN_DAYS = 21\nLATE = timedelta(hours=9)\n"
                      "def f(days):\n    return days < 14\n")
    assert len(own_thresholds(module)) == 3
    numbers, durations = query_numbers('(cisco_smartlic_deadline_timestamp_seconds{deadline="report_ack"} - time())'
                                       " / 86400 < 21 and increase(x[2h]) > 0")
    assert numbers - (marks() | UNITS) == {21.0} and durations == {"2h"}
