"""Writes the Grafana dashboards in grafana/ from the panel lists below (run after a change;
tests/test_dashboards.py checks the committed JSON is what this writes, and that every query
parses and returns data from a real Prometheus scraping the real exporter;
tests/test_dashboard_schema.py checks both against Grafana's own types, @grafana/schema).

    python dashboards/build_dashboards.py

Every panel carries the options Grafana would otherwise fill in on load (the schema check
requires them), so the JSON is what Grafana saves back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from build_alerting import NEAREST_DEADLINE, days_left  # beside this file: one formula for the days left

from lic_exporter.model.vocabulary import (
    ACCOUNT_POLL_STALE_INTERVALS,
    CALLHOME_REPEATING,
    CAPTURE_STALE_DAYS,
    COLLECTION_AGE,
    DEADLINE_DAYS,
    TERM_END_DAYS,
    Deadline,
    MetricName,
)

HERE = Path(__file__).resolve().parent
# The dashboard schema version of the pinned @grafana/schema (schema/package.json):
# node_modules/@grafana/schema/dist/esm/raw/dashboard/x/types.gen.mjs, defaultDashboard.
SCHEMA_VERSION = 42
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
FLEET_UID, DEVICE_UID = "lic-exporter-fleet", "lic-exporter-device"
# Several devices at once: job, instance, account and multi-select device variables on both
# dashboards (every query filtered by them) and, on the device dashboard, a row per picked device.
# Off until tests/test_dashboards.py's concrete() substitutes these variables' regex matchers.
MULTI_DEVICE = True
SCRAPE_INTERVAL = "1m"  # the exporter is scraped every 60 s: no panel asks for a finer step
# Every deadline is coloured by its own marks in the vocabulary's table (those of its alerts and of
# diagnose): a column of one deadline by thresholds, a row naming its deadline by an urgency code
# Prometheus computes from the same table (deadline_urgency), which colours the whole row.
MARKS = ", ".join(f"{deadline} {days.critical}/{days.warning}" for deadline, days in DEADLINE_DAYS.items())


def day_thresholds(deadline: Deadline) -> dict:
    """Red under the deadline's critical mark, orange under its warning mark, green above."""
    days = DEADLINE_DAYS[deadline]
    return {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "orange", "value": days.critical},
                                          {"color": "green", "value": days.warning}]}


def deadline_urgency(selector: str = "") -> str:
    """Per deadline series: 2 under its critical mark, 1 under its warning mark, 0 with time left."""
    extra = f"{selector}, " if selector else ""
    terms = []
    for deadline, days in DEADLINE_DAYS.items():
        left = days_left(f'{MetricName.DEADLINE_TIMESTAMP}{{{extra}deadline="{deadline}"}}')
        terms.append(f"({left} < bool {days.critical}) + ({left} < bool {days.warning})")
    return " or ".join(terms)


def collection_age_state() -> str:
    """Per collected device: 2 when stale, 1 when late, 0 on time, in its own intervals."""
    age = f"(time() - {MetricName.COLLECT_LAST_SUCCESS})"
    return " + ".join(f"({age} > bool {factor} * {MetricName.COLLECT_INTERVAL})"
                      for factor in (COLLECTION_AGE.late, COLLECTION_AGE.stale))
# Days as days: Grafana's unit "d" turns 400 days into "1.10 year" and 14 into "2 week".
DAYS = {"unit": "suffix: d", "decimals": 1}
# Opens the device dashboard on the row's device, with the same data source and time range.
DEVICE_LINK = {"title": "Open ${__data.fields.device} in the device dashboard", "targetBlank": False,
               "url": f"/d/{DEVICE_UID}?var-device=${{__data.fields.device}}&${{datasource:queryparam}}"
                      "&${__url_time_range}"}
# The same from a time series panel, where the device is a label of the series.
DEVICE_SERIES_LINK = {**DEVICE_LINK, "title": "Open ${__field.labels.device} in the device dashboard",
                      "url": DEVICE_LINK["url"].replace("${__data.fields.device}", "${__field.labels.device}")}

# Authorization state -> (code in the fleet status history, text, colour).
AUTHORIZATION = {
    "authorized": (1, "authorized", "green"),
    "no_licenses_in_use": (2, "no licences in use", "blue"),
    "not_applicable": (3, "not applicable (policy mode)", "text"),
    "evaluation": (4, "evaluation", "yellow"),
    "out_of_compliance": (5, "out of compliance", "orange"),
    "evaluation_expired": (6, "evaluation expired", "red"),
    "authorization_expired": (7, "authorization expired", "dark-red"),
    "unknown": (8, "unknown", "purple"),
}
REGISTRATION = {
    "registered": ("registered", "green"),
    "registering": ("registering", "blue"),
    "unregistered": ("unregistered", "yellow"),
    "registration_failed": ("registration failed", "orange"),
    "registration_expired": ("registration expired", "red"),
    "unknown": ("unknown", "purple"),
}

