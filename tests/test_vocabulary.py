"""The public vocabulary (lic_exporter/model/vocabulary.py) is the one source: its names are the
contract's and the page's, and the alert rules, the table's colours and the diagnose severities
all follow its one table of deadline thresholds."""

from __future__ import annotations

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
from lic_exporter.model.records import AuthorizationState
from lic_exporter.model.vocabulary import (
    COLLECT_REASONS,
    COLLECT_REASONS_ADDED,
    DEADLINE_DAYS,
    SEVERITIES,
    Attempt,
    Deadline,
    MetricName,
    Reason,
    Severity,
)
from lic_exporter.parsing.syslog_tally import Tally
from tests.support.paths import PROJECT

CONTRACT = PROJECT.parent / "shared" / "CONTRACT.md"
README = PROJECT / "README.md"
DASHBOARDS = PROJECT / "dashboards"
RULES = DASHBOARDS / "prometheus" / "lic_exporter.rules.yml"
GRAFANA_ALERTS = DASHBOARDS / "grafana" / "provisioning" / "alerting" / "lic_exporter.yml"
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


@dataclass
class Collected:
    device: str = "sw-a"
    success: bool | None = True
    seconds: float | None = 1.5
    last_success: float | None = 1.7e9
    next_due: float | None = 1.7e9 + 3600
    interval: float | None = 21600.0
    failures: dict[str, int] = field(default_factory=dict)


def test_the_page_exposes_exactly_the_vocabularys_families() -> None:
    page = exposition([], Tally(), ExporterStats(config_reload=(True, 1.7e9)), NOW, collect=[Collected()],
                      deadline_days=True).decode()
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
    for row in out.splitlines()[1:]:
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
