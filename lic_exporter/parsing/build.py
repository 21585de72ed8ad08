"""Template rows -> typed records.

TextFSM hands over strings; this module turns them into the models, checks that an output
is whole, and names the file line of any value it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from lic_exporter.model import records as m
from lic_exporter.parsing.reasons import classify
from lic_exporter.sources.privacy import safe_host, safe_url, scrub
from lic_exporter.sources.values import (
    BadValueError,
    UnknownZoneError,
    clean,
    parse_bool,
    parse_count,
    parse_duration,
    parse_timestamp,
)


class SectionError(Exception):
    """An output this tool recognised but cannot turn into a whole record. `zone`: the time
    zone no table or --tz knows, when that was the reason (reported once per file)."""

    def __init__(self, line: int, message: str, zone: str | None = None):
        super().__init__(message)
        self.line = line
        self.message = message
        self.zone = zone


@dataclass(frozen=True)
class Context:
    """What every record of one section shares."""

    device: str
    command: str
    source: str
    first_line: int  # file line of the section's first output line
    captured_at: datetime
    captured_at_from: Literal["output", "file_mtime"]
    zones: dict[str, int] | None = None
    lines: Sequence[str] = ()  # the section's lines, to find where a value stood
    closed: bool = False  # a prompt followed the output: it is whole as printed
    notes: list[tuple[int, str]] = field(default_factory=list)  # reported, but the record stands

    def note(self, line: int, message: str) -> None:
        self.notes.append((line, message))

    def ends_inside(self, line: int) -> bool:
        """Whether the output stops inside the block whose header is at file line `line`:
        no prompt came after the output and no other block or heading follows the block.
        This, not a line one release prints and another does not, tells a cut-off output."""
        if self.closed:
            return False
        following = self.lines[max(line - self.first_line + 1, 0):]
        return not any(_starts_block(text) for text in following)

    def last_text_line(self) -> int:
        """The file line of the section's last non-blank line."""
        for offset in range(len(self.lines) - 1, -1, -1):
            if self.lines[offset].strip():
                return self.first_line + offset
        return self.first_line

    def line_of(self, text: str, label: str | None = None) -> int:
        """The file line of the first section line holding `text` (after `label`, when
        given). Looked up only when something is wrong, so parsing pays nothing for it."""
        for offset, line in enumerate(self.lines):
            if text in line and (label is None or label in line.split(text, 1)[0]):
                return self.first_line + offset
        return self.first_line

    def base(self) -> dict[str, object]:
        return {
            "device": self.device, "command": self.command, "source": self.source,
            "line": self.first_line, "captured_at": self.captured_at,
            "captured_at_from": self.captured_at_from,
        }


class Fields:
    """One template row with typed accessors that know the file line of each value."""

    def __init__(self, values: dict[str, object], ctx: Context):
        self.values = values
        self.ctx = ctx

    def raw(self, name: str) -> str:
        value = self.values.get(name) or ""
        return scrub(value) if isinstance(value, str) else ""

    def has(self, name: str) -> bool:
        return bool(self.values.get(name))

    def line(self, name: str) -> int:
        label = _LABELS.get(name, "").split(" ...")[0] or None
        value = self.values.get(name)
        return self.ctx.line_of(value if value and isinstance(value, str) else name, label)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return clean(scrub(value)) if value and isinstance(value, str) else None

    def time(self, name: str) -> datetime | None:
        return self._convert(name, lambda text: parse_timestamp(text, None, self.ctx.zones))

    def duration(self, name: str) -> timedelta | None:
        return self._convert(name, parse_duration)

    def count(self, name: str) -> int | None:
        return self._convert(name, parse_count)

    def flag(self, name: str) -> bool | None:
        text = self.text(name)
        return None if text is None else parse_bool(text)

    def _convert(self, name, convert):
        value = self.values.get(name)  # read, not kept: no scrubbing (an error message is scrubbed)
        text = clean(value) if value and isinstance(value, str) else None
        if text is None:
            return None
        try:
            return convert(text)
        except UnknownZoneError as exc:
            raise SectionError(self.line(name), str(exc), exc.zone) from None
        except (BadValueError, OverflowError, ValueError) as exc:
            raise SectionError(self.line(name), f"{_label(name)}: {exc}") from None


