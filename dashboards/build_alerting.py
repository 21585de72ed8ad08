"""Writes the alerting files from one table (ALERTS below): the Prometheus rules
(prometheus/lic_exporter.rules.yml) and their Grafana-managed twins
(grafana/provisioning/alerting/lic_exporter.yml). Called by build_dashboards.py, which writes
every generated file; on its own:

    python dashboards/build_alerting.py [--runbook-base-url URL] [--dashboard-base-url URL]

Every alert gets `runbook_url` (RUNBOOK_BASE + "#" + the alert's heading in docs/alerts.md) and, where a dashboard
helps, `dashboard_url` (DASHBOARD_BASE + "/d/<uid>"); both bases are options. Metric names,
severities and the deadline alerts' day thresholds come from lic_exporter.model.vocabulary, which
the command line's table and `lic-exporter diagnose` read too. Days left are computed from the
deadline timestamps at evaluation time (days_left below, which the dashboards use too), so the
rules hold for textfile output and need no `cisco_smartlic_deadline_days`. The account alerts
(group `accounts`) judge what the Smart Accounts say and whether their polls keep up.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from lic_exporter.model.vocabulary import (
    ACCOUNT_POLL_STALE_INTERVALS,
    ATTEMPT_OVERDUE_DAYS,
    CALLHOME_FLEETWIDE,
    CALLHOME_REPEATING,
    CAPTURE_STALE_DAYS,
    COLLECTION_AGE,
    DEADLINE_DAYS,
    FINDING_ALERTS,
    PROBLEM_ALERT,
    TERM_END_DAYS,
    Deadline,
    MetricName,
    Severity,
)

RUNBOOK_BASE = "docs/alerts.md"  # repository-relative: resolves on GitHub/GitLab and in a checkout
DASHBOARD_BASE = ""  # relative to the Grafana that renders the link
DATASOURCE_UID = "${LIC_EXPORTER_PROMETHEUS_UID}"  # Grafana expands it when it reads the file
DEVICE_BOARD, FLEET_BOARD = "lic-exporter-device", "lic-exporter-fleet"


@dataclass(frozen=True)
class Alert:
    name: str
    group: str  # deadlines, states, accounts, health
    query: str  # the value: Grafana's query A, and the Prometheus expression before `cond`
    cond: str  # Prometheus comparison, e.g. "< 30"
    grafana: tuple[str, float]  # Grafana's threshold on A (gt/lt only: every Grafana has them)
    severity: Severity | None
    summary: str  # Prometheus templates; Grafana's read $values.A.Value for $value
    description: str
    anchor: str
    wait: str | None = None
    dashboard: str | None = None  # "device" or "fleet"
    expr: str | None = None  # the Prometheus expression when it is not `query cond`
    comment: str = ""
    twin: bool = True  # a Grafana-managed twin (see NO_GRAFANA_TWIN)

    @property
    def prometheus_expr(self) -> str:
        return self.expr or f"{self.query} {self.cond}"

    @property
    def grafana_query(self) -> str:
        """Query A. A bare selector is wrapped in `min without ()`, which drops only the metric
        name: Prometheus drops it from alert labels, Grafana would keep it in the instance's."""
        if re.fullmatch(r"[a-z_:]+(?:\{[^{}]*\})?", self.query):
            return f"min without () ({self.query})"
        return self.query

    @property
    def health(self) -> bool:
        """Exporter-wide health: no data or a failing query must alert."""
        return self.group == "health" and self.name != "LicDeviceMissing"


def days_left(timestamps: str = MetricName.DEADLINE_TIMESTAMP) -> str:
    """Days from the evaluation time to each deadline (negative once passed), computed from
    `timestamps` (the deadline timestamp series, a selector of it, or a parenthesised expression
    of it): `(cisco_smartlic_deadline_timestamp_seconds - time()) / 86400`."""
    return f"({timestamps} - time()) / 86400"


def _deadline(name: str, deadline: Deadline, severity: Severity, summary: str, description: str,
              anchor: str) -> Alert:
    """An alert on the days left to a deadline, below the vocabulary's threshold for its severity."""
    thresholds = DEADLINE_DAYS[deadline]
    below = thresholds.critical if severity is Severity.CRITICAL else thresholds.warning
    query = days_left(f'{MetricName.DEADLINE_TIMESTAMP}{{deadline="{deadline}"}}')
    return Alert(name, "deadlines", query, f"< {below}", ("lt", below), severity, summary, description, anchor,
                 "1h" if severity is Severity.WARNING else None, "device")


