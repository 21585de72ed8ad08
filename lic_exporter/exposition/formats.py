"""Records and findings -> what the command line prints: `parse` as JSON, a table for people
or metrics text, `diagnose` as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from lic_exporter.model.states import AttemptResult, AuthorizationState, RegistrationState
from lic_exporter.model.vocabulary import TERM_END_DAYS, Severity
from lic_exporter.parsing.results import ParseIssue
from lic_exporter.parsing.syslog_tally import DeviceSyslog, Tally

if TYPE_CHECKING:  # `parse --format json` needs only the JsonWriter: the analysis loads for tables
    from lic_exporter.analysis.diagnose import Finding
    from lic_exporter.analysis.views import DeviceView
    from lic_exporter.model.accounts import AccountRecord
    from lic_exporter.model.records import Record, RecordBase

_BAD_STATES = {
    RegistrationState.REGISTRATION_FAILED, RegistrationState.REGISTRATION_EXPIRED,
    AuthorizationState.OUT_OF_COMPLIANCE, AuthorizationState.AUTHORIZATION_EXPIRED,
    AuthorizationState.EVALUATION_EXPIRED,
}
_WARN_STATES = {RegistrationState.UNREGISTERED, RegistrationState.REGISTERING, AuthorizationState.EVALUATION}
_RED, _YELLOW, _RESET = "\033[31m", "\033[33m", "\033[0m"
# A cell's level: 2 red, 1 yellow, 0 plain. A deadline's level is its urgency under the
# vocabulary's DEADLINE_DAYS (analysis/deadlines.py), never a number of the table's own.
_LEVELS = {Severity.CRITICAL: 2, Severity.WARNING: 1, None: 0}
_TINTS = {2: _RED, 1: _YELLOW}


class JsonWriter:
    """One JSON object {"records": [...], "errors": [...]}, a record a line, written as the
    records come (already serialised by pydantic's compiled serializer, or serialised here)."""

    def __init__(self, out: TextIO):
        self.out = out
        self.count = 0
        out.write('{"records": [')

    def records_json(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.out.write((",\n  " if self.count else "\n  ") + text)
            self.count += 1

    def record(self, record: RecordBase) -> None:
        self.records_json((record.model_dump_json(),))

    def close(self, issues: Sequence[ParseIssue]) -> None:
        errors = json.dumps([issue.as_json() for issue in issues])
        self.out.write(f'\n], "errors": {errors}}}\n' if self.count else f'], "errors": {errors}}}\n')


def as_prometheus(records: Sequence[Record], issues: Sequence[ParseIssue], files_ok: int, now: datetime,
                  tally: Tally, accounts: Sequence[AccountRecord] = ()) -> str:
    from lic_exporter.analysis.diagnose import diagnose, fleet_facts
    from lic_exporter.analysis.views import device_views
    from lic_exporter.exposition.metrics import (  # prometheus_client (its float text) only for this format
        ExporterStats,
        devices_text,
        exposition,
    )

    files_error = len({issue.path for issue in issues if issue.fatal})
    stats = ExporterStats(files_ok=files_ok, files_error=files_error, parse_errors=len(issues),
                          syslog_lines=tally.lines, syslog_unparsed=tally.unparsed,
                          syslog_undecodable=tally.undecodable, syslog_nul=tally.nul,
                          syslog_device_limited=tally.device_limited)
    findings = diagnose(fleet_facts(device_views(records), tally), now)
    # No day counts (they would freeze when the file is written) and no process_* families
    # (node_exporter has its own): the textfile says what the outputs say.
    return exposition(devices_text(records), tally, stats, now, findings, deadline_days=False,
                      accounts=accounts).decode()


_COLUMNS = ("DEVICE", "MODE", "REGISTRATION", "AUTHORIZATION", "NEAREST DEADLINE", "DAYS LEFT", "LAST COMMUNICATION",
            "SYSLOG FAILURES")


def as_table(records: Sequence[Record], now: datetime, color: bool, tally: Tally | None = None,
             accounts: Sequence[AccountRecord] = ()) -> str:
    """The devices, one a row; then, when account snapshots were read, their licences."""
    devices = _device_table(records, now, color, tally)
    if not accounts:
        return devices or "no licensing records found\n"
    return (devices + "\n" if devices else "") + _account_table(accounts, now, color)


def _device_table(records: Sequence[Record], now: datetime, color: bool, tally: Tally | None) -> str:
    from lic_exporter.analysis.views import DeviceView, device_views

    tally = tally or Tally()
    views = {view.device: view for view in device_views(records)}
    per_device = tally.per_device()
    for device in {device for device, entry in per_device.items() if entry.failures} - set(views):
        views[device] = DeviceView(device)
    rows = [[*_row(views[device], now), _failures(per_device.get(device), tally.last_failure.get(device))]
            for device in sorted(views)]
    return _layout(_COLUMNS, rows, color) if rows else ""


def _layout(columns: Sequence[str], rows: Sequence[Sequence[tuple[str, int]]], color: bool) -> str:
    widths = [max(len(c), *(len(r[i][0]) for r in rows)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for row in rows:
        cells = [_paint(text.ljust(w), level, color) for (text, level), w in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


_ACCOUNT_COLUMNS = ("SOURCE", "SMART ACCOUNT", "VIRTUAL ACCOUNT", "LICENSE", "QUANTITY", "IN USE", "AVAILABLE",
                    "STATUS", "TERM END")


def _account_table(accounts: Sequence[AccountRecord], now: datetime, color: bool) -> str:
    """One row per licence of each virtual account (a virtual account without any: one row
    saying so); a shortage and an out-of-compliance status red, a term end coloured as the
    term-end alerts judge it (TERM_END_DAYS)."""
    from lic_exporter.model.states import AccountLicenseState

    rows: list[list[tuple[str, int]]] = []
    for record in accounts:
        head = [(record.account_source, 0), (record.smart_account, 0)]
        held = {licence.virtual_account for licence in record.licenses}
        for licence in sorted(record.licenses, key=lambda item: (item.virtual_account, item.license)):
            short = 2 if licence.available is not None and licence.available < 0 else 0
            state = 2 if licence.state is AccountLicenseState.OUT_OF_COMPLIANCE else \
                1 if licence.state is AccountLicenseState.UNKNOWN else 0
            rows.append([*head, (licence.virtual_account or "-", 0), (licence.license, 0),
                         (_number(licence.quantity), 0), (_number(licence.in_use), short),
                         (_number(licence.available), short), (licence.state_text or licence.state.value, state),
                         _term_end(licence.term_end, now)])
        rows.extend([*head, (name or "-", 0), ("(no licences)", 0), *[("-", 0)] * 5]
                    for name in sorted(set(record.virtual_accounts) - held))
    return _layout(_ACCOUNT_COLUMNS, rows, color) if rows else "no licences in the account snapshots\n"


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _term_end(when: datetime | None, now: datetime) -> tuple[str, int]:
    from lic_exporter.analysis.deadlines import days_until

    if when is None:
        return "-", 0
    left = days_until(when, now)
    return f"{when:%Y-%m-%d} ({left:.0f} d)", _LEVELS[TERM_END_DAYS.severity(left)]


def _paint(text: str, level: int, color: bool) -> str:
    tint = _TINTS.get(level) if color else None
    return f"{tint}{text}{_RESET}" if tint else text


def _state_cell(state: RegistrationState | AuthorizationState | None) -> tuple[str, int]:
    if state is None:
        return "-", 0
    return state.value, 2 if state in _BAD_STATES else 1 if state in _WARN_STATES else 0


def _row(view: DeviceView, now: datetime) -> list[tuple[str, int]]:
    from lic_exporter.analysis.deadlines import days_until, urgency

    mode = view.info.mode.value if view.info and view.info.mode else "-"
    registration = _state_cell(view.registration.state if view.registration else None)
    authorization = _state_cell(view.authorization.state if view.authorization else None)
    nearest = view.nearest_deadline()
    if nearest is None:
        deadline, days = ("-", 0), ("-", 0)
    else:
        name, when = nearest
        left = days_until(when, now)
        level = _LEVELS[urgency(name, left)]  # the alert rules' thresholds for this deadline
        deadline, days = (f"{name} {when:%Y-%m-%d}", level), (f"{left:.1f}", level)
    return [(view.device, 0), (mode, 0), registration, authorization, deadline, days, _last_comm(view)]


def _failures(syslog: DeviceSyslog | None, last: datetime | None) -> tuple[str, int]:
    """`12 (dns 10, http_send 2) last 2026-11-18`: call-home failures as the Tally counts them,
    the numbers of cisco_smartlic_callhome_failures_total and of diagnose."""
    by_reason = syslog.failures if syslog else {}
    if not by_reason:
        return "-", 0
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(by_reason.items(), key=lambda item: -item[1]))
    return f"{sum(by_reason.values())} ({reasons})" + (f" last {last:%Y-%m-%d}" if last else ""), 2


def _last_comm(view: DeviceView) -> tuple[str, int]:
    auth = view.authorization
    attempt = auth.last_communication if auth else None
    if attempt is not None:
        when = f" {attempt.at:%Y-%m-%d}" if attempt.at else ""
        reason = f" ({attempt.failure_reason})" if attempt.failure_reason else ""
        return f"{attempt.result.value}{when}{reason}", 2 if attempt.result is AttemptResult.FAILED else 0
    usage = view.usage_reporting
    if usage is not None:
        if usage.last_ack_received is None:
            return "no ACK received", 1
        return f"ACK {usage.last_ack_received:%Y-%m-%d}", 0
    return "-", 0


_MARK = {Severity.CRITICAL: ("!!", _RED), Severity.WARNING: ("! ", _YELLOW), Severity.INFO: ("i ", "")}


def as_diagnosis(findings: Sequence[Finding], color: bool) -> str:
    """Findings grouped per device, worst first: what, why, and the fix to type."""
    if not findings:
        return "no findings: every device looks healthy\n"
    lines: list[str] = []
    group = None
    for finding in findings:
        # A finding of an account names no device: its account heads it instead.
        name = finding.device or f"account {getattr(finding, 'account', None) or '-'}"
        if name != group:
            group = name
            lines.append(("" if not lines else "\n") + name)
        mark, tint = _MARK[finding.severity]
        head = f"  {mark} {finding.severity:<8} {finding.problem}: {finding.what}"
        lines.append(f"{tint}{head}{_RESET}" if color and tint else head)
        lines.append(f"       why: {finding.why}")
        lines.extend(["       fix:", *(f"         {line}" for line in finding.fix.splitlines())])
    return "\n".join(lines) + "\n"


def findings_json(findings: Sequence[Finding], issues: Sequence[ParseIssue]) -> str:
    document = {
        "findings": [{**asdict(f), "deadline": f.deadline.isoformat() if f.deadline else None} for f in findings],
        "errors": [issue.as_json() for issue in issues],
    }
    return json.dumps(document, indent=2)