# Template value -> the label Cisco prints, for error messages people can find in the file.
_LABELS = {
    "ACCOUNT_AS_OF": "Smart Account ... As of", "INITIAL_REG_AT": "Initial Registration",
    "RENEWAL_AT": "Last Renewal Attempt", "NEXT_RENEWAL": "Next Renewal Attempt",
    "REG_EXPIRES": "Registration Expires", "AUTH_SINCE": "Status ... on", "COMM_AT": "Last Communication Attempt",
    "NEXT_COMM": "Next Communication Attempt", "COMM_DEADLINE": "Communication Deadline",
    "EVAL_REMAINING": "Evaluation Period Remaining", "PROXY_PORT": "Port", "POLICY_INSTALLED": "Policy in use",
    "LAST_ACK": "Last ACK received", "NEXT_ACK_DEADLINE": "Next ACK deadline",
    "PUSH_INTERVAL": "Reporting push interval", "NEXT_ACK_PUSH_CHECK": "Next ACK push check",
    "NEXT_REPORT_PUSH": "Next report push", "LAST_REPORT_PUSH": "Last report push",
    "LAST_REPORT_FILE_WRITE": "Last report file write", "TRUST_CODE": "Trust Code Installed",
    "COUNT": "Count",
}


def _label(name: str) -> str:
    return _LABELS.get(name, name.lower().replace("_", " "))


# A line that starts a block: a label with nothing after it (`License Usage:`, a licence
# `(TAG):`), an underline, a table header or rule. A value label left without its value
# (`Communication Deadline:` cut after the colon) does not count.
_BLOCK_START = re.compile(r"^\s*(?:(?P<label>\S[^:]{0,80}):|=+|-{10,}|License\s+Entitlement\s+[Tt]ag.*"
                          r"|(?:Product Information|Agent Version|License Usage|Handle:\s*\d+))\s*$")
_VALUE_LABELS = frozenset(label.split(" ...")[0].lower() for label in _LABELS.values()) | {
    "status", "smart account", "virtual account", "export-controlled functionality", "failure reason",
    "description", "count", "version", "export status", "enforcement type", "license type", "type", "url",
    "address", "port", "username", "password", "vrf"}


def _starts_block(line: str) -> bool:
    match = _BLOCK_START.match(line)
    if match is None:
        return False
    label = match["label"]
    return label is None or label.strip().lower() not in _VALUE_LABELS


# --- show license ... --------------------------------------------------------------------

def license_record(ctx: Context, status: Fields | None, entitlements: tuple[m.Entitlement, ...] | None
                   ) -> m.LicenseRecord:
    if status is None:
        return m.LicenseRecord(**ctx.base(), entitlements=entitlements)
    _check_whole(status, ctx)
    return m.LicenseRecord(
        **ctx.base(),
        mode=_mode(status),
        smart_licensing_enabled=status.flag("SMART_LICENSING"),
        utility_enabled=status.flag("UTILITY_STATUS"),
        account=_account(status),
        transport=_transport(status),
        registration=_registration(status),
        authorization=_authorization(status, ctx),
        conversion=_conversion(status),
        policy=_policy(status),
        usage_reporting=_usage_reporting(status),
        trust_code=_trust_code(status),
        entitlements=entitlements,
        udi=status.text("UDI"),
        agent_version=status.text("AGENT_VERSION"),
        unknown_lines=len(status.values.get("UNKNOWN") or ()),
    )


_CUT = "(output cut off?)"