HIDDEN = {"legend": False, "tooltip": False, "viz": False}
LEGEND = {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True}
REDUCE = {"calcs": ["lastNotNull"], "fields": "", "values": False}
# What Grafana fills in for each panel type when it loads a panel without them.
DEFAULT_OPTIONS: dict[str, dict] = {
    "table": {"cellHeight": "sm", "frameIndex": 0, "showHeader": True},
    "stat": {"colorMode": "value", "graphMode": "none", "justifyMode": "auto", "orientation": "auto",
             "percentChangeColorMode": "standard", "reduceOptions": REDUCE, "showPercentChange": False,
             "textMode": "auto", "wideLayout": True},
    "bargauge": {"displayMode": "basic", "legend": {**LEGEND, "showLegend": False}, "maxVizHeight": 300,
                 "minVizHeight": 16, "minVizWidth": 8, "namePlacement": "auto", "orientation": "horizontal",
                 "reduceOptions": REDUCE, "showUnfilled": True, "sizing": "auto", "valueMode": "color"},
    "timeseries": {"legend": LEGEND, "tooltip": {"mode": "multi", "sort": "desc", "hideZeros": False}},
    "state-timeline": {"alignValue": "left", "legend": LEGEND, "mergeValues": True, "rowHeight": 0.9,
                       "showValue": "auto", "tooltip": {"mode": "single", "sort": "none", "hideZeros": False}},
    "status-history": {"colWidth": 0.9, "legend": LEGEND, "rowHeight": 0.9, "showValue": "never",
                       "tooltip": {"mode": "single", "sort": "none", "hideZeros": False}},
}
DEFAULT_CUSTOM: dict[str, dict] = {
    "table": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
    "timeseries": {"drawStyle": "bars", "fillOpacity": 80, "lineWidth": 1, "stacking": {"mode": "normal",
                                                                                         "group": "A"},
                   "axisPlacement": "auto", "axisSoftMin": 0, "hideFrom": HIDDEN, "showPoints": "never"},
    "state-timeline": {"fillOpacity": 80, "lineWidth": 0, "hideFrom": HIDDEN},
    "status-history": {"fillOpacity": 80, "lineWidth": 1, "hideFrom": HIDDEN},
}


_METRIC = re.compile(r"\b((?:device[_a-z]*:)?(?:cisco_smartlic|lic_exporter)_[a-z_:]+)(?:\{([^}]*)\})?(?!\w|\()")
# Exporter-wide series: no device label.
_EXPORTER_WIDE = (MetricName.FILES, MetricName.PARSE_ERRORS, MetricName.SYSLOG_LINES,
                  MetricName.ACCOUNTS_POLL_SUCCESS, MetricName.ACCOUNTS_LAST_SUCCESS, MetricName.ACCOUNTS_POLL_FAILURES,
                  MetricName.ACCOUNTS_POLL_INTERVAL, MetricName.ACCOUNT_ALERTS)
# What a Smart Account says per licence: no device label either, narrowed to the picked virtual
# accounts (the device's virtual_account is the account's). Not by smart_account: a device names
# its Smart Account by its name, the account families by the configured domain.
_ACCOUNT_LICENCES = (MetricName.ACCOUNT_LICENSE_QUANTITY, MetricName.ACCOUNT_LICENSE_IN_USE,
                     MetricName.ACCOUNT_LICENSE_AVAILABLE, MetricName.ACCOUNT_LICENSE_STATUS,
                     MetricName.ACCOUNT_LICENSE_TERM_END)


def scoped(expr: str) -> str:
    """expr with every series narrowed to the picked job, instance and devices (MULTI_DEVICE)."""
    if not MULTI_DEVICE:
        return expr

    def narrow(match: re.Match) -> str:
        name, matchers = match[1], [m.strip() for m in (match[2] or "").split(",") if m.strip()]
        wanted = ['job=~"$job"', 'instance=~"$instance"']
        if name in _ACCOUNT_LICENCES:
            wanted.append('virtual_account=~"$virtual_account"')
        elif name not in _EXPORTER_WIDE and not any(m.startswith("device") for m in matchers):
            wanted.append('device=~"$device"')
        return f"{name}{{{', '.join(matchers + wanted)}}}"

    return _METRIC.sub(narrow, expr)


def target(expr: str, legend: str = "", instant: bool = False, table: bool = False, ref: str = "A") -> dict:
    found = {"datasource": DATASOURCE, "expr": scoped(expr), "refId": ref, "legendFormat": legend or "__auto"}
    if instant:
        found["instant"] = True
        found["range"] = False
    else:
        found["range"] = True
        found["instant"] = False
    if table:
        found["format"] = "table"
    return found


def by_name(name: str, *properties: tuple[str, object]) -> dict:
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": key, "value": value} for key, value in properties]}


def row_colour(name: str, states: dict[str, tuple[str, str]]) -> dict:
    """The named column shows the state of its code (0, 1, 2) and colours its whole row."""
    return by_name(name, ("custom.cellOptions", {"type": "color-background", "mode": "basic", "applyToRow": True}),
                   ("mappings", value_map(states)))


URGENCY = {"0": ("ok", "transparent"), "1": ("warning", "orange"), "2": ("critical", "red")}
FRESHNESS = {"0": ("on time", "transparent"), "1": ("late", "orange"), "2": ("stale", "red")}


def cell_colours(*names: str) -> list[dict]:
    """The named table columns coloured by the panel's thresholds."""
    return [by_name(name, ("custom.cellOptions", {"type": "color-background", "mode": "basic"})) for name in names]


def excluded(*names: str, rename: dict[str, str] | None = None) -> dict:
    return {"id": "organize", "options": {"excludeByName": dict.fromkeys(names, True), "indexByName": {},
                                          "renameByName": rename or {}}}


