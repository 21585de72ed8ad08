"""Dashboards, rules and Grafana alerts: generated files current, queries parse (promtool),
rules pass their promtool unit tests, and every query returns data from a real Prometheus
scraping the real exporter on the fixture files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.paths import PROJECT
from tests.support.prometheus import binary, fixture_stack

DASHBOARDS = PROJECT / "dashboards"
RULES = DASHBOARDS / "prometheus" / "lic_exporter.rules.yml"
RULE_TESTS = DASHBOARDS / "prometheus" / "tests" / "lic_exporter.test.yml"
BOARDS = sorted((DASHBOARDS / "grafana").glob("*.json"))
ALERTING = DASHBOARDS / "grafana" / "provisioning" / "alerting" / "lic_exporter.yml"
CONTRACT_PREFIXES = ("cisco_smartlic_", "lic_exporter_")
RECORDED = {rule["record"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
            if "record" in rule}


def board_queries() -> list[tuple[str, str]]:
    found = []
    for path in BOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            found.extend((f"{path.stem}: {panel['title']}", t["expr"]) for t in panel.get("targets", []))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                found.append((f"{path.stem}: variable {variable['name']}", variable["query"]["query"]))
    return found


def alert_queries() -> list[tuple[str, str]]:
    document = yaml.safe_load(ALERTING.read_text())
    return [(f"grafana alert {rule['uid']}", rule["data"][0]["model"]["expr"])
            for group in document["groups"] for rule in group["rules"]]


def concrete(expr: str) -> str:
    """Grafana's variables replaced as a scrape of the whole fleet would need them."""
    for variable, everything in (("device", ".+"), ("job", ".+"), ("instance", ".+"), ("smart_account", ".*"),
                                 ("virtual_account", ".*")):
        expr = expr.replace(f'{variable}="${variable}"', f'{variable}=~"{everything}"')
        expr = expr.replace(f'{variable}=~"${variable}"', f'{variable}=~"{everything}"')
    match = re.fullmatch(r"label_values\((\w+(?:\{[^}]*\})?), (\w+)\)", expr)
    if match:
        return f"count by ({match[2]}) ({match[1]})"
    return expr.replace("$__rate_interval", "1m").replace("$__range", "1h")


def test_generated_files_are_current(tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in [*BOARDS, ALERTING]}
    subprocess.run([sys.executable, str(DASHBOARDS / "build_dashboards.py")], check=True)
    assert {p: p.read_bytes() for p in before} == before, "run python dashboards/build_dashboards.py"


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_dashboard_shape(path: Path) -> None:
    board = json.loads(path.read_text())
    assert board["schemaVersion"] >= 36 and board["uid"] and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel.get("targets", [])), panel["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))


def test_queries_use_only_contract_metrics_and_recorded_series() -> None:
    """Contract metrics, and the ones the exporter adds, which the documentation (README, docs/) lists."""
    contract_text = (PROJECT.parent / "shared" / "CONTRACT.md")
    documentation = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
    sources = [contract_text, *documentation] if contract_text.is_file() else documentation
    contract = {name for source in sources
                for name in re.findall(r"`((?:cisco_smartlic|lic_exporter)_[a-z_]+)", source.read_text())}
    for where, expr in board_queries() + alert_queries():
        names = set(re.findall(r"\b((?:device[_a-z]*:)?(?:cisco_smartlic|lic_exporter)_[a-z_:]+)", expr))
        assert names, where
        for name in names:
            assert name in RECORDED or name in contract, f"{where}: {name}"


def test_every_query_parses_with_promtool(tmp_path: Path) -> None:
    promtool = binary("promtool")
    rules = {"groups": [{"name": "queries", "rules": [
        {"record": f"q:{number}", "expr": concrete(expr)} for number, (_, expr) in
        enumerate(board_queries() + alert_queries())]}]}
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_check_and_unit_tests() -> None:
    promtool = binary("promtool")
    for command in (["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]):
        done = subprocess.run([promtool, *command], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    alerts = [rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
              if "alert" in rule]
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    for alert in alerts:
        firing, quiet = False, False
        for test in tests:
            sources = {re.search(r'(?:device|instance)="([^"]+)"', s["series"]).group(1) for s in test["input_series"]}
            for case in test.get("alert_rule_test", []):
                if case["alertname"] != alert:
                    continue
                fired = {a["exp_labels"].get("device", a["exp_labels"].get("instance")) for a in case["exp_alerts"]}
                firing |= bool(fired)
                quiet |= not fired or bool(sources - fired)  # a healthy device in the input that does not fire
        assert firing and quiet, alert


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    daemon, prometheus, log = fixture_stack(tmp_path_factory.mktemp("live"), rule_files=[RULES])
    try:  # a failure while setting up must not leave a Prometheus running
        prometheus.wait_for('up{job="lic_exporter"} == 1')
        time.sleep(3)  # a few scrapes, so that increase() has two samples
        with open(log, "ab") as handle:  # and a counter that moves
            handle.write(log.read_bytes().splitlines()[0] + b"\n")
        yield prometheus
    finally:
        prometheus.stop()
        daemon.stop()


@pytest.mark.parametrize(("where", "expr"), board_queries() + alert_queries(), ids=lambda v: v if "(" not in v else "")
def test_every_query_returns_data_from_the_real_exporter(live, where: str, expr: str) -> None:
    assert live.wait_for(concrete(expr), timeout=60), where