def _cut(ctx: Context, what: str) -> SectionError:
    """An output that stops early: the error names the last line there is."""
    return SectionError(ctx.last_text_line(), f"{what} {_CUT}")


def _check_whole(status: Fields, ctx: Context) -> None:
    """An output cut off mid-way must be refused, not passed off as a record with blanks.
    The rules, one function each, say what a whole output has."""
    for rule in (_registration_whole, _authorization_whole, _policy_whole, _trailer_whole):
        rule(status, ctx)


def _registration_whole(status: Fields, ctx: Context) -> None:
    if not status.has("REG_HEADER"):
        return
    header = ctx.line_of("Registration:")
    if not status.has("REG_STATUS"):
        if ctx.ends_inside(header):
            raise SectionError(header, f"'Registration:' block has no Status line {_CUT}")
        ctx.note(header, "'Registration:' block has no Status line: registration state unknown")
    if not status.has("AUTH_HEADER"):  # the contract: a classic status output without it is an error
        if ctx.ends_inside(header):
            raise _cut(ctx, f"'{ctx.command}' output ends before its 'License Authorization:' block")
        raise SectionError(header, f"'{ctx.command}' output has no 'License Authorization:' block")
    if m.registration_state(status.raw("REG_STATUS")) is m.RegistrationState.UNKNOWN:
        _unknown_state_not_last(status, "REG_STATUS", ctx)


# What a whole authorization block states in each state; its absence is a cut only where the
# output ends inside the block (IOS-XE 16.x `show license summary` prints no deadline at all).
_AUTHORIZATION_NEEDS = {
    m.AuthorizationState.AUTHORIZED: "COMM_DEADLINE", m.AuthorizationState.OUT_OF_COMPLIANCE: "COMM_DEADLINE",
    m.AuthorizationState.AUTHORIZATION_EXPIRED: "COMM_DEADLINE", m.AuthorizationState.EVALUATION: "EVAL_REMAINING"}


def _authorization_whole(status: Fields, ctx: Context) -> None:
    if not status.has("AUTH_HEADER"):
        return
    header = ctx.line_of("License Authorization:")
    if not status.has("AUTH_STATUS"):
        if ctx.ends_inside(header):
            raise _cut(ctx, "'License Authorization:' block has no Status line")
        ctx.note(header, "'License Authorization:' block has no Status line: authorization state unknown")
        return
    # Outputs with a Registration block print the whole authorization block; `show license
    # usage` prints only its Status line.
    if not status.has("REG_HEADER"):
        return
    state = m.authorization_state(status.raw("AUTH_STATUS"))
    needs = _AUTHORIZATION_NEEDS.get(state)
    if needs and not status.has(needs) and ctx.ends_inside(header):
        raise _cut(ctx, f"'License Authorization:' block ends before '{_LABELS[needs]}:'")
    if state is m.AuthorizationState.UNKNOWN:
        _unknown_state_not_last(status, "AUTH_STATUS", ctx)


def _unknown_state_not_last(status: Fields, name: str, ctx: Context) -> None:
    """A state word no table knows, on the last line there is, is most likely cut mid-word."""
    line = status.line(name)
    if line >= ctx.last_text_line() and not ctx.closed:
        raise SectionError(line, f"unknown state {status.raw(name)!r} on the last line {_CUT}")


def _policy_whole(status: Fields, ctx: Context) -> None:
    if (status.flag("SLP_STATUS") and not status.has("USAGE_HEADER") and ctx.command in _WITH_USAGE_REPORTING
            and not ctx.closed):
        raise _cut(ctx, f"'{ctx.command}' output ends before its 'Usage Reporting:' block")
    if status.has("USAGE_HEADER"):
        header = ctx.line_of("Usage Reporting:")
        for name in ("NEXT_ACK_DEADLINE", "LAST_REPORT_PUSH"):
            if not status.has(name) and ctx.ends_inside(header):
                raise _cut(ctx, f"'Usage Reporting:' block has no '{_LABELS[name]}:' line")