def panel(kind: str, title: str, targets: list[dict], grid: tuple[int, int, int, int], description: str,
          unit: str | None = None, thresholds: dict | None = None, options: dict | None = None,
          transformations: list[dict] | None = None, overrides: list[dict] | None = None,
          mappings: list[dict] | None = None, links: list[dict] | None = None, decimals: int | None = None,
          custom: dict | None = None, color: dict | None = None) -> dict:
    x, y, w, h = grid
    defaults: dict = {}
    if kind in DEFAULT_CUSTOM or custom:
        defaults["custom"] = {**DEFAULT_CUSTOM.get(kind, {}), **(custom or {})}
    if unit:
        defaults["unit"] = unit
    if decimals is not None:
        defaults["decimals"] = decimals
    defaults["mappings"] = mappings or []
    defaults["thresholds"] = thresholds or {"mode": "absolute", "steps": [{"color": "green", "value": None}]}
    defaults["color"] = color or ({"mode": "thresholds"} if thresholds else
                                  {"mode": "palette-classic"} if kind == "timeseries" else {"mode": "thresholds"})
    if links:
        defaults["links"] = links
    found = {
        "type": kind, "title": title, "description": description, "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": {**DEFAULT_OPTIONS[kind], **(options or {})}, "transformations": transformations or [],
    }
    if kind in ("timeseries", "state-timeline", "status-history"):
        found["interval"] = SCRAPE_INTERVAL
    return found


def value_map(values: dict[str, tuple[str, str]]) -> list[dict]:
    """A value mapping: value -> (text, colour)."""
    return [{"type": "value", "options": {value: {"text": text, "color": colour, "index": index}
                                          for index, (value, (text, colour)) in enumerate(values.items())}}]


def state_code(metric: str, codes: dict[str, int], selector: str = "") -> str:
    """One series per device whose value is the code of the state that is 1 now (the state
    families are one-hot: every state emitted, exactly one 1)."""
    extra = f"{selector}, " if selector else ""
    terms = " or ".join(f'{metric}{{{extra}state="{state}"}} * {code}' for state, code in codes.items())
    return f"max by (device) ({terms})"


AUTH_CODES = {state: code for state, (code, _, _) in AUTHORIZATION.items()}
AUTH_MAP = value_map({str(code): (text, colour) for code, text, colour in AUTHORIZATION.values()})
REG_CODES = {state: number for number, state in enumerate(REGISTRATION, 1)}
REG_MAP = value_map({str(REG_CODES[state]): value for state, value in REGISTRATION.items()})
STATE_COLOURS = {state: colour for state, (_, _, colour) in AUTHORIZATION.items()} | {
    state: colour for state, (_, colour) in REGISTRATION.items()}


def first_failures(selector: str, window: str) -> str:
    """Call-home failures in each window, counting a series from its first failure (increase()
    alone misses the first value of a series born in the window; the rules do the same)."""
    metric = f"{MetricName.CALLHOME_FAILURES}{selector}"
    return f"(increase({metric}[{window}]) or ({metric} unless {metric} offset {window}))"


def state_bars(metric: str, title: str, grid: tuple[int, int, int, int], description: str) -> dict:
    return panel("bargauge", title, [target(f"sum by (state) ({metric})", "{{state}}", instant=True)], grid,
                 description, decimals=0, color={"mode": "fixed", "fixedColor": "text"},
                 overrides=[by_name(state, ("color", {"mode": "fixed", "fixedColor": colour}))
                            for state, colour in STATE_COLOURS.items()],
                 options={"minVizHeight": 10, "showUnfilled": False})


SHORT = {"0": ("", "transparent"), "1": ("short", "red")}
POLLS = {"0": ("on time", "transparent"), "1": ("failing", "red")}
_ACCOUNT_HIDE = ("Time", "__name__", "instance", "job")


def term_end_urgency() -> str:
    """Per licence with a term end: 2 under TERM_END_DAYS.critical, 1 under .warning, else 0."""
    left = days_left(MetricName.ACCOUNT_LICENSE_TERM_END)
    return f"({left} < bool {TERM_END_DAYS.critical}) + ({left} < bool {TERM_END_DAYS.warning})"


def licence_balance(title: str, grid: tuple[int, int, int, int], description: str, only: str = "") -> dict:
    """Held, in use and available per virtual account and licence, a short row in red; `only`
    narrows every family (`and on (...) ...`)."""
    families = (MetricName.ACCOUNT_LICENSE_QUANTITY, MetricName.ACCOUNT_LICENSE_IN_USE,
                MetricName.ACCOUNT_LICENSE_AVAILABLE)
    targets = [target(f"{family}{only}", instant=True, table=True, ref=ref)
               for family, ref in zip(families, "ABC", strict=True)]
    targets.append(target(f"({MetricName.ACCOUNT_LICENSE_AVAILABLE} < bool 0){only}", instant=True, table=True,
                          ref="D"))
    return panel("table", title, targets, grid, description, decimals=0,
                 options={"sortBy": [{"displayName": "available", "desc": False}]},
                 transformations=[{"id": "merge", "options": {}},
                                  excluded(*_ACCOUNT_HIDE, rename={"Value #A": "held", "Value #B": "in use",
                                                                   "Value #C": "available", "Value #D": "shortage"})],
                 overrides=[row_colour("shortage", SHORT)])