def days_seconds(days: float) -> str:
    """A number of days as seconds, written so that the day count shows: `2 * 86400`."""
    return f"{days} * 86400"


def dedicated_findings() -> str:
    """The `problem` values LicProblem leaves to an alert of their own (the vocabulary's
    FINDING_ALERTS), as one regular expression; `<reason>` stands for any reason."""
    return "|".join(name.replace("<reason>", ".+") for name, alert in FINDING_ALERTS.items() if alert != PROBLEM_ALERT)


_V1 = '{{ $value | printf "%.1f" }}'
_V0 = '{{ $value | printf "%.0f" }}'
_DUR = "{{ $value | humanizeDuration }}"
# Collected within its stale mark (COLLECTION_AGE, in the device's own intervals).
_RECENT = f"time() - {MetricName.COLLECT_LAST_SUCCESS} < {COLLECTION_AGE.stale} * {MetricName.COLLECT_INTERVAL}"
_FAILURES = MetricName.CALLHOME_FAILURES
_SOURCES = f"max by (device) ({MetricName.SOURCE_TIMESTAMP})"
# A device the exporter collects itself, whose capture is still within its stale mark: judged
# by its interval (a 24 h schedule is not stale after 2 days), LicCollectionFailing's matter.
_ON_SCHEDULE = (f"time() - {_SOURCES} < {COLLECTION_AGE.stale} * max by (device) "
                f"({MetricName.COLLECT_INTERVAL})")
_NEXT_RENEWALS = f'{MetricName.NEXT_ATTEMPT_TIMESTAMP}{{attempt=~"registration_renewal|authorization_renewal"}}'
_REPEAT = f"{CALLHOME_REPEATING.hours}h"
_FLEET = f"{CALLHOME_FLEETWIDE.hours}h"
# Devices with a call-home failure of a reason in the window: an increase, or a series born in
# the window (increase() misses a series' first value). Once per device and reason, however
# many exporters (HA pairs) report it.
_FAILING = (f"max by (device, reason) (\n    increase({_FAILURES}[{_FLEET}]) > 0\n"
            f"    or ({_FAILURES} > 0 unless {_FAILURES} offset {_FLEET})\n  )")
# Every device the exporter knows: from its outputs, or only from its syslog lines.
_DEVICES = f"count(max by (device) ({MetricName.INFO}) or max by (device) ({_FAILURES}))"
_FLEETWIDE = (f"count by (reason) (\n  {_FAILING}\n)\n>= scalar(clamp_min({_DEVICES} * "
              f"{CALLHOME_FLEETWIDE.percent} / 100, {CALLHOME_FLEETWIDE.devices}))")
_SEEN_TODAY = f"max by (device, instance, job) (max_over_time({MetricName.INFO}[1d]))"
# Seconds since each account source last polled successfully; for a source that has not since
# the exporter started (no last success yet), since the exporter started.
_POLL_INTERVAL = MetricName.ACCOUNTS_POLL_INTERVAL
_POLL_AGE = (f"time() - {MetricName.ACCOUNTS_LAST_SUCCESS}\nor on (instance, job, source)\n"
             f"0 * {_POLL_INTERVAL}\n+ on (instance, job) group_left ()\n(time() - process_start_time_seconds)")


def _term_end(name: str, severity: Severity, summary: str, description: str) -> Alert:
    """An alert on the days left to a licence's term end in its Smart Account (TERM_END_DAYS)."""
    below = TERM_END_DAYS.critical if severity is Severity.CRITICAL else TERM_END_DAYS.warning
    return Alert(name, "accounts", days_left(MetricName.ACCOUNT_LICENSE_TERM_END), f"< {below}", ("lt", below),
                 severity, summary, description, "lictermlicenceexpiring",
                 "1h" if severity is Severity.WARNING else None, "fleet")


_IN_VA = "{{ $labels.license }} in {{ $labels.smart_account }} / {{ $labels.virtual_account }}"

