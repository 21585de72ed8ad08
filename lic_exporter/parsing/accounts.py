"""Account snapshots (`*.accounts.json`, one saved poll of an account source) -> one AccountRecord,
or every problem of the file, each naming the file and the key path where it lies.

A snapshot is told by its name alone, and its content must then be one: damaged JSON, another
`format`, an unknown source `type` or answer, a missing key or a value of the wrong kind is an
error of that file (never skipped, never half-read), `PATH: answers[3].body.licenses[7].available:
not a number` (JSON errors at their line, `PATH:LINE: ...`). A problem names where it is, never the
value it found there: an answer may hold what was not meant to be written.

What the answers give, read as the contract lists them: the licences of every `licenses` answer
(CSSM: every page of every virtual account; SSM On-Prem: one answer whose rows may name no virtual
account, then ""), the virtual accounts of the `virtual_accounts` answer and of every licences
answer (so one polled with no licence is still listed), an on-prem account's `alerts`. Dates are
read as Cisco prints them: a day (`2027-01-31`, taken as its start in UTC) or an ISO 8601 time
(with `Z` or an offset; one without is taken as UTC). A licence listed twice in one virtual account
(a page boundary that moved while paging) keeps its first row: adding the two up would count the
same licences twice.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lic_exporter.model.accounts import (
    SNAPSHOT_FORMAT,
    SNAPSHOT_SUFFIX,
    AccountAlert,
    AccountLicense,
    AccountRecord,
    LicenseDetail,
)
from lic_exporter.model.states import account_license_state
from lic_exporter.parsing.results import FileResult, ParseIssue, read_issue
from lic_exporter.sources.documents import MAX_DOCUMENT_BYTES
from lic_exporter.sources.printable import printable

FORMAT, SUFFIX = SNAPSHOT_FORMAT, SNAPSHOT_SUFFIX
TYPES = ("cssm", "onprem")
REQUESTS = {"cssm": ("virtual_accounts", "licenses"), "onprem": ("licenses", "alerts")}
TERM_TYPES = ("TERM", "DEMO")  # the details whose end is the licence's term end
MAX_ISSUES = 50  # of one file: a file of junk is one error, not thousands of lines
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def is_snapshot(path: Path) -> bool:
    """Whether the file's name says it is an account snapshot (`<source>.accounts.json`)."""
    return path.name.endswith(SUFFIX) and len(path.name) > len(SUFFIX)


def read_snapshot(path: Path) -> FileResult:
    """The snapshot in `path`: its record, or its problems."""
    source = str(path)
    try:
        with open(path, "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                return _failed(source, None, "not a regular file")
            data = file.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        return FileResult(source, issues=(read_issue(source, exc),))
    if len(data) > MAX_DOCUMENT_BYTES:
        return _failed(source, None, f"larger than {MAX_DOCUMENT_BYTES >> 20} MB: not an account snapshot")
    return parse_snapshot(data, source)


def parse_snapshot(data: bytes, source: str) -> FileResult:
    """The snapshot `data` read from the file `source`: its record, or every problem (at most
    MAX_ISSUES, then how many more)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _failed(source, data.count(b"\n", 0, exc.start) + 1, "not UTF-8 text")
    if not text.strip():
        return _failed(source, None, "empty file: no account snapshot saved")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:  # its words name what was expected, never what was found
        return _failed(source, exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return _failed(source, None, "not valid JSON: nested too deeply")
    reader = _Reader(source)
    record = reader.record(document)
    if reader.problems or record is None:
        issues = [ParseIssue(source, None, problem) for problem in reader.problems[:MAX_ISSUES]]
        if len(reader.problems) > MAX_ISSUES:
            issues.append(ParseIssue(source, None, f"{len(reader.problems) - MAX_ISSUES} more problems"))
        return FileResult(source, issues=tuple(issues))
    return FileResult(source, accounts=(record,))


def snapshot_problem(data: bytes, source: str) -> str | None:
    """The first problem the parser has with snapshot `data` (as the file `source`), or None: the
    account poller's check before a new snapshot replaces the last good one."""
    issues = [issue for issue in parse_snapshot(data, source).issues if issue.fatal]
    return str(issues[0]).removeprefix(f"{source}:").strip() if issues else None


def newest_accounts(records: Iterable[AccountRecord]) -> list[AccountRecord]:
    """One record per account source: where several snapshots hold one source (a copy kept
    beside the current one), the one polled last (on a tie, the later path), so no series is
    ever given twice. Ordered by source."""
    newest: dict[str, AccountRecord] = {}
    for record in records:
        kept = newest.get(record.account_source)
        if kept is None or (record.polled_at, record.source) > (kept.polled_at, kept.source):
            newest[record.account_source] = record
    return [newest[name] for name in sorted(newest)]


def _failed(source: str, line: int | None, message: str) -> FileResult:
    return FileResult(source, issues=(ParseIssue(source, line, message),))


class _Values:
    """Reading one value of a decoded snapshot as what it should be, noting a problem where it
    is not (by its key path, never quoting it)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.problem(where, "missing" if value is None else "not an object")
        return None

    def items(self, value: Any, where: str, required: bool = True) -> list[Any]:
        if isinstance(value, list):
            return value
        if value is not None or required:
            self.problem(where, "missing" if value is None else "not a list")
        return []

    def text(self, value: Any, where: str, required: bool = False) -> str | None:
        """A string, as a name fit for a label (one line, at most 200 characters)."""
        if isinstance(value, str) and (value or not required):
            return printable(value)
        if value is not None or required:
            self.problem(where, "missing" if value is None else "empty" if value == "" else "not a string")
        return None

    def count(self, value: Any, where: str) -> int | None:
        """A whole number (missing or null: not stated)."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        self.problem(where, "not a whole number" if isinstance(value, float) else "not a number")
        return None

    def moment(self, value: Any, where: str, required: bool = False) -> datetime | None:
        """A day or a time as Cisco prints it, as an aware UTC datetime."""
        if value is None or value == "":
            if required:
                self.problem(where, "missing")
            return None
        if not isinstance(value, str) or not _DATE.fullmatch(value.strip()):
            self.problem(where, "not a date (expected YYYY-MM-DD or an ISO 8601 time)")
            return None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            self.problem(where, "not a date (no such day or time)")
            return None
        return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).astimezone(UTC)