def accounts(y: int) -> list[dict]:
    """The fleet dashboard's Accounts row: what the Smart Accounts say, and whether their polls
    keep up (docs/accounts.md)."""
    available, in_use, held = (MetricName.ACCOUNT_LICENSE_AVAILABLE, MetricName.ACCOUNT_LICENSE_IN_USE,
                               MetricName.ACCOUNT_LICENSE_QUANTITY)
    age = f"time() - {MetricName.ACCOUNTS_LAST_SUCCESS}"
    return [
        {"type": "row", "title": "Accounts", "collapsed": False, "panels": [], "datasource": DATASOURCE,
         "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}},
        licence_balance("Licences per virtual account: held, in use, available", (0, y + 1, 14, 9),
                        "What each Smart Account says (lic-exporter polls CSSM or SSM On-Prem: docs/accounts.md): per "
                        "virtual account and licence, how many it holds, how many are in use and how many are "
                        "available. A negative available (red row) is a shortage: the devices of that virtual "
                        "account that use the licence go out of compliance (LicAccountShortage)."),
        panel("table", "Shortages",
              [target(f"-({available} < 0)", instant=True, table=True),
               target(f"{in_use} and ({available} < 0)", instant=True, table=True, ref="B"),
               target(f"{held} and ({available} < 0)", instant=True, table=True, ref="C")],
              (14, y + 1, 10, 9), "The licences a virtual account lacks, most first: add or move them in CSSM, then "
              "`license smart renew auth` on its devices (LicAccountShortage; lic-exporter diagnose names the "
              "devices out of compliance there).", decimals=0,
              options={"sortBy": [{"displayName": "short by", "desc": True}]},
              transformations=[{"id": "merge", "options": {}},
                               excluded(*_ACCOUNT_HIDE, rename={"Value #A": "short by", "Value #B": "in use",
                                                                "Value #C": "held"})],
              overrides=cell_colours("short by"),
              thresholds={"mode": "absolute", "steps": [{"color": "red", "value": None}]}),
        panel("table", "Term licence ends (days left)",
              [target(days_left(MetricName.ACCOUNT_LICENSE_TERM_END), instant=True, table=True),
               target(term_end_urgency(), instant=True, table=True, ref="B"),
               target(f"{MetricName.ACCOUNT_LICENSE_TERM_END} * 1000", instant=True, table=True, ref="C")],
              (0, y + 10, 14, 8), "The earliest end of each licence's TERM and DEMO purchases, soonest first; "
              f"orange under {TERM_END_DAYS.warning} days (LicTermLicenceExpiring), red under "
              f"{TERM_END_DAYS.critical} (LicTermLicenceExpiringCritical) or once ended. When a term ends its "
              "licences leave the virtual account.", **DAYS,
              options={"sortBy": [{"displayName": "days left", "desc": False}]},
              transformations=[{"id": "merge", "options": {}},
                               excluded(*_ACCOUNT_HIDE, rename={"Value #A": "days left", "Value #B": "urgency",
                                                                "Value #C": "ends"})],
              overrides=[row_colour("urgency", URGENCY), by_name("ends", ("unit", "dateTimeAsIso"))]),
        panel("table", "Account sources: polls",
              [target(MetricName.ACCOUNTS_POLL_SUCCESS, instant=True, table=True),
               target(f"({age}) / 3600", instant=True, table=True, ref="B"),
               target(f"{MetricName.ACCOUNTS_POLL_INTERVAL} / 3600", instant=True, table=True, ref="C"),
               target(f"{age} > bool {ACCOUNT_POLL_STALE_INTERVALS} * {MetricName.ACCOUNTS_POLL_INTERVAL}",
                      instant=True, table=True, ref="D"),
               target(f"sum by (instance, job, source) (increase({MetricName.ACCOUNTS_POLL_FAILURES}[$__range]))",
                      instant=True, table=True, ref="E")],
              (14, y + 10, 10, 8), "Per account source: whether the last poll succeeded, hours since the last "
              f"success and the poll interval; red once no poll has succeeded for {ACCOUNT_POLL_STALE_INTERVALS} "
              "intervals (LicAccountPollFailing). Failures in the time range: "
              f"{MetricName.ACCOUNTS_POLL_FAILURES} by reason says why (forbidden: the API access is not yet "
              "approved at Cisco).", decimals=1,
              mappings=value_map({"0": ("failed", "red"), "1": ("succeeded", "green")}),
              transformations=[{"id": "merge", "options": {}},
                               excluded(*_ACCOUNT_HIDE, rename={"Value #A": "last poll",
                                                                "Value #B": "hours since success",
                                                                "Value #C": "interval (h)", "Value #D": "polls",
                                                                "Value #E": "failures"})],
              overrides=[row_colour("polls", POLLS)]),
    ]


def fleet() -> dict:
    per_device = [DEVICE_LINK]
    # The recorded series, else the same computed here: the key panel works without the rules.
    nearest_raw = days_left(" ".join(NEAREST_DEADLINE.split()).replace("( ", "(").replace(" )", ")"))
    nearest = f"device_deadline:{MetricName.DEADLINE_DAYS}:nearest or ({nearest_raw})"
    panels = [
        panel("bargauge", "Devices per licensing mode",
              [target(f"count by (mode) ({MetricName.INFO})", "{{mode}}", instant=True)], (0, 0, 6, 7),
              "smart: classic Smart Licensing (registration and authorization, the deadlines registration_expiry "
              "and communication_deadline); policy: Smart Licensing Using Policy (usage reports, the report_ack "
              "deadline). Both appear in every table below.", decimals=0,
              color={"mode": "fixed", "fixedColor": "blue"}, options={"showUnfilled": False}),
        state_bars(MetricName.AUTHORIZATION_STATE, "Devices per authorization state", (6, 0, 9, 7),
                   "How many devices are in each licence authorization state now; a state no device is in shows 0. "
                   "Anything but authorized (or not applicable, in policy mode) needs a look: the status history "
                   "below shows which device and since when."),
        state_bars(MetricName.REGISTRATION_STATE, "Devices per registration state", (15, 0, 9, 7),
                   "Classic Smart Licensing registration state of each device; a state no device is in shows 0."),
        panel("table", "Nearest deadline per device",
              [target(f"sort({nearest})", instant=True, table=True),
               target(f"({deadline_urgency()})\nand on (device, deadline) ({nearest})", instant=True, table=True,
                      ref="B")],
              (0, 7, 10, 10), "Each device's earliest deadline in days, soonest first; negative once passed. Each "
              "row is coloured by its own deadline's marks, those of its alerts (critical/warning days: "
              f"{MARKS}). Click a device to open it. Works without the recording rules too.",
              links=per_device, **DAYS,
              options={"sortBy": [{"displayName": "days left", "desc": False}]},
              transformations=[excluded("__name__"), {"id": "merge", "options": {}},
                               excluded("Time", "instance", "job",
                                        rename={"Value #A": "days left", "Value #B": "urgency"})],
              overrides=[row_colour("urgency", URGENCY)]),
        panel("table", "Every deadline per device (days left)",
              [target(days_left(), instant=True, table=True)],
              (10, 7, 14, 10), "All four deadlines side by side: the classic ones (registration_expiry, "
              "communication_deadline, evaluation_expiry) and Smart Licensing Using Policy's report_ack. Empty where "
              "a device's output does not state it. Each column is coloured by its deadline's own marks, those of its "
              f"alerts: red under the critical days, orange under the warning days ({MARKS}). Click a device to "
              "open it.",
              links=per_device, **DAYS,
              options={"sortBy": [{"displayName": "communication_deadline", "desc": False}]},
              transformations=[{"id": "groupingToMatrix", "options": {"columnField": "deadline", "rowField": "device",
                                                                      "valueField": "Value", "emptyValue": "null"}},
                               excluded(rename={"device\\deadline": "device"})],
              overrides=[by_name(str(deadline), ("thresholds", day_thresholds(deadline)),
                                 ("custom.cellOptions", {"type": "color-background", "mode": "basic"}))
                         for deadline in DEADLINE_DAYS]),
        panel("status-history", "Authorization state history",
              [target(state_code(MetricName.AUTHORIZATION_STATE, AUTH_CODES), "{{device}}")],
              (0, 17, 24, 8), "Every device (one row each) over time, coloured by its authorization state: "
              "green authorized, yellow evaluation, orange out of compliance, red expired. Hover for the state; "
              "click to open the device.", mappings=AUTH_MAP, links=[DEVICE_SERIES_LINK],
              color={"mode": "fixed", "fixedColor": "text"}),
        panel("table", "Age of the newest captured output",
              [target(f"sort_desc((time() - max by (device) ({MetricName.SOURCE_TIMESTAMP})) / 86400)",
                      instant=True, table=True)],
              (0, 25, 8, 8), "Days since each device's newest saved output was captured, oldest first. Over "
              f"{CAPTURE_STALE_DAYS} days (red) means the collection job stopped for that device (LicSourceDataStale; "
              "a device the exporter collects is judged by its own interval, in the collection table).", **DAYS,
              links=per_device,
              thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                        {"color": "red", "value": CAPTURE_STALE_DAYS}]},
              options={"sortBy": [{"displayName": "days old", "desc": True}]},
              transformations=[excluded("Time", rename={"Value": "days old"})], overrides=cell_colours("days old")),
        panel("timeseries", "Call-home failures by reason",
              [target(f"sum by (reason) ({first_failures('', '$__rate_interval')})", "{{reason}}")],
              (8, 25, 10, 8), "Failed communications with Cisco seen in syslog, by cause, per interval (a "
              "device's first failure counts too). The README says what each reason means.", unit="short",
              decimals=0),
        panel("table", "Call-home failures per device (last 24 h)",
              [target(f"sort_desc(sum by (device, reason) ({first_failures('', '1d')}))", instant=True,
                      table=True)],
              (18, 25, 6, 8), "Which devices failed to reach Cisco in the last day, and why: orange from one failure, "
              f"red from {CALLHOME_REPEATING.failures} (as many as LicCallhomeFailuresRepeating needs in "
              f"{CALLHOME_REPEATING.hours} h). A reason shared by many devices is one cause "
              "(LicCallhomeFailingFleetwide). Click a device to open it.", decimals=0, links=per_device,
              thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                        {"color": "orange", "value": 1},
                                                        {"color": "red", "value": CALLHOME_REPEATING.failures}]},
              options={"sortBy": [{"displayName": "failures", "desc": True}]},
              transformations=[excluded("Time", rename={"Value": "failures"})], overrides=cell_colours("failures")),
        panel("table", "Active problems (lic-exporter diagnose)",
              [target(f"sort_desc({MetricName.PROBLEM} == 1)", instant=True, table=True)], (0, 33, 24, 8),
              "Every finding of the troubleshooting rules, per device; the README lists each problem and its fix "
              "(lic-exporter diagnose prints it). Click a device to open it.", links=per_device,
              mappings=value_map({"critical": ("critical", "red"), "warning": ("warning", "orange"),
                                  "info": ("info", "blue")}),
              options={"sortBy": [{"displayName": "severity", "desc": False}]},
              transformations=[excluded("Time", "__name__", "Value", "instance", "job")],
              overrides=[by_name("severity", ("custom.cellOptions", {"type": "color-text"}))]),
        panel("stat", "Files in error",
              [target(f'sum({MetricName.FILES}{{state="error"}})', instant=True)], (0, 41, 6, 5),
              "Files the exporter cannot parse; their devices keep their last good values. Over 0: read the "
              "exporter's log for the file and the error.",
              thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                        {"color": "red", "value": 1}]}),
        panel("stat", "Files parsed", [target(f'sum({MetricName.FILES}{{state="ok"}})', instant=True)], (6, 41, 6, 5),
              "Saved outputs the exporter parses cleanly: about one per device and command.",
              color={"mode": "fixed", "fixedColor": "text"}),
        panel("timeseries", "Parse errors and syslog lines read",
              [target(f"sum(increase({MetricName.PARSE_ERRORS}[$__rate_interval]))", "parse errors"),
               target(f"sum(increase({MetricName.SYSLOG_LINES}[$__rate_interval]))", "syslog lines read",
                      ref="B")],
              (12, 41, 12, 5), "Exporter health: problems met while parsing, and the syslog lines it reads (a flat "
              "zero for syslog lines means the tail stopped).", unit="short", custom={"drawStyle": "line",
                                                                                     "stacking": {"mode": "none"},
                                                                                     "fillOpacity": 10}),
        panel("table", "Collection from the switches: hours since the last success",
              [target(f"sort_desc((time() - {MetricName.COLLECT_LAST_SUCCESS}) / 3600)",
                      instant=True, table=True),
               target(collection_age_state(), instant=True, table=True, ref="B"),
               target(f"{MetricName.COLLECT_INTERVAL} / 3600", instant=True, table=True, ref="C")],
              (0, 46, 12, 8), "When the exporter collects over SSH (serve --config.file): how long ago each "
              "device was last collected, judged against its own collection interval: late (orange) after "
              f"{COLLECTION_AGE.late} intervals, stale (red) after {COLLECTION_AGE.stale}, where the "
              "LicCollectionFailing alert fires. Click a device to open it.", unit="h", decimals=1, links=per_device,
              options={"sortBy": [{"displayName": "hours since success", "desc": True}]},
              transformations=[excluded("__name__"), {"id": "merge", "options": {}},
                               excluded("Time", rename={"Value #A": "hours since success", "Value #B": "collection",
                                                        "Value #C": "interval"})],
              overrides=[row_colour("collection", FRESHNESS)]),
        panel("timeseries", "Collection failures by reason",
              [target(f"sum by (reason) (increase({MetricName.COLLECT_FAILURES}[$__rate_interval]))",
                      "{{reason}}")],
              (12, 46, 12, 8), "Failed SSH collections by cause (the README says what each reason means).",
              unit="short", decimals=0),
    ]
    panels += accounts(54)
    links = [link("Device detail", f"/d/{DEVICE_UID}", "One device: states, deadlines, attempts, failures")]
    return dashboard(FLEET_UID, "Cisco Smart Licensing: fleet overview", panels, device=False, links=links)