ALERTS = [
    _deadline("LicRegistrationExpiring", Deadline.REGISTRATION_EXPIRY, Severity.WARNING,
              f"{{{{ $labels.device }}}}: Smart Licensing registration expires in {_V1} days",
              "The ID certificate of {{ $labels.device }} is renewed every 6 months and valid for a year; its renewal "
              f"has not succeeded and it expires in {_V1} days. Then the device falls back to unregistered.",
              "licregistrationexpiring"),
    _deadline("LicRegistrationExpiringCritical", Deadline.REGISTRATION_EXPIRY, Severity.CRITICAL,
              f"{{{{ $labels.device }}}}: Smart Licensing registration expires in {_V1} days",
              f"Registration of {{{{ $labels.device }}}} expires in {_V1} days; restore call-home to Cisco or "
              "re-register with a new ID token.", "licregistrationexpiring"),
    _deadline("LicCommunicationDeadline", Deadline.COMMUNICATION_DEADLINE, Severity.WARNING,
              f"{{{{ $labels.device }}}}: licence authorization must reach Cisco within {_V1} days",
              f"Authorization is renewed every 30 days and valid for 90; {{{{ $labels.device }}}} has {_V1} days "
              "left before AUTHORIZATION EXPIRED.", "liccommunicationdeadline"),
    _deadline("LicCommunicationDeadlineCritical", Deadline.COMMUNICATION_DEADLINE, Severity.CRITICAL,
              f"{{{{ $labels.device }}}}: licence authorization expires in {_V1} days",
              f"{{{{ $labels.device }}}} will be AUTHORIZATION EXPIRED in {_V1} days unless it reaches Cisco.",
              "liccommunicationdeadline"),
    _deadline("LicReportAckDeadline", Deadline.REPORT_ACK, Severity.WARNING,
              f"{{{{ $labels.device }}}}: usage report acknowledgement due in {_V1} days",
              "Smart Licensing Using Policy: {{ $labels.device }} must have a usage report acknowledged by Cisco "
              f"within {_V1} days (Next ACK deadline).", "licreportackdeadline"),
    _deadline("LicReportAckDeadlineCritical", Deadline.REPORT_ACK, Severity.CRITICAL,
              f"{{{{ $labels.device }}}}: usage report acknowledgement due in {_V1} days",
              f"{{{{ $labels.device }}}} has {_V1} days to get its usage report acknowledged (negative: overdue).",
              "licreportackdeadline"),
    _deadline("LicEvaluationExpiring", Deadline.EVALUATION_EXPIRY, Severity.WARNING,
              f"{{{{ $labels.device }}}}: evaluation period ends in {_V1} days",
              "{{ $labels.device }} runs unregistered in evaluation mode (90 days of use); about "
              f"{_V1} days are left. Register it with an ID token.", "licevaluationexpiring"),
    Alert("LicOutOfCompliance", "states", f'{MetricName.AUTHORIZATION_STATE}{{state="out_of_compliance"}}', "== 1",
          ("gt", 0.5), Severity.WARNING, "{{ $labels.device }}: licences out of compliance",
          "{{ $labels.device }} uses more licences than its virtual account holds (OUT OF COMPLIANCE for over an "
          "hour).", "licoutofcompliance", "1h", "device"),
    Alert("LicAuthorizationExpired", "states", f'{MetricName.AUTHORIZATION_STATE}{{state="authorization_expired"}}',
          "== 1", ("gt", 0.5), Severity.CRITICAL, "{{ $labels.device }}: licence authorization expired",
          "{{ $labels.device }} has not reached Cisco for 90 days (AUTHORIZATION EXPIRED); it retries hourly.",
          "licauthorizationexpired", None, "device"),
    Alert("LicAttemptOverdue", "states",
          f"{_SOURCES}\n- on (device) group_right\n{_NEXT_RENEWALS}",
          f"> {days_seconds(ATTEMPT_OVERDUE_DAYS)}", ("gt", ATTEMPT_OVERDUE_DAYS * 86400), Severity.WARNING,
          f"{{{{ $labels.device }}}}: {{{{ $labels.attempt }}}} attempt overdue by {_DUR}",
          f"The output of {{{{ $labels.device }}}} was captured {_DUR} after the next {{{{ $labels.attempt }}}} "
          "attempt it names: the attempt did not happen or did not succeed.", "licattemptoverdue", "1h", "device",
          expr=f"{_SOURCES}\n- on (device) group_right\n{_NEXT_RENEWALS}\n> {days_seconds(ATTEMPT_OVERDUE_DAYS)}",
          comment="Judged against the capture, not the clock: an old capture is LicSourceDataStale's matter."),
    # No `for`: it must reach Alertmanager no later than the per-device alerts it inhibits there.
    # Grafana's query is the device count where it fires and 0 for every other reason seen.
    Alert("LicCallhomeFailingFleetwide", "states",
          f"({_FLEETWIDE})\nor 0 * count by (reason) ({_FAILURES})",
          "> 0", ("gt", 0), Severity.WARNING,
          f"{_V0} devices fail to reach Cisco with reason {{{{ $labels.reason }}}}",
          f"{_V0} devices logged call-home failures with reason {{{{ $labels.reason }}}} within "
          f"{CALLHOME_FLEETWIDE.hours} h (at least {CALLHOME_FLEETWIDE.percent} % of the fleet and at least "
          f"{CALLHOME_FLEETWIDE.devices} devices): one cause on the shared path to Cisco. The per-device "
          "call-home alerts of this reason are inhibited meanwhile.", "liccallhomefailingfleetwide", None, "fleet",
          expr=_FLEETWIDE,
          comment=f"At least {CALLHOME_FLEETWIDE.percent} % of the devices (and at least {CALLHOME_FLEETWIDE.devices}) "
                  f"with a call-home failure of\nthe same reason within {CALLHOME_FLEETWIDE.hours} h; devices: "
                  "those with licensing series or call-home failures.\nNo `for`: it must reach Alertmanager no "
                  "later than the per-device alerts it inhibits."),
    # Grafana's threshold has gt/lt only; the count is extrapolated, so > N - 0.001 stands for >= N.
    Alert("LicCallhomeFailuresRepeating", "states",
          f"max by (device, reason) (\n  ({_FAILURES} unless {_FAILURES} offset {_REPEAT})\n"
          f"  or increase({_FAILURES}[{_REPEAT}])\n)",
          f">= {CALLHOME_REPEATING.failures}", ("gt", CALLHOME_REPEATING.failures - 0.001), Severity.WARNING,
          f"{{{{ $labels.device }}}}: {_V0} call-home failures ({{{{ $labels.reason }}}}) in "
          f"{CALLHOME_REPEATING.hours} hours",
          f"{{{{ $labels.device }}}} keeps failing to reach Cisco with reason {{{{ $labels.reason }}}} "
          f"({_FAILURES}).", "liccallhomefailuresrepeating", None, "device",
          comment="A series born within the window counts from zero (increase() would miss its first\n"
                  "value); older series count their increase. Per device and reason (the most any exporter\n"
                  "reports: HA pairs count once), so that LicCallhomeFailingFleetwide of the same reason\n"
                  "inhibits it in Alertmanager."),
    Alert("LicSourceDataStale", "states",
          f"(time() - {_SOURCES}\n  unless on (device)\n  ({_ON_SCHEDULE}))\nor 0 * {_SOURCES}",
          f"> {days_seconds(CAPTURE_STALE_DAYS)}", ("gt", CAPTURE_STALE_DAYS * 86400), Severity.WARNING,
          f"{{{{ $labels.device }}}}: licensing outputs are {_DUR} old",
          f"The newest saved output of {{{{ $labels.device }}}} was captured {_DUR} ago; the collection job may have "
          "stopped. Deadlines shown may be out of date.", "licsourcedatastale", "1h", "device",
          expr=f"time() - {_SOURCES} > {days_seconds(CAPTURE_STALE_DAYS)}\nunless on (device)\n({_ON_SCHEDULE})",
          comment=f"Older than {CAPTURE_STALE_DAYS} days, or, for a device the exporter collects, than "
                  f"{COLLECTION_AGE.stale} of its\nintervals where that is longer."),
    Alert("LicProblem", "states",
          f'{MetricName.PROBLEM}{{severity=~"{Severity.WARNING}|{Severity.CRITICAL}",\n'
          f'  problem!~"{dedicated_findings()}"}}',
          "== 1", ("gt", 0.5), None, "{{ $labels.device }}: {{ $labels.problem }}",
          "lic-exporter diagnose finds {{ $labels.problem }} ({{ $labels.severity }}) on {{ $labels.device }}; run "
          "it on the device's outputs for what is wrong and what to type.", "licproblem", "1h", "device",
          comment="One alert for every diagnose finding above info; the series' own severity label\n"
                  "(warning, critical) is the alert's.\n"
                  "Findings with an alert of their own (FINDING_ALERTS of the vocabulary) are left to it\n"
                  "(no double notification)."),
    # Grafana's query is 1 while failing, 0 while not, so that a healthy fleet returns data.
    Alert("LicCollectionFailing", "states",
          f"({MetricName.COLLECT_SUCCESS} == bool 0\n  unless on (instance, job, device)\n  ({_RECENT}))\n"
          f"or on (instance, job, device) 0 * {MetricName.COLLECT_SUCCESS}",
          "== 1", ("gt", 0.5), Severity.WARNING, "{{ $labels.device }}: collection from the switch keeps failing",
          f"lic_exporter cannot collect {{{{ $labels.device }}}} ({MetricName.COLLECT_FAILURES} by reason says "
          "why); its licensing series are getting old.", "liccollectionfailing", "30m", "device",
          expr=f"{MetricName.COLLECT_SUCCESS} == 0\nunless on (instance, job, device)\n({_RECENT})",
          comment=f"Collection has not succeeded for {COLLECTION_AGE.stale} of the device's own intervals (its "
                  "transcript\nand so its licensing series are that old), or a device never collected keeps failing."),
    Alert("LicExporterParseErrors", "states", f'{MetricName.FILES}{{state="error"}}', "> 0", ("gt", 0),
          Severity.WARNING, f"lic_exporter on {{{{ $labels.instance }}}}: {_V0} file(s) cannot be parsed",
          "Their devices keep their last good values; the exporter log names each file and line.",
          "licexporterparseerrors", "30m", "fleet"),
    # What the Smart Accounts say (no device label: fleet-level, grouped by alert in Alertmanager).
    # Warning, as LicOutOfCompliance: the devices keep working while out of compliance.
    Alert("LicAccountShortage", "accounts", MetricName.ACCOUNT_LICENSE_AVAILABLE, "< 0", ("lt", 0), Severity.WARNING,
          f"{{{{ $labels.virtual_account }}}}: {_V0} available of {{{{ $labels.license }}}}",
          f"The Smart Account states {_V0} available of {_IN_VA} (source {{{{ $labels.source }}}}): more in use than "
          "held, so its devices that use it report OUT OF COMPLIANCE. Add or move licences in CSSM, then "
          "`license smart renew auth` on those devices.", "licaccountshortage", "1h", "fleet",
          comment="Negative available: the virtual account uses more than it holds. Warning, as\n"
                  "LicOutOfCompliance (the device side of the same fact)."),
    _term_end("LicTermLicenceExpiring", Severity.WARNING,
              f"{{{{ $labels.virtual_account }}}}: a term licence of {{{{ $labels.license }}}} ends in {_V1} days",
              f"A TERM or DEMO licence of {_IN_VA} ends in {_V1} days; its licences then leave the virtual account. "
              "Renew the subscription or buy licences to replace it."),
    _term_end("LicTermLicenceExpiringCritical", Severity.CRITICAL,
              f"{{{{ $labels.virtual_account }}}}: a term licence of {{{{ $labels.license }}}} ends in {_V1} days",
              f"A term licence of {_IN_VA} ends in {_V1} days (negative: ended and still listed); renew the "
              "subscription now, or the devices using it go OUT OF COMPLIANCE."),
    Alert("LicAccountPollFailing", "accounts",
          "(\n  " + _POLL_AGE.replace("\n", "\n  ") + f"\n)\n/ on (instance, job, source) {_POLL_INTERVAL}",
          f"> {ACCOUNT_POLL_STALE_INTERVALS}", ("gt", ACCOUNT_POLL_STALE_INTERVALS), Severity.WARNING,
          f"account source {{{{ $labels.source }}}}: no successful poll for {_V1} poll intervals",
          f"lic_exporter on {{{{ $labels.instance }}}} has not polled {{{{ $labels.source }}}} successfully for {_V1} "
          "of its poll intervals (counted from the exporter's start when it never has): the account series keep "
          f"their last values. {MetricName.ACCOUNTS_POLL_FAILURES} says why (forbidden: the API access is not yet "
          "approved at Cisco, or the client has no role on the account).", "licaccountpollfailing", None, "fleet",
          comment=f"No success for {ACCOUNT_POLL_STALE_INTERVALS} of the source's own poll intervals; a source "
                  "that has not succeeded\nsince the exporter started counts from the exporter's start."),
    # Silence is an alert: the exporter down, gone, or a device gone from it.
    Alert("LicExporterDown", "health",
          'max by (instance, job) (\n  up{job=~".*lic_exporter.*"}\n'
          f"  or (up and on (instance, job) max_over_time({MetricName.BUILD_INFO}[1d]))\n)",
          "< 1", ("lt", 1), Severity.CRITICAL,
          "lic_exporter target {{ $labels.instance }} (job {{ $labels.job }}) is down",
          "Prometheus cannot scrape {{ $labels.instance }}: no licensing series come from it, so no deadline "
          "alert of its devices can fire.", "licexporterdown", "5m", "fleet",
          expr='up{job=~".*lic_exporter.*"} == 0\n'
               f"or (up == 0 and on (instance, job) max_over_time({MetricName.BUILD_INFO}[1d]))",
          comment="A target whose job names lic_exporter, or any target that exported\n"
                  f"{MetricName.BUILD_INFO} in the last day (whatever its job is called)."),
    Alert("LicExporterAbsent", "health", f"count({MetricName.BUILD_INFO}) or vector(0)", "< 1", ("lt", 1),
          Severity.CRITICAL, "No lic_exporter series in Prometheus",
          f"{MetricName.BUILD_INFO} is absent: no exporter is scraped (target removed, relabelled away, or Prometheus "
          "cannot reach it), so no licensing alert can fire.", "licexporterabsent", "5m", "fleet",
          expr=f"absent({MetricName.BUILD_INFO})"),
    Alert("LicDeviceMissing", "health",
          f"{_SEEN_TODAY}\n* on (device) group_left ()\ncount by (device) ({MetricName.INFO})\n"
          f"or 0 * {_SEEN_TODAY}",
          "< 1", ("lt", 1), Severity.WARNING, "{{ $labels.device }}: its licensing series are gone",
          "{{ $labels.device }} had licensing series in the last day and has none now: its outputs are no longer "
          "read, or its exporter is down. Its deadline alerts cannot fire.", "licdevicemissing", "10m", "device",
          expr=f"{_SEEN_TODAY}\nunless on (device)\nmax by (device) ({MetricName.INFO})",
          comment="Gone by device: a device moved to another exporter is not missing. It keeps the\n"
                  "instance and job it was last seen on, so that LicExporterDown of that exporter\n"
                  "inhibits it in Alertmanager."),
]

