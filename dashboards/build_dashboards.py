"""Writes the Grafana dashboards in grafana/ from the panel lists below (run after a change;
tests/test_dashboards.py checks the committed JSON is what this writes, and that every query
parses and returns data from a real Prometheus scraping the real exporter).

    python dashboards/build_dashboards.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
DAYS_THRESHOLDS = {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "orange", "value": 7},
                                                 {"color": "green", "value": 30}]}


def target(expr: str, legend: str = "", instant: bool = False, table: bool = False, ref: str = "A") -> dict:
    found = {"datasource": DATASOURCE, "expr": expr, "refId": ref, "legendFormat": legend or "__auto"}
    if instant:
        found["instant"] = True
        found["range"] = False
    if table:
        found["format"] = "table"
    return found


def panel(kind: str, title: str, targets: list[dict], grid: tuple[int, int, int, int], description: str = "",
          unit: str | None = None, thresholds: dict | None = None, options: dict | None = None,
          transformations: list[dict] | None = None, overrides: list[dict] | None = None) -> dict:
    x, y, w, h = grid
    defaults: dict = {}
    if unit:
        defaults["unit"] = unit
    if thresholds:
        defaults["thresholds"] = thresholds
        defaults["color"] = {"mode": "thresholds"}
    return {
        "type": kind, "title": title, "description": description, "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {}, "transformations": transformations or [],
    }


def variables(device: bool) -> list[dict]:
    found = [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
              "current": {}, "hide": 0, "refresh": 1}]
    if device:
        found.append({"name": "device", "label": "Device", "type": "query", "datasource": DATASOURCE,
                      "query": {"query": "label_values(cisco_smartlic_info, device)", "refId": "device"},
                      "definition": "label_values(cisco_smartlic_info, device)", "refresh": 2, "sort": 1,
                      "current": {}, "hide": 0})
    return found


def dashboard(uid: str, title: str, panels: list[dict], device: bool) -> dict:
    for number, item in enumerate(panels, 1):
        item["id"] = number
    return {
        "uid": uid, "title": title, "tags": ["lic_exporter", "cisco", "licensing"], "timezone": "",
        "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-7d", "to": "now"}, "refresh": "5m",
        "templating": {"list": variables(device)}, "annotations": {"list": []}, "panels": panels,
        "links": [{"title": "Device detail", "type": "dashboards", "tags": ["lic_exporter"], "asDropdown": True}],
    }


def fleet() -> dict:
    by_state = {"reduceOptions": {"calcs": ["lastNotNull"]}, "orientation": "horizontal", "displayMode": "basic"}
    table_days = {"cellOptions": {"type": "color-background"}}
    panels = [
        panel("bargauge", "Devices per authorization state",
              [target("count by (state) (cisco_smartlic_authorization_state == 1)", "{{state}}", instant=True)],
              (0, 0, 12, 7), "How many devices are in each licence authorization state now.", options=by_state),
        panel("bargauge", "Devices per registration state",
              [target("count by (state) (cisco_smartlic_registration_state == 1)", "{{state}}", instant=True)],
              (12, 0, 12, 7), "Classic Smart Licensing registration state of each device.", options=by_state),
        panel("table", "Nearest deadline per device (days left)",
              [target("sort(device_deadline:cisco_smartlic_deadline_days:nearest)", instant=True, table=True)],
              (0, 7, 12, 12), "Each device's earliest deadline, soonest first: red under 7 days, orange under 30.",
              unit="d", thresholds=DAYS_THRESHOLDS,
              transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True, "__name__": True,
                                                                                "instance": True, "job": True}}}],
              overrides=[{"matcher": {"id": "byName", "options": "Value"},
                          "properties": [{"id": "custom.cellOptions", "value": table_days["cellOptions"]},
                                         {"id": "displayName", "value": "days left"}]}]),
        panel("table", "Age of the newest captured output (days)",
              [target("sort_desc((time() - max by (device) (cisco_smartlic_source_timestamp_seconds)) / 86400)",
                      instant=True, table=True)],
              (12, 7, 12, 12), "Outputs older than 2 days mean the collection job stopped for that device.",
              unit="d", thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                                  {"color": "red", "value": 2}]}),
        panel("timeseries", "Call-home failures by reason",
              [target("sum by (reason) (increase(cisco_smartlic_callhome_failures_total[$__rate_interval]))",
                      "{{reason}}")],
              (0, 19, 16, 9), "Failed communications with Cisco seen in syslog, by cause.", unit="short"),
        panel("table", "Call-home failures per device (last 24 h)",
              [target("sort_desc(sum by (device, reason) (increase(cisco_smartlic_callhome_failures_total[1d])))",
                      instant=True, table=True)],
              (16, 19, 8, 9), "Which devices fail, and why."),
        panel("table", "Active problems (lic-exporter diagnose)",
              [target("sort_desc(cisco_smartlic_problem == 1)", instant=True, table=True)], (0, 33, 24, 8),
              "Every finding of the troubleshooting rules, per device; the README lists each problem and its fix.",
              transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True, "__name__": True,
                                                                                "Value": True}}}]),
        panel("stat", "Files in error",
              [target('sum(lic_exporter_files{state="error"})', instant=True)], (0, 28, 6, 5),
              "Files the exporter cannot parse; their devices keep their last good values.",
              thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                        {"color": "red", "value": 1}]}),
        panel("stat", "Files parsed", [target('sum(lic_exporter_files{state="ok"})', instant=True)], (6, 28, 6, 5)),
        panel("timeseries", "Parse errors and syslog lines read",
              [target("sum(increase(lic_exporter_parse_errors_total[$__rate_interval]))", "parse errors"),
               target("sum(increase(lic_exporter_syslog_lines_total[$__rate_interval]))", "syslog lines read",
                      ref="B")],
              (12, 28, 12, 5), "Exporter health: problems met while parsing, and the syslog lines it reads."),
        panel("table", "Collection from the switches: hours since the last success",
              [target("sort_desc((time() - lic_exporter_collect_last_success_timestamp_seconds) / 3600)",
                      instant=True, table=True)],
              (0, 41, 12, 8), "When the exporter collects over SSH (serve --config.file): how long ago each "
              "device was last collected; over two intervals is the LicCollectionFailing alert.",
              unit="h", thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                                  {"color": "orange", "value": 6},
                                                                  {"color": "red", "value": 12}]}),
        panel("timeseries", "Collection failures by reason",
              [target("sum by (reason) (increase(lic_exporter_collect_failures_total[$__rate_interval]))",
                      "{{reason}}")],
              (12, 41, 12, 8), "Failed SSH collections by cause (the README says what each reason means).",
              unit="short"),
    ]
    return dashboard("lic-exporter-fleet", "Cisco Smart Licensing: fleet overview", panels, device=False)


def detail() -> dict:
    dev = 'device="$device"'
    panels = [
        panel("table", "Licensing mode and accounts",
              [target(f"cisco_smartlic_info{{{dev}}}", instant=True, table=True)], (0, 0, 24, 4)),
        panel("state-timeline", "Authorization state",
              [target(f"cisco_smartlic_authorization_state{{{dev}}} == 1", "{{state}}")], (0, 4, 12, 6)),
        panel("state-timeline", "Registration state",
              [target(f"cisco_smartlic_registration_state{{{dev}}} == 1", "{{state}}")], (12, 4, 12, 6)),
        panel("table", "Deadlines (days left)",
              [target(f"cisco_smartlic_deadline_days{{{dev}}}", "{{deadline}}", instant=True, table=True)],
              (0, 10, 8, 7), unit="d", thresholds=DAYS_THRESHOLDS),
        panel("table", "Deadlines",
              [target(f"cisco_smartlic_deadline_timestamp_seconds{{{dev}}} * 1000", "{{deadline}}", instant=True,
                      table=True)], (8, 10, 8, 7), unit="dateTimeAsIso"),
        panel("table", "Next and last attempts",
              [target(f"cisco_smartlic_next_attempt_timestamp_seconds{{{dev}}} * 1000", "next {{attempt}}",
                      instant=True, table=True),
               target(f"cisco_smartlic_last_attempt_timestamp_seconds{{{dev}}} * 1000", "last {{attempt}}",
                      instant=True, table=True, ref="B")], (16, 10, 8, 7), unit="dateTimeAsIso"),
        panel("stat", "Last attempt succeeded",
              [target(f"cisco_smartlic_last_attempt_success{{{dev}}}", "{{attempt}}", instant=True)], (0, 17, 8, 5),
              thresholds={"mode": "absolute", "steps": [{"color": "red", "value": None},
                                                        {"color": "green", "value": 1}]}),
        panel("timeseries", "Call-home failures by reason",
              [target(f"sum by (reason) (increase(cisco_smartlic_callhome_failures_total{{{dev}}}[$__rate_interval]))",
                      "{{reason}}")], (8, 17, 10, 8)),
        panel("stat", "Last call-home failure",
              [target(f"cisco_smartlic_callhome_last_failure_timestamp_seconds{{{dev}}} * 1000", instant=True)],
              (18, 17, 6, 4), unit="dateTimeFromNow"),
        panel("table", "Syslog messages (time range)",
              [target(f"sort_desc(sum by (mnemonic, severity) "
                      f"(increase(cisco_smartlic_syslog_messages_total{{{dev}}}[$__range])))", instant=True,
                      table=True)], (18, 21, 6, 8)),
        panel("table", "Entitlements",
              [target(f"cisco_smartlic_entitlement_state{{{dev}}} == 1", instant=True, table=True),
               target(f"cisco_smartlic_entitlement_licenses{{{dev}}}", instant=True, table=True, ref="B")],
              (0, 25, 18, 8), "Each licence tag with its state and the count in use.",
              transformations=[{"id": "merge", "options": {}}]),
        panel("table", "Problems found (lic-exporter diagnose)",
              [target(f"cisco_smartlic_problem{{{dev}}} == 1", instant=True, table=True)], (0, 33, 24, 5)),
        panel("stat", "Call-home enabled", [target(f"cisco_smartlic_callhome_enabled{{{dev}}}", instant=True)],
              (0, 22, 8, 3), thresholds={"mode": "absolute", "steps": [{"color": "red", "value": None},
                                                                       {"color": "green", "value": 1}]}),
    ]
    return dashboard("lic-exporter-device", "Cisco Smart Licensing: device detail", panels, device=True)


def main() -> None:
    import build_alerting  # beside this file: the Grafana-managed alerts

    for name, board in (("fleet-overview.json", fleet()), ("device-detail.json", detail())):
        (HERE / "grafana" / name).write_text(json.dumps(board, indent=2) + "\n")
    build_alerting.write(HERE)


if __name__ == "__main__":
    main()
