"""The generated Grafana dashboards against Grafana's own published types (@grafana/schema,
pinned in dashboards/schema/package.json): dashboards/schema/check.mjs writes a .ts module per
dashboard in which the dashboard and each panel, with its options and fieldConfig, `satisfies`
its type, and runs `tsc --noEmit`. Planted faults must fail the same check.

Needs node and npm (runs `npm ci --prefix dashboards/schema` when node_modules is missing);
where they are missing the tests skip, except under LIC_EXPORTER_REQUIRE_PROMETHEUS=1 (CI)."""

from __future__ import annotations

import copy
import fcntl
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.paths import PROJECT
from tests.support.prometheus import binary

SCHEMA = PROJECT / "dashboards" / "schema"
BOARDS = sorted((PROJECT / "dashboards" / "grafana").glob("*.json"))
FLEET = PROJECT / "dashboards" / "grafana" / "fleet-overview.json"


def tool(name: str) -> str:
    return binary(name, "the Grafana schema check needs Node.js and npm")


@pytest.fixture(scope="module")
def checker() -> Callable[..., subprocess.CompletedProcess]:
    node, npm = tool("node"), tool("npm")
    installed = [SCHEMA / "node_modules" / "typescript" / "package.json",
                 SCHEMA / "node_modules" / "@grafana" / "schema" / "package.json"]
    with open(SCHEMA / "package-lock.json") as lock:  # one npm ci at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(path.is_file() for path in installed):
            done = subprocess.run([npm, "ci", "--prefix", str(SCHEMA), "--no-audit", "--no-fund"],
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stdout + done.stderr

    def check(*paths: Path) -> subprocess.CompletedProcess:
        return subprocess.run([node, str(SCHEMA / "check.mjs"), *map(str, paths)], capture_output=True, text=True,
                              timeout=300)

    return check


def test_versions_are_pinned() -> None:
    package = json.loads((SCHEMA / "package.json").read_text())
    lock = json.loads((SCHEMA / "package-lock.json").read_text())
    wanted = {**package.get("dependencies", {}), **package.get("devDependencies", {})}
    assert set(wanted) == {"@grafana/schema", "typescript"}
    for name, version in wanted.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version}: pin an exact version"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name


def test_real_dashboards_conform(checker) -> None:
    done = checker(*BOARDS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_version_is_the_pinned_grafana_current(checker) -> None:
    source = (SCHEMA / "node_modules" / "@grafana" / "schema" / "dist" / "esm" / "raw" / "dashboard" / "x"
              / "types.gen.mjs").read_text()
    current = int(re.search(r"schemaVersion: (\d+)", source).group(1))
    for path in BOARDS:
        assert json.loads(path.read_text())["schemaVersion"] == current, path.name


def first(board: dict, kind: str) -> dict:
    return next(panel for panel in board["panels"] if panel["type"] == kind)


def _set(kind: str, where: str, key: str, value: object) -> Callable[[dict], None]:
    def plant(board: dict) -> None:
        found = first(board, kind)
        for step in where.split(".") if where else []:
            found = found[step]
        found[key] = value
    return plant


def _drop(kind: str, key: str) -> Callable[[dict], None]:
    return lambda board: first(board, kind)["options"].pop(key)


def _link(board: dict) -> None:
    del board["links"][0]["keepTime"]


def _variable(board: dict) -> None:
    board["templating"]["list"][0]["current"] = {}


# (planted fault, what tsc must name in its error)
FAULTS = {
    "table cellHeight outside its enum": (_set("table", "options", "cellHeight", "huge"), '"huge"'),
    "table unknown option key": (_set("table", "options", "cellHieght", "sm"), "cellHieght"),
    "table displayMode outside its enum": (
        _set("table", "fieldConfig.defaults.custom", "displayMode", "rainbow"), '"rainbow"'),
    "table cell type outside its enum": (
        _set("table", "fieldConfig.defaults.custom", "cellOptions", {"type": "sparkles"}), '"sparkles"'),
    "table without frameIndex": (_drop("table", "frameIndex"), "frameIndex"),
    "stat colorMode outside its enum": (_set("stat", "options", "colorMode", "neon"), '"neon"'),
    "bargauge unknown option key": (_set("bargauge", "options", "displaymode", "basic"), "displaymode"),
    "timeseries tooltip mode outside its enum": (
        _set("timeseries", "options.tooltip", "mode", "all"), '"all"'),
    "status-history unknown option key": (_set("status-history", "options", "colwidth", 1), "colwidth"),
    "threshold mode outside its enum": (
        _set("table", "fieldConfig.defaults.thresholds", "mode", "relative-ish"), '"relative-ish"'),
    "dashboard link without keepTime": (_link, "keepTime"),
    "variable current without text and value": (_variable, "text"),
    "unknown dashboard key": (lambda board: board.__setitem__("refreshInterval", "5m"), "refreshInterval"),
    "annotation unknown key": (lambda board: board["annotations"]["list"].append(
        {"name": "x", "enable": True, "iconColor": "red", "datasource": {"type": "prometheus", "uid": "${datasource}"},
         "target": {"refId": "Anno", "expr": "up"}, "titelFormat": "x"}), "titelFormat"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_planted_fault_fails_the_check(checker, tmp_path: Path, fault: str) -> None:
    plant, named = FAULTS[fault]
    board = copy.deepcopy(json.loads(FLEET.read_text()))
    plant(board)
    path = tmp_path / "planted.json"
    path.write_text(json.dumps(board))
    done = checker(path)
    assert done.returncode == 1, f"{fault}: the check passed\n{done.stdout}{done.stderr}"
    assert named in done.stdout and "error TS" in done.stdout, done.stdout + done.stderr