# Prometheus alerts without a Grafana twin yet, and why (tests/test_alerting.py checks the reason holds).
NO_GRAFANA_TWIN: dict[str, str] = {}
assert NO_GRAFANA_TWIN.keys() == {a.name for a in ALERTS if not a.twin}

# The names keep "deadline_days" (what they hold), though the exporter need not export that family.
_EARLIEST = f"device:{MetricName.DEADLINE_DAYS}:min"
_TS = MetricName.DEADLINE_TIMESTAMP
# Each device's deadline series whose timestamp is its earliest, in parentheses (`==` binds less
# than `-`). Equal timestamps, not equal days: no equality of computed floats. The dashboards use
# it when the recording rules are not loaded.
NEAREST_DEADLINE = f"(\n  {_TS}\n  == on (device) group_left\n  min by (device) ({_TS})\n)"
RECORDING = [
    ("The earliest deadline of each device, in days (negative once passed).",
     {"record": _EARLIEST, "expr": f"min by (device) ({days_left()})"}),
    ("... and which deadline it is, as a label, for tables.",
     {"record": f"device_deadline:{MetricName.DEADLINE_DAYS}:nearest", "expr": days_left(NEAREST_DEADLINE)}),
]
# Grafana's evaluation interval per group.
GROUPS = {"deadlines": "5m", "states": "5m", "accounts": "5m", "health": "1m"}