_WITH_USAGE_REPORTING = ("show license status", "show license all", "show license tech support")
_LICENCE_HEADER = re.compile(r"^\s*(?:\S.*)?\([^()]*\):\s*$|^\s*Handle:\s*\d+\s*$|^\s*License Usage:?\s*$")


def _trailer_whole(status: Fields, ctx: Context) -> None:
    """`show license all` lists its licences, then Product Information and Agent Version: a
    list that is the last thing in an output with no prompt after it may be short."""
    if ctx.command not in FULL_LISTINGS or status.has("UDI") or status.has("AGENT_VERSION"):
        return
    last = max((ctx.first_line + n for n, line in enumerate(ctx.lines) if _LICENCE_HEADER.match(line)), default=None)
    cut = not ctx.closed if last is None else ctx.ends_inside(last)
    if cut:
        raise _cut(ctx, f"'{ctx.command}' output ends before its 'Product Information' block")


FULL_LISTINGS = ("show license all", "show license tech support")


def _mode(status: Fields) -> m.Mode | None:
    # Classic Smart Licensing names its accounts inside `Registration:`; only Smart Licensing
    # Using Policy prints an `Account Information:` block (also in `show license summary`).
    if status.flag("SLP_STATUS") or status.has("USAGE_HEADER") or status.has("ACCOUNT_HEADER"):
        return m.Mode.POLICY
    if status.has("REG_HEADER"):
        return m.Mode.SMART
    if m.authorization_state(status.raw("AUTH_STATUS")) is m.AuthorizationState.NOT_APPLICABLE:
        return m.Mode.POLICY
    return None


def _account(status: Fields) -> m.Account | None:
    account = m.Account(
        smart_account=status.text("SMART_ACCOUNT"),
        virtual_account=status.text("VIRTUAL_ACCOUNT"),
        as_of=status.time("ACCOUNT_AS_OF"),
    )
    return account if account != m.Account() else None


def _transport(status: Fields) -> m.Transport | None:
    if not status.has("TRANSPORT_TYPE"):
        return None
    return m.Transport(
        type=status.text("TRANSPORT_TYPE"),
        url=_maybe(safe_url, status.text("TRANSPORT_URL")),
        cslu_address=_maybe(safe_url, status.text("CSLU_ADDRESS")),
        proxy_address=_maybe(safe_host, status.text("PROXY_ADDRESS")),
        proxy_port=status.count("PROXY_PORT"),
        vrf=status.text("TRANSPORT_VRF"),
    )


def _maybe(convert, text: str | None) -> str | None:
    return convert(text) if text else None


def _attempt(status: Fields, result: str, at: str, failure: str) -> m.Attempt | None:
    text = status.text(result)
    if text is None:  # "None": no attempt yet
        return None
    reason = status.text(failure)  # free text, scrubbed: may quote a proxy URL with credentials
    return m.Attempt(result=m.attempt_result(text), result_text=text, at=status.time(at),
                     failure_reason=reason, failure_class=classify(reason) if reason else None)


def _registration(status: Fields) -> m.Registration | None:
    if not status.has("REG_HEADER"):
        return None
    text = status.raw("REG_STATUS")
    return m.Registration(
        state=m.registration_state(text),
        state_text=text,
        export_controlled=status.flag("EXPORT_CONTROLLED"),
        initial=_attempt(status, "INITIAL_REG_RESULT", "INITIAL_REG_AT", "INITIAL_REG_FAILURE"),
        last_renewal=_attempt(status, "RENEWAL_RESULT", "RENEWAL_AT", "RENEWAL_FAILURE"),
        next_renewal=status.time("NEXT_RENEWAL"),
        expires=status.time("REG_EXPIRES"),
    )