class _Reader(_Values):
    """Reads one decoded snapshot into its record, noting every problem with its key path."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def record(self, document: Any) -> AccountRecord | None:
        top = self.mapping(document, "(top level)")
        if top is None:
            return None
        if "format" not in top:
            self.problem("format", f"missing: not an account snapshot ({FORMAT})")
            return None
        if top["format"] != FORMAT:  # another version's, or not ours: nothing else in it can be trusted
            self.problem("format", f"not {FORMAT}: written by another version, or not an account snapshot")
            return None
        account_source = self.text(top.get("source"), "source", required=True)
        kind = top.get("type")
        if kind not in TYPES:
            self.problem("type", "missing (cssm or onprem)" if kind is None else "unknown: expected cssm or onprem")
        smart_account = self.text(top.get("smart_account"), "smart_account", required=True)
        polled_at = self.moment(top.get("polled_at"), "polled_at", required=True)
        answers = self.items(top.get("answers"), "answers")
        if kind not in TYPES:
            return None
        found = _Answers(kind)
        for number, answer in enumerate(answers):
            self.answer(found, answer, f"answers[{number}]")
        # CSSM: the virtual accounts are asked for unless configured, and an account may have
        # none to ask licences of; SSM On-Prem: both answers always.
        needed = REQUESTS[kind] if kind == "onprem" else () if found.seen else ("licenses",)
        for request in needed:
            if request not in found.seen:
                self.problem("answers", f"no {request} answer")
        if self.problems or account_source is None or smart_account is None or polled_at is None:
            return None
        try:
            return AccountRecord(source=self.source, account_source=account_source, type=kind,
                                 smart_account=smart_account, polled_at=polled_at,
                                 virtual_accounts=tuple(found.virtual_accounts),
                                 licenses=tuple(found.licenses.values()),
                                 alerts=tuple(found.alerts) if kind == "onprem" else None)
        except ValidationError as exc:  # a bug: what was read should always make a record
            self.problem("(top level)", f"cannot make a record of it ({exc.error_count()} problem(s))")
            return None

    def answer(self, found: _Answers, value: Any, where: str) -> None:
        answer = self.mapping(value, where)
        if answer is None:
            return
        request = answer.get("request")
        if request not in REQUESTS[found.kind]:
            self.problem(f"{where}.request", "missing" if request is None else
                         f"unknown for a {found.kind} source (expected {' or '.join(REQUESTS[found.kind])})")
            return
        found.seen.add(request)
        body = self.mapping(answer.get("body"), f"{where}.body")
        if body is None:
            return
        if request == "virtual_accounts":
            for number, entry in enumerate(self.items(body.get("virtualAccounts"), f"{where}.body.virtualAccounts")):
                at = f"{where}.body.virtualAccounts[{number}]"
                if (va := self.mapping(entry, at)) is not None and \
                        (name := self.text(va.get("name"), f"{at}.name", required=True)) is not None:
                    found.virtual_account(name)
        elif request == "licenses":
            self.licenses(found, answer, body, where)
        else:
            for number, entry in enumerate(self.items(body.get("alerts"), f"{where}.body.alerts")):
                self.alert(found, entry, f"{where}.body.alerts[{number}]")

    def licenses(self, found: _Answers, answer: Mapping[str, Any], body: Mapping[str, Any], where: str) -> None:
        polled = None
        if found.kind == "cssm":
            polled = self.text(answer.get("virtual_account"), f"{where}.virtual_account", required=True)
            self.count(answer.get("offset"), f"{where}.offset")
            if polled is not None:
                found.virtual_account(polled)
        self.count(body.get("totalRecords"), f"{where}.body.totalRecords")
        for number, entry in enumerate(self.items(body.get("licenses"), f"{where}.body.licenses")):
            licence = self.license(entry, f"{where}.body.licenses[{number}]", polled or "")
            if licence is not None:
                found.virtual_account(licence.virtual_account)
                found.licenses.setdefault((licence.virtual_account, licence.license), licence)

    def license(self, value: Any, where: str, polled: str) -> AccountLicense | None:
        row = self.mapping(value, where)
        if row is None:
            return None
        before = len(self.problems)
        name = self.text(row.get("license"), f"{where}.license", required=True)
        virtual_account = self.text(row.get("virtualAccount"), f"{where}.virtualAccount")
        numbers = {key: self.count(row.get(field), f"{where}.{field}") for key, field in (
            ("quantity", "quantity"), ("in_use", "inUse"), ("available", "available"),
            ("pending_quantity", "pendingQuantity"), ("reserved", "reserved"))}
        status = self.text(row.get("status"), f"{where}.status")
        billing = self.text(row.get("billingType"), f"{where}.billingType")
        details = [detail for number, entry in enumerate(self.items(row.get("licenseDetails"),
                                                                     f"{where}.licenseDetails", required=False))
                   if (detail := self.detail(entry, f"{where}.licenseDetails[{number}]")) is not None]
        if len(self.problems) > before or name is None:
            return None
        ends = [detail.end for detail in details
                if detail.end is not None and detail.license_type.upper() in TERM_TYPES]
        return AccountLicense(virtual_account=virtual_account if virtual_account is not None else polled, license=name,
                              state=account_license_state(status), state_text=status, billing_type=billing,
                              details=tuple(details), term_end=min(ends, default=None), **numbers)

    def detail(self, value: Any, where: str) -> LicenseDetail | None:
        entry = self.mapping(value, where)
        if entry is None:
            return None
        before = len(self.problems)
        kind = self.text(entry.get("licenseType"), f"{where}.licenseType", required=True)
        quantity = self.count(entry.get("quantity"), f"{where}.quantity")
        start = self.moment(entry.get("startDate"), f"{where}.startDate")
        end = self.moment(entry.get("endDate"), f"{where}.endDate")
        subscription = self.text(entry.get("subscriptionId"), f"{where}.subscriptionId")
        status = self.text(entry.get("status"), f"{where}.status")
        if len(self.problems) > before or kind is None:
            return None
        return LicenseDetail(license_type=kind, quantity=quantity, start=start, end=end, subscription_id=subscription,
                             status=status)

    def alert(self, found: _Answers, value: Any, where: str) -> None:
        entry = self.mapping(value, where)
        if entry is None:
            return
        severity = self.text(entry.get("severity"), f"{where}.severity", required=True)
        message_type = self.text(entry.get("messageType"), f"{where}.messageType")
        alert_source = self.text(entry.get("source"), f"{where}.source")
        if severity is not None:
            found.alerts.append(AccountAlert(severity=severity.lower(), message_type=message_type,
                                             alert_source=alert_source))


class _Answers:
    """What the answers of one snapshot said, as they are read."""

    def __init__(self, kind: str):
        self.kind = kind
        self.seen: set[str] = set()
        self.virtual_accounts: dict[str, None] = {}  # in the order they were met
        self.licenses: dict[tuple[str, str], AccountLicense] = {}
        self.alerts: list[AccountAlert] = []

    def virtual_account(self, name: str) -> None:
        self.virtual_accounts.setdefault(name, None)