def thresholds_markdown() -> str:
    """The vocabulary's marks as docs/alerts.md shows them ("Thresholds"; a test keeps the two equal)."""
    def alerts_on(deadline: Deadline, severity: Severity) -> str:
        names = [a.name for a in ALERTS if f'deadline="{deadline}"' in a.query and a.severity is severity]
        return ", ".join(f"`{name}`" for name in names) or "none (diagnose only)"

    rows = ["| deadline | warning under | alert | critical under | alert |", "| --- | --- | --- | --- | --- |"]
    rows += [f"| `{deadline}` | {days.warning} days | {alerts_on(deadline, Severity.WARNING)} | {days.critical} days | "
             f"{alerts_on(deadline, Severity.CRITICAL)} |" for deadline, days in DEADLINE_DAYS.items()]
    fleet = CALLHOME_FLEETWIDE
    rows += ["", "| mark | value | used by |", "| --- | --- | --- |",
             f"| collection late | {COLLECTION_AGE.late} collection intervals of the device | the fleet dashboard's "
             "collection table (orange) |",
             f"| collection stale | {COLLECTION_AGE.stale} collection intervals of the device | "
             "`LicCollectionFailing`, the collection table (red), `LicSourceDataStale` for collected devices |",
             f"| capture stale | {CAPTURE_STALE_DAYS} days | `LicSourceDataStale`, `stale_capture`, the capture-age "
             "table (red) |",
             f"| attempt overdue | {ATTEMPT_OVERDUE_DAYS} day(s) after it was due, at the capture | "
             "`LicAttemptOverdue`, `attempt_overdue` |",
             f"| call-home failures of a device | {CALLHOME_REPEATING.failures} of one reason in "
             f"{CALLHOME_REPEATING.hours} h | `LicCallhomeFailuresRepeating`, the failures-per-device table (red) |",
             f"| call-home failures of the fleet | {fleet.percent} % of the devices and at least {fleet.devices}, "
             f"one reason, in {fleet.hours} h | `LicCallhomeFailingFleetwide` |",
             f"| term licence ending | {TERM_END_DAYS.warning} days (warning), {TERM_END_DAYS.critical} days "
             "(critical) | `LicTermLicenceExpiring`, `LicTermLicenceExpiringCritical`, `term_license_ending`, the "
             "fleet dashboard's term-end table |",
             f"| account poll failing | {ACCOUNT_POLL_STALE_INTERVALS} poll intervals of the source without a "
             "success | `LicAccountPollFailing`, the fleet dashboard's poll table (red); `account_poll_failing` and "
             "the join's staleness against the default 6 h interval |"]
    return "\n".join(rows) + "\n"