def _authorization(status: Fields, ctx: Context) -> m.Authorization | None:
    if not status.has("AUTH_STATUS"):
        return None
    text = status.raw("AUTH_STATUS")
    remaining = status.duration("EVAL_REMAINING")
    try:
        expires = ctx.captured_at + remaining if remaining is not None else None
    except OverflowError:
        raise SectionError(status.line("EVAL_REMAINING"), "Evaluation Period Remaining: out of range") from None
    return m.Authorization(
        state=m.authorization_state(text),
        state_text=text,
        since=status.time("AUTH_SINCE"),
        last_communication=_attempt(status, "COMM_RESULT", "COMM_AT", "COMM_FAILURE"),
        next_communication=status.time("NEXT_COMM"),
        communication_deadline=status.time("COMM_DEADLINE"),
        evaluation_remaining=remaining,
        evaluation_expires=expires,
    )


def _conversion(status: Fields) -> m.Conversion | None:
    if not (status.has("CONVERSION_AUTOMATIC") or status.has("CONVERSION_STATUS")):
        return None
    return m.Conversion(automatic=status.flag("CONVERSION_AUTOMATIC"), status=status.text("CONVERSION_STATUS"))


def _policy(status: Fields) -> m.Policy | None:
    names = ("POLICY_IN_USE", "POLICY_INSTALLED", "POLICY_NAME", "ACK_REQUIRED")
    if not any(status.has(name) for name in names):
        return None
    installed = status.time("POLICY_INSTALLED")
    return m.Policy(
        in_use=f"Installed On {status.raw('POLICY_INSTALLED')}" if installed else status.text("POLICY_IN_USE"),
        installed_at=installed,
        name=status.text("POLICY_NAME"),
        ack_required=status.flag("ACK_REQUIRED"),
    )


def _usage_reporting(status: Fields) -> m.UsageReporting | None:
    if not status.has("USAGE_HEADER"):
        return None
    return m.UsageReporting(
        last_ack_received=status.time("LAST_ACK"),
        next_ack_deadline=status.time("NEXT_ACK_DEADLINE"),
        push_interval=status.duration("PUSH_INTERVAL"),
        next_ack_push_check=status.time("NEXT_ACK_PUSH_CHECK"),
        next_report_push=status.time("NEXT_REPORT_PUSH"),
        last_report_push=status.time("LAST_REPORT_PUSH"),
        last_report_file_write=status.time("LAST_REPORT_FILE_WRITE"),
    )


def _trust_code(status: Fields) -> m.TrustCode | None:
    members = status.values.get("TRUST_CODE_AT") or []
    if members:
        try:
            times = [parse_timestamp(text, None, status.ctx.zones) for text in members]
        except BadValueError as exc:
            zone = exc.zone if isinstance(exc, UnknownZoneError) else None
            raise SectionError(status.ctx.line_of("INSTALLED on"), f"Trust Code Installed: {exc}", zone) from None
        return m.TrustCode(installed=True, installed_at=min(times))
    if not status.has("TRUST_CODE"):
        return None
    when = status.time("TRUST_CODE")
    return m.TrustCode(installed=when is not None, installed_at=when)


def block_entitlement(row: Fields) -> m.Entitlement:
    tag = row.raw("TAG").strip()
    return _entitlement(row, tag, _entitlement_status(row, f"({tag}):", f"licence block '({tag}):'"))


def handle_entitlement(row: Fields) -> m.Entitlement:
    """A `Handle: N` block of `show license tech support`. Its tag is the Description, the
    name `show license usage` and `summary` print in parentheses for the same licence, so a
    device's series keep their identity whichever command was captured; the `regid...`
    Entitlement Tag is kept beside it."""
    handle = f"Handle: {row.raw('HANDLE')}"
    state_text = _entitlement_status(row, handle, f"licence block '{handle}'")
    tag = row.text("DESCRIPTION") or row.text("NAME") or row.text("REGID") or handle
    return _entitlement(row, tag, state_text, regid=row.text("REGID"))


