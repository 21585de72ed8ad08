"""The status rows of a `show license ...` output -> its LicenseRecord.

Each block Cisco prints (Registration, License Authorization, Transport, Usage Reporting,
...) becomes the fields of its model, once the output is known to be whole. The blocks are
built as plain values (already typed: states, times, durations, counts) and the record is
validated once, nested blocks and all, rather than model by model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lic_exporter.model import records as m
from lic_exporter.model import states as s
from lic_exporter.parsing.completeness import check_whole
from lic_exporter.parsing.fields import Context, Fields, SectionError
from lic_exporter.parsing.reasons import classify
from lic_exporter.sources.privacy import safe_host, safe_url
from lic_exporter.sources.values import BadValueError, UnknownZoneError, parse_timestamp

Block = dict[str, Any]  # one nested model's fields, validated with the record


def license_record(ctx: Context, status: Fields | None, entitlements: tuple[m.Entitlement, ...] | None
                   ) -> m.LicenseRecord:
    if status is None:
        return m.LicenseRecord.model_validate({**ctx.base(), "entitlements": entitlements})
    check_whole(status, ctx)
    return m.LicenseRecord.model_validate({
        **ctx.base(),
        "mode": _mode(status),
        "smart_licensing_enabled": status.flag("SMART_LICENSING"),
        "utility_enabled": status.flag("UTILITY_STATUS"),
        "account": _account(status),
        "transport": _transport(status),
        "registration": _registration(status),
        "authorization": _authorization(status, ctx),
        "conversion": _conversion(status),
        "policy": _policy(status),
        "usage_reporting": _usage_reporting(status),
        "trust_code": _trust_code(status),
        "entitlements": entitlements,
        "udi": status.text("UDI"),
        "agent_version": status.text("AGENT_VERSION"),
        "unknown_lines": len(status.values.get("UNKNOWN") or ()),
    })


def _mode(status: Fields) -> s.Mode | None:
    # Classic Smart Licensing names its accounts inside `Registration:`; only Smart Licensing
    # Using Policy prints an `Account Information:` block (also in `show license summary`).
    if status.flag("SLP_STATUS") or status.has("USAGE_HEADER") or status.has("ACCOUNT_HEADER"):
        return s.Mode.POLICY
    if status.has("REG_HEADER"):
        return s.Mode.SMART
    if s.authorization_state(status.raw("AUTH_STATUS")) is s.AuthorizationState.NOT_APPLICABLE:
        return s.Mode.POLICY
    return None


def _account(status: Fields) -> Block | None:
    account = {
        "smart_account": status.text("SMART_ACCOUNT"),
        "virtual_account": status.text("VIRTUAL_ACCOUNT"),
        "as_of": status.time("ACCOUNT_AS_OF"),
    }
    return account if any(value is not None for value in account.values()) else None


def _transport(status: Fields) -> Block | None:
    if not status.has("TRANSPORT_TYPE"):
        return None
    return {
        "type": status.text("TRANSPORT_TYPE"),
        "url": _maybe(safe_url, status.text("TRANSPORT_URL")),
        "cslu_address": _maybe(safe_url, status.text("CSLU_ADDRESS")),
        "proxy_address": _maybe(safe_host, status.text("PROXY_ADDRESS")),
        "proxy_port": status.count("PROXY_PORT"),
        "vrf": status.text("TRANSPORT_VRF"),
    }


def _maybe(convert: Callable[[str], str], text: str | None) -> str | None:
    return convert(text) if text else None


def _attempt(status: Fields, result: str, at: str, failure: str) -> Block | None:
    text = status.text(result)
    if text is None:  # "None": no attempt yet
        return None
    reason = status.text(failure)  # free text, scrubbed: may quote a proxy URL with credentials
    return {"result": s.attempt_result(text), "result_text": text, "at": status.time(at),
            "failure_reason": reason, "failure_class": classify(reason) if reason else None}


def _registration(status: Fields) -> Block | None:
    if not status.has("REG_HEADER"):
        return None
    text = status.raw("REG_STATUS")
    return {
        "state": s.registration_state(text),
        "state_text": text,
        "export_controlled": status.flag("EXPORT_CONTROLLED"),
        "initial": _attempt(status, "INITIAL_REG_RESULT", "INITIAL_REG_AT", "INITIAL_REG_FAILURE"),
        "last_renewal": _attempt(status, "RENEWAL_RESULT", "RENEWAL_AT", "RENEWAL_FAILURE"),
        "next_renewal": status.time("NEXT_RENEWAL"),
        "expires": status.time("REG_EXPIRES"),
    }


def _authorization(status: Fields, ctx: Context) -> Block | None:
    if not status.has("AUTH_STATUS"):
        return None
    text = status.raw("AUTH_STATUS")
    remaining = status.duration("EVAL_REMAINING")
    try:
        expires = ctx.captured_at + remaining if remaining is not None else None
    except OverflowError:
        raise SectionError(status.line("EVAL_REMAINING"), "Evaluation Period Remaining: out of range") from None
    return {
        "state": s.authorization_state(text),
        "state_text": text,
        "since": status.time("AUTH_SINCE"),
        "last_communication": _attempt(status, "COMM_RESULT", "COMM_AT", "COMM_FAILURE"),
        "next_communication": status.time("NEXT_COMM"),
        "communication_deadline": status.time("COMM_DEADLINE"),
        "evaluation_remaining": remaining,
        "evaluation_expires": expires,
    }


def _conversion(status: Fields) -> Block | None:
    if not (status.has("CONVERSION_AUTOMATIC") or status.has("CONVERSION_STATUS")):
        return None
    return {"automatic": status.flag("CONVERSION_AUTOMATIC"), "status": status.text("CONVERSION_STATUS")}


def _policy(status: Fields) -> Block | None:
    names = ("POLICY_IN_USE", "POLICY_INSTALLED", "POLICY_NAME", "ACK_REQUIRED")
    if not any(status.has(name) for name in names):
        return None
    installed = status.time("POLICY_INSTALLED")
    return {
        "in_use": f"Installed On {status.raw('POLICY_INSTALLED')}" if installed else status.text("POLICY_IN_USE"),
        "installed_at": installed,
        "name": status.text("POLICY_NAME"),
        "ack_required": status.flag("ACK_REQUIRED"),
    }


def _usage_reporting(status: Fields) -> Block | None:
    if not status.has("USAGE_HEADER"):
        return None
    return {
        "last_ack_received": status.time("LAST_ACK"),
        "next_ack_deadline": status.time("NEXT_ACK_DEADLINE"),
        "push_interval": status.duration("PUSH_INTERVAL"),
        "next_ack_push_check": status.time("NEXT_ACK_PUSH_CHECK"),
        "next_report_push": status.time("NEXT_REPORT_PUSH"),
        "last_report_push": status.time("LAST_REPORT_PUSH"),
        "last_report_file_write": status.time("LAST_REPORT_FILE_WRITE"),
    }


def _trust_code(status: Fields) -> Block | None:
    members = status.values.get("TRUST_CODE_AT") or []
    if members:
        try:
            times = [parse_timestamp(text, None, status.ctx.zones) for text in members]
        except BadValueError as exc:
            zone = exc.zone if isinstance(exc, UnknownZoneError) else None
            raise SectionError(status.ctx.line_of("INSTALLED on"), f"Trust Code Installed: {exc}", zone) from None
        return {"installed": True, "installed_at": min(times)}
    if not status.has("TRUST_CODE"):
        return None
    when = status.time("TRUST_CODE")
    return {"installed": when is not None, "installed_at": when}