def findings_markdown() -> str:
    """Which alert carries each diagnose finding (the vocabulary's FINDING_ALERTS), as docs/alerts.md
    shows it under LicProblem; a test keeps the two equal."""
    rows = ["| finding (`problem`) | alert |", "| --- | --- |"]
    rows += [f"| `{name}` | [{alert}](#{alert.lower()}) |" for name, alert in FINDING_ALERTS.items()]
    return "\n".join(rows) + "\n"


def _uid(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def alert_annotations(alert: Alert, runbook_base: str, dashboard_base: str, grafana: bool = False) -> dict:
    found = {"summary": alert.summary, "description": alert.description}
    if grafana:
        found = {k: v.replace("$value ", "$values.A.Value ") for k, v in found.items()}
    found["runbook"] = f"docs/alerts.md#{alert.anchor}"  # kept: tests/test_alertmanager_e2e.py reads it
    found["runbook_url"] = f"{runbook_base}#{alert.anchor}"
    if alert.dashboard == "device":
        found["dashboard_url"] = f"{dashboard_base}/d/{DEVICE_BOARD}?var-device={{{{ $labels.device }}}}"
    elif alert.dashboard == "fleet":
        found["dashboard_url"] = f"{dashboard_base}/d/{FLEET_BOARD}"
    return found


def prometheus_rules(runbook_base: str = RUNBOOK_BASE, dashboard_base: str = DASHBOARD_BASE) -> list:
    """[(group name, [(comment, rule)])]"""
    groups = [("lic_exporter.recording", RECORDING)]
    for group in GROUPS:
        rules = []
        for alert in (a for a in ALERTS if a.group == group):
            rule: dict = {"alert": alert.name, "expr": alert.prometheus_expr}
            if alert.wait:
                rule["for"] = alert.wait
            if alert.severity:
                rule["labels"] = {"severity": str(alert.severity)}
            rule["annotations"] = alert_annotations(alert, runbook_base, dashboard_base)
            rules.append((alert.comment, rule))
        groups.append((f"lic_exporter.{group}", rules))
    return groups


def grafana_alerting(runbook_base: str = RUNBOOK_BASE, dashboard_base: str = DASHBOARD_BASE) -> dict:
    """Grafana alert rule provisioning (file format, apiVersion 1), every Prometheus alert's twin:
    the same name (alertname), labels and query value. The data source UID is an environment
    variable Grafana expands when it reads the file."""
    groups = []
    for group, interval in GROUPS.items():
        rules = []
        for alert in (a for a in ALERTS if a.group == group and a.twin):
            kind, param = alert.grafana
            # Exporter health: no data or a failed query is an alert. Everything else keeps its last
            # state: a dead exporter must not resolve firing alerts (the health alerts say why), and
            # a deadline no device has (no data) must not fire.
            no_data, exec_err = ("Alerting", "Alerting") if alert.health else ("KeepLast", "KeepLast")
            rules.append({
                "uid": _uid(alert.name), "title": alert.name, "condition": "C",
                "data": [
                    {"refId": "A", "relativeTimeRange": {"from": 600, "to": 0}, "datasourceUid": DATASOURCE_UID,
                     "model": {"refId": "A", "expr": alert.grafana_query, "instant": True}},
                    {"refId": "C", "datasourceUid": "__expr__",
                     "model": {"refId": "C", "type": "threshold", "expression": "A",
                               "conditions": [{"evaluator": {"type": kind, "params": [param]}}]}},
                ],
                "noDataState": no_data, "execErrState": exec_err, "for": alert.wait or "0s",
                "labels": {"severity": str(alert.severity)} if alert.severity else {},
                "annotations": alert_annotations(alert, runbook_base, dashboard_base, grafana=True),
            })
        groups.append({"orgId": 1, "name": f"lic_exporter {group}", "folder": "Cisco Smart Licensing",
                       "interval": interval, "rules": rules})
    return {"apiVersion": 1, "groups": groups}


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def _dump(document: object) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100_000, allow_unicode=True)