def detail() -> dict:
    dev = 'device="$device"'
    hide = ("Time", "__name__", "device", "instance", "job")
    panels = [
        panel("table", "Licensing mode and accounts",
              [target(f"{MetricName.INFO}{{{dev}}}", instant=True, table=True)], (0, 0, 24, 4),
              "mode smart: classic Smart Licensing (registration, authorization); policy: Smart Licensing Using "
              "Policy (usage reports and their ACK). The smart and virtual account the device is registered to.",
              transformations=[excluded(*hide, "Value")]),
        panel("state-timeline", "Authorization state",
              [target(state_code(MetricName.AUTHORIZATION_STATE, AUTH_CODES, dev), "authorization")],
              (0, 4, 12, 6), "Licence authorization over time: green authorized, yellow evaluation, orange out of "
              "compliance, red expired. Out of compliance: add licences to the virtual account; expired: restore "
              "call-home (README runbooks).", mappings=AUTH_MAP, color={"mode": "fixed", "fixedColor": "text"}),
        panel("state-timeline", "Registration state",
              [target(state_code(MetricName.REGISTRATION_STATE, REG_CODES, dev), "registration")],
              (12, 4, 12, 6), "Classic Smart Licensing registration over time: green registered, yellow "
              "unregistered, orange failed, red expired (re-register with a new ID token).", mappings=REG_MAP,
              color={"mode": "fixed", "fixedColor": "text"}),
        panel("table", "Deadlines (days left)",
              [target(days_left(f"{MetricName.DEADLINE_TIMESTAMP}{{{dev}}}"), instant=True, table=True),
               target(deadline_urgency(dev), instant=True, table=True, ref="B")],
              (0, 10, 8, 7), "Days to each deadline the outputs state, nearest first, negative once passed; each row "
              "coloured by its own deadline's marks, those of its alerts (critical/warning days: "
              f"{MARKS}). report_ack is Smart Licensing Using Policy's.",
              **DAYS, options={"sortBy": [{"displayName": "days left", "desc": False}]},
              transformations=[{"id": "merge", "options": {}},
                               excluded(*hide, rename={"Value #A": "days left", "Value #B": "urgency"})],
              overrides=[row_colour("urgency", URGENCY)]),
        panel("table", "Deadlines",
              [target(f"{MetricName.DEADLINE_TIMESTAMP}{{{dev}}} * 1000", instant=True, table=True)],
              (8, 10, 8, 7), "The date of each deadline, nearest first.", unit="dateTimeAsIso",
              options={"sortBy": [{"displayName": "date", "desc": False}]},
              transformations=[excluded(*hide, rename={"Value": "date"})]),
        panel("table", "Next and last attempts",
              [target(f"{MetricName.NEXT_ATTEMPT_TIMESTAMP}{{{dev}}} * 1000", instant=True, table=True),
               target(f"{MetricName.LAST_ATTEMPT_TIMESTAMP}{{{dev}}} * 1000", instant=True, table=True,
                      ref="B")], (16, 10, 8, 7),
              "Per attempt (registration, renewals, report push): when the device last tried and when it will "
              "try next. A next attempt in the past means it did not happen (LicAttemptOverdue).",
              unit="dateTimeAsIso",
              transformations=[{"id": "merge", "options": {}},
                               excluded(*hide, rename={"Value #A": "next attempt", "Value #B": "last attempt"})]),
        panel("stat", "Last attempt succeeded",
              [target(f"{MetricName.LAST_ATTEMPT_SUCCESS}{{{dev}}}", "{{attempt}}", instant=True)], (0, 17, 8, 5),
              "Whether each last attempt succeeded, where the output says. Failed: see the call-home failures "
              "beside it for the reason.",
              mappings=value_map({"0": ("failed", "red"), "1": ("succeeded", "green")}),
              thresholds={"mode": "absolute", "steps": [{"color": "red", "value": None},
                                                        {"color": "green", "value": 1}]},
              options={"colorMode": "background", "textMode": "value_and_name"}),
        panel("timeseries", "Call-home failures by reason",
              [target(f"sum by (reason) ({first_failures('{' + dev + '}', '$__rate_interval')})", "{{reason}}")],
              (8, 17, 10, 8), "Failed communications with Cisco per interval, by cause (the first one counts too). "
              "The README says what each reason means.", unit="short", decimals=0),
        panel("stat", "Last call-home failure",
              [target(f"{MetricName.CALLHOME_LAST_FAILURE}{{{dev}}} * 1000", instant=True)],
              (18, 17, 6, 4), "When the newest failed communication with Cisco was logged.",
              unit="dateTimeFromNow", color={"mode": "fixed", "fixedColor": "text"}),
        panel("table", "Syslog messages (time range)",
              [target(f"sort_desc(sum by (mnemonic, severity) "
                      f"(increase({MetricName.SYSLOG_MESSAGES}{{{dev}}}[$__range])))", instant=True,
                      table=True)], (18, 21, 6, 8),
              "Licensing and call-home syslog messages in the time range, by message name, most first.",
              decimals=0, transformations=[excluded("Time", rename={"Value": "messages"})],
              options={"sortBy": [{"displayName": "messages", "desc": True}]}),
        panel("stat", "Call-home enabled", [target(f"{MetricName.CALLHOME_ENABLED}{{{dev}}}", instant=True)],
              (0, 22, 8, 3), "Call-home carries Smart Licensing to Cisco; disabled means no renewal can succeed.",
              mappings=value_map({"0": ("disabled", "red"), "1": ("enabled", "green")}),
              thresholds={"mode": "absolute", "steps": [{"color": "red", "value": None},
                                                        {"color": "green", "value": 1}]},
              options={"colorMode": "background"}),
        panel("table", "Entitlements",
              [target(f"{MetricName.ENTITLEMENT_STATE}{{{dev}}} == 1", instant=True, table=True),
               target(f"{MetricName.ENTITLEMENT_LICENSES}{{{dev}}}", instant=True, table=True, ref="B")],
              (0, 25, 18, 8), "Each licence tag with its state and the count in use; out of compliance (orange) "
              "means the virtual account lacks licences for it.",
              mappings=value_map({"authorized": ("authorized", "green"), "in_use": ("in use", "green"),
                                  "out_of_compliance": ("out of compliance", "orange"),
                                  "evaluation": ("evaluation", "yellow"),
                                  "evaluation_expired": ("evaluation expired", "red"),
                                  "not_authorized": ("not authorized", "red"),
                                  "not_in_use": ("not in use", "text")}),
              transformations=[{"id": "merge", "options": {}},
                               excluded(*hide, "Value #A", rename={"Value #B": "licences in use"})],
              overrides=[by_name("state", ("custom.cellOptions", {"type": "color-text"}))]),
        panel("table", "Problems found (lic-exporter diagnose)",
              [target(f"{MetricName.PROBLEM}{{{dev}}} == 1", instant=True, table=True)], (0, 33, 24, 5),
              "The troubleshooting rules' findings for this device; the README (and lic-exporter diagnose) give "
              "each one's fix.", mappings=value_map({"critical": ("critical", "red"),
                                                     "warning": ("warning", "orange"), "info": ("info", "blue")}),
              transformations=[excluded(*hide, "Value")],
              overrides=[by_name("severity", ("custom.cellOptions", {"type": "color-text"}))]),
        # The device's entitlements are licence tags (LAN_ENTERPRISE_SERVICES_PKG), the account's
        # licences product names ("NX-OS Advantage ..."): no label joins them, so every licence of
        # the device's virtual account shows.
        licence_balance("Its virtual account in the Smart Account", (0, 38, 24, 7),
                        "The licences of the virtual account this device is registered to (its virtual_account in "
                        "the first table), as the Smart Account states them when lic-exporter polls it "
                        "(docs/accounts.md). A red row is a licence the virtual account lacks: if the device uses "
                        "it, it reports out of compliance. The device names its licences by tag, the account by "
                        "product name, so every licence of the virtual account is listed, not only the device's.",
                        only=f' and on (virtual_account) {MetricName.INFO}{{{dev}, virtual_account!=""}}'),
    ]
    links = [link("Fleet overview", f"/d/{FLEET_UID}", "Back to every device")]
    if MULTI_DEVICE:  # one row per picked device; in it $device is that one device
        for item in panels:
            item["gridPos"]["y"] += 1
        panels.insert(0, {"type": "row", "title": "$device", "collapsed": False, "panels": [], "repeat": "device",
                          "datasource": DATASOURCE, "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}})
    # Annotations are not repeated: they match every picked device.
    picked = 'device=~"$device"' if MULTI_DEVICE else dev
    changes = [state_change(MetricName.AUTHORIZATION_STATE, "Authorization state changes", "orange", picked),
               state_change(MetricName.REGISTRATION_STATE, "Registration state changes", "purple", picked)]
    return dashboard(DEVICE_UID, "Cisco Smart Licensing: device detail", panels, device=True, links=links,
                     annotations=changes)


def state_change(metric: str, name: str, colour: str, selector: str) -> dict:
    """An annotation where a state becomes 1: one mark per change, on every time panel."""
    now = f"{metric}{{{selector}}}"
    what = name.split()[0].lower()
    return {"name": name, "enable": True, "hide": False, "iconColor": colour, "datasource": DATASOURCE,
            "target": {"refId": "Anno", "interval": SCRAPE_INTERVAL,
                       "expr": scoped(f"{now} == 1 unless {now} offset {SCRAPE_INTERVAL} == 1")},
            "titleFormat": f"{what}: {{{{state}}}}", "tagKeys": "state", "useValueForTime": False,
            "textFormat": f"{{{{device}}}} is now {{{{state}}}} ({what} state)"}


def link(title: str, url: str, tooltip: str) -> dict:
    """A dashboard link that keeps the time range and the data source."""
    return {"title": title, "type": "link", "url": url, "icon": "dashboard", "tooltip": tooltip,
            "tags": [], "asDropdown": False, "includeVars": False, "keepTime": True, "targetBlank": False}


def query_variable(name: str, label: str, query: str, multi: bool = False, everything: str | None = None) -> dict:
    found = {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
             "query": {"query": query, "refId": name}, "refresh": 2, "sort": 1,
             "current": {"selected": False, "text": "", "value": ""}, "hide": 0, "options": [], "regex": "",
             "includeAll": multi, "multi": multi, "skipUrlSync": False}
    if everything is not None:
        found["allValue"] = everything
    return found


def variables(device: bool) -> list[dict]:
    found = [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
              "current": {"selected": False, "text": "default", "value": "default"}, "hide": 0, "refresh": 1,
              "options": [], "regex": "", "includeAll": False, "multi": False, "skipUrlSync": False}]
    if MULTI_DEVICE:
        where = 'job=~"$job", instance=~"$instance"'
        accounts = f'{where}, smart_account=~"$smart_account", virtual_account=~"$virtual_account"'
        # All devices: the list of those the accounts leave (no allValue), each its own row.
        found += [query_variable("job", "Job", f"label_values({MetricName.INFO}, job)", True, ".+"),
                  query_variable("instance", "Exporter", f'label_values({MetricName.INFO}{{job=~"$job"}}, instance)',
                                 True, ".+"),
                  query_variable("smart_account", "Smart account",
                                 f"label_values({MetricName.INFO}{{{where}}}, smart_account)", True, ".*"),
                  query_variable("virtual_account", "Virtual account",
                                 f'label_values({MetricName.INFO}{{{where}, smart_account=~"$smart_account"}}, '
                                 "virtual_account)", True, ".*"),
                  query_variable("device", "Device", f"label_values({MetricName.INFO}{{{accounts}}}, device)",
                                 True)]
    elif device:
        found.append(query_variable("device", "Device", f"label_values({MetricName.INFO}, device)"))
    return found


def dashboard(uid: str, title: str, panels: list[dict], device: bool, links: list[dict],
              annotations: list[dict] | None = None) -> dict:
    for number, item in enumerate(panels, 1):
        item["id"] = number
    builtin = {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
               "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}
    return {
        "uid": uid, "title": title, "tags": ["lic_exporter", "cisco", "licensing"], "timezone": "",
        "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True, "graphTooltip": 1,
        "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "",
        "time": {"from": "now-7d", "to": "now"}, "timepicker": {}, "refresh": "5m",
        "templating": {"list": variables(device)}, "annotations": {"list": [builtin, *(annotations or [])]},
        "panels": panels,
        "links": [*links, {"title": "lic_exporter", "type": "dashboards", "tags": ["lic_exporter"],
                           "asDropdown": True, "icon": "external link", "tooltip": "", "includeVars": False,
                           "keepTime": True, "targetBlank": False}],
    }


def main() -> None:
    import build_alerting  # beside this file: the Grafana-managed alerts

    for name, board in (("fleet-overview.json", fleet()), ("device-detail.json", detail())):
        (HERE / "grafana" / name).write_text(json.dumps(board, indent=2) + "\n")
    build_alerting.write(HERE)


if __name__ == "__main__":
    main()