def _entitlement(row: Fields, tag: str, state_text: str, **extra: object) -> m.Entitlement:
    return m.Entitlement(
        tag=tag,
        name=row.text("NAME"),
        description=row.text("DESCRIPTION"),
        count=row.count("COUNT"),
        version=row.text("VERSION"),
        state=m.entitlement_state(state_text),
        state_text=state_text,
        enforcement=row.text("ENFORCEMENT"),
        license_type=row.text("LICENSE_TYPE"),
        export_status=row.text("EXPORT_STATUS"),
        **extra,
    )


def _entitlement_status(row: Fields, header: str, what: str) -> str:
    """A licence block's Status; missing, it is a cut only where the output ends inside the
    block, else the licence stays with state unknown."""
    if row.has("STATUS"):
        return row.text("STATUS") or ""
    line = row.ctx.line_of(header)
    if row.ctx.ends_inside(line):
        raise SectionError(line, f"{what} has no Status line {_CUT}")
    row.ctx.note(line, f"{what} has no Status line: its state is unknown")
    return ""


def legacy_entitlement(row: Fields) -> m.Entitlement:
    state_text = row.raw("STATUS")
    comments = row.text("COMMENTS") or ""
    grace = comments[len("Grace"):] if comments.lower().startswith("grace") else None
    try:
        grace_remaining = parse_duration(grace) if grace else None
    except BadValueError as exc:
        raise SectionError(row.line("COMMENTS"), f"Comments: {exc}") from None
    return m.Entitlement(
        tag=row.raw("FEATURE"),
        count=row.count("COUNT"),
        state=m.entitlement_state(state_text),
        state_text=state_text,
        installed=row.flag("INSTALLED"),
        grace_remaining=grace_remaining,
    )


# --- call-home -----------------------------------------------------------------------------

def callhome_config_record(ctx: Context, row: Fields) -> m.CallhomeRecord:
    """An output with no `callhome` line (only `!Command`, `!Time`, `version`) is a switch
    where call-home was never configured: disabled."""
    configured = row.has("CALLHOME")
    return m.CallhomeRecord(
        **ctx.base(),
        enabled=row.has("ENABLE") if configured else False,
        email_contact_set=row.has("EMAIL"),
        phone_contact_set=row.has("PHONE"),
        street_address_set=row.has("ADDRESS"),
        destination_profiles=_profiles(row),
        http_vrf=row.text("HTTP_VRF"),
        http_proxy_configured=row.has("PROXY_SERVER"),
        http_proxy_enabled=row.has("PROXY_ENABLE"),
        http_source_interface=row.text("SOURCE_INTERFACE"),
        unknown_lines=len(row.values.get("UNKNOWN") or ()),
    )


def _profiles(row: Fields) -> tuple[m.DestinationProfile, ...]:
    methods: dict[str, str | None] = {}
    urls: dict[str, list[tuple[int, str]]] = {}
    for item in row.values.get("PROFILE_METHOD") or []:
        methods[item["profile"]] = item["method"]
    for item in row.values.get("PROFILE_URL") or []:
        methods.setdefault(item["profile"], None)
        urls.setdefault(item["profile"], []).append((int(item["index"]), safe_url(scrub(item["url"]))))
    return tuple(
        m.DestinationProfile(name=name, transport_method=method,
                             urls=tuple(url for _, url in sorted(urls.get(name, []))))
        for name, method in methods.items()
    )


def show_callhome_record(ctx: Context, row: Fields) -> m.CallhomeRecord:
    state = row.text("STATE")
    return m.CallhomeRecord(
        **ctx.base(),
        enabled=None if state is None else state == "enabled",
        email_contact_set=row.has("EMAIL"),
        phone_contact_set=row.has("PHONE"),
        street_address_set=row.has("ADDRESS"),
        unknown_lines=len(row.values.get("UNKNOWN") or ()),
    )