def rules_text(runbook_base: str = RUNBOOK_BASE, dashboard_base: str = DASHBOARD_BASE) -> str:
    lines = ["# Generated by dashboards/build_alerting.py (python dashboards/build_dashboards.py): edit the",
             "# table there. Prometheus rules for lic_exporter: two recording rules, the deadline, state,",
             "# account and health alerts. Load with `rule_files: [lic_exporter.rules.yml]`; runbooks: docs/alerts.md,",
             '# "Alerts and runbooks".', "groups:"]
    for name, rules in prometheus_rules(runbook_base, dashboard_base):
        lines += [f"  - name: {name}", "    rules:"]
        for comment, rule in rules:
            lines += [f"      # {line}" for line in comment.splitlines()]
            lines += ["      " + line for line in _dump([rule]).splitlines()]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def options(argv: list[str] | None = None) -> dict:
    """--runbook-base-url and --dashboard-base-url, other arguments left alone."""
    parser = argparse.ArgumentParser(allow_abbrev=False, add_help=False)
    parser.add_argument("--runbook-base-url", dest="runbook_base", default=RUNBOOK_BASE,
                        help=f"runbook_url is this + '#<alert anchor>' (default {RUNBOOK_BASE})")
    parser.add_argument("--dashboard-base-url", dest="dashboard_base", default=DASHBOARD_BASE,
                        help="dashboard_url is this + '/d/<uid>...' (default: relative to Grafana)")
    found, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return {"runbook_base": found.runbook_base.rstrip("#"), "dashboard_base": found.dashboard_base.rstrip("/")}


def write(here: Path, runbook_base: str | None = None, dashboard_base: str | None = None) -> None:
    """Writes both files. A base left None comes from the command line (so that
    `build_dashboards.py --runbook-base-url URL` works), else its default."""
    given = options()
    runbook_base = given["runbook_base"] if runbook_base is None else runbook_base
    dashboard_base = given["dashboard_base"] if dashboard_base is None else dashboard_base
    rules = here / "prometheus" / "lic_exporter.rules.yml"
    rules.parent.mkdir(parents=True, exist_ok=True)
    rules.write_text(rules_text(runbook_base, dashboard_base))
    alerting = here / "grafana" / "provisioning" / "alerting" / "lic_exporter.yml"
    alerting.parent.mkdir(parents=True, exist_ok=True)
    alerting.write_text("# Generated by dashboards/build_alerting.py (python dashboards/build_dashboards.py).\n"
                        "# Set LIC_EXPORTER_PROMETHEUS_UID in Grafana's environment to your Prometheus data source's"
                        " UID.\n" + _dump(grafana_alerting(runbook_base, dashboard_base)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runbook-base-url", default=RUNBOOK_BASE)
    parser.add_argument("--dashboard-base-url", default=DASHBOARD_BASE)
    parser.parse_args()  # --help, and unknown arguments refused
    write(Path(__file__).resolve().parent)
