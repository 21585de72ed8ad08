"""Typed records: what one captured command says about one device.

Every record is frozen and forbids unknown fields. States are enums over the contract's
vocabularies (an unrecognised word becomes `unknown`, the printed text is kept beside it),
timestamps are timezone-aware, durations are timedeltas and Cisco's words for nothing
(`None`, `<none>`, `<empty>`) are absent values.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from lic_exporter.model.vocabulary import Reason

# ISO 8601 with a numeric offset, as the contract shows: 2027-09-10T08:17:44+00:00
Timestamp = Annotated[AwareDatetime, PlainSerializer(datetime.isoformat, return_type=str)]


class Mode(StrEnum):
    SMART = "smart"  # classic Smart Licensing (registration + authorization)
    POLICY = "policy"  # Smart Licensing Using Policy (usage reports + ACKs)


class RegistrationState(StrEnum):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    REGISTRATION_FAILED = "registration_failed"
    REGISTRATION_EXPIRED = "registration_expired"
    UNKNOWN = "unknown"


class AuthorizationState(StrEnum):
    EVALUATION = "evaluation"
    EVALUATION_EXPIRED = "evaluation_expired"
    AUTHORIZED = "authorized"
    OUT_OF_COMPLIANCE = "out_of_compliance"
    AUTHORIZATION_EXPIRED = "authorization_expired"
    NO_LICENSES_IN_USE = "no_licenses_in_use"
    NOT_APPLICABLE = "not_applicable"
    UNKNOWN = "unknown"


class EntitlementState(StrEnum):
    AUTHORIZED = "authorized"
    OUT_OF_COMPLIANCE = "out_of_compliance"
    EVALUATION = "evaluation"
    EVALUATION_EXPIRED = "evaluation_expired"
    IN_USE = "in_use"
    NOT_IN_USE = "not_in_use"
    NOT_AUTHORIZED = "not_authorized"
    UNKNOWN = "unknown"


class AttemptResult(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


S = TypeVar("S")

# Printed words -> state, tried in order: the first pattern contained in the upper-cased text
# wins, so the more specific phrase comes first ("REGISTRATION FAILED" before "REGISTERED").
_REGISTRATION_WORDS = (
    ("FAILED", RegistrationState.REGISTRATION_FAILED),
    ("EXPIRED", RegistrationState.REGISTRATION_EXPIRED),
    ("UNREGISTERED", RegistrationState.UNREGISTERED),
    ("NOT REGISTERED", RegistrationState.UNREGISTERED),
    ("REGISTERING", RegistrationState.REGISTERING),
    ("IN PROGRESS", RegistrationState.REGISTERING),
    ("PENDING", RegistrationState.REGISTERING),
    ("REGISTERED", RegistrationState.REGISTERED),
)
_AUTHORIZATION_WORDS = (
    ("EVAL EXPIRED", AuthorizationState.EVALUATION_EXPIRED),
    ("EVALUATION EXPIRED", AuthorizationState.EVALUATION_EXPIRED),
    ("EVALUATION PERIOD EXPIRED", AuthorizationState.EVALUATION_EXPIRED),
    ("EVAL", AuthorizationState.EVALUATION),
    ("AUTHORIZATION EXPIRED", AuthorizationState.AUTHORIZATION_EXPIRED),
    ("AUTH EXPIRED", AuthorizationState.AUTHORIZATION_EXPIRED),
    ("OUT OF COMPLIANCE", AuthorizationState.OUT_OF_COMPLIANCE),
    ("NO LICENSES IN USE", AuthorizationState.NO_LICENSES_IN_USE),
    ("NOT APPLICABLE", AuthorizationState.NOT_APPLICABLE),
    ("NOT AUTHORIZED", AuthorizationState.UNKNOWN),
    ("AUTHORIZED", AuthorizationState.AUTHORIZED),
)
_ENTITLEMENT_WORDS = (
    ("EVAL EXPIRED", EntitlementState.EVALUATION_EXPIRED),
    ("EVALUATION EXPIRED", EntitlementState.EVALUATION_EXPIRED),
    ("EVAL", EntitlementState.EVALUATION),
    ("OUT OF COMPLIANCE", EntitlementState.OUT_OF_COMPLIANCE),
    ("NOT AUTHORIZED", EntitlementState.NOT_AUTHORIZED),
    ("AUTHORIZED", EntitlementState.AUTHORIZED),
    ("NOT IN USE", EntitlementState.NOT_IN_USE),
    ("UNUSED", EntitlementState.NOT_IN_USE),
    ("IN USE", EntitlementState.IN_USE),
)
_ATTEMPT_WORDS = (
    ("SUCCEEDED", AttemptResult.SUCCEEDED),
    ("SUCCESS", AttemptResult.SUCCEEDED),
    ("FAILED", AttemptResult.FAILED),
    ("FAIL", AttemptResult.FAILED),
)


@lru_cache(maxsize=1024)  # a fleet prints a handful of distinct state texts
def _lookup(text: str, table: tuple[tuple[str, S], ...], fallback: S) -> S:
    upper = " ".join(text.upper().split())
    for words, state in table:
        if words in upper:
            return state
    return fallback


def registration_state(text: str) -> RegistrationState:
    return _lookup(text, _REGISTRATION_WORDS, RegistrationState.UNKNOWN)


def authorization_state(text: str) -> AuthorizationState:
    return _lookup(text, _AUTHORIZATION_WORDS, AuthorizationState.UNKNOWN)


def entitlement_state(text: str) -> EntitlementState:
    return _lookup(text, _ENTITLEMENT_WORDS, EntitlementState.UNKNOWN)


def attempt_result(text: str) -> AttemptResult:
    return _lookup(text, _ATTEMPT_WORDS, AttemptResult.UNKNOWN)


class Frozen(BaseModel):
    # defer_build: a model's validator is built when first used, so a run that reads only
    # syslog (or only prints help) does not pay for building every record's.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


def build_validators() -> None:
    """Build every record model's validator now, not at its first use: before worker processes
    are forked, so that they share one copy (about 3 MB) instead of each building its own."""
    models: list[type[Frozen]] = [Frozen]
    while models:
        model = models.pop()
        model.model_rebuild()
        models.extend(model.__subclasses__())


class Attempt(Frozen):
    """One attempt the Smart Agent reports: `SUCCEEDED on <time>`, `FAILED on <time>` + reason."""

    result: AttemptResult
    result_text: str
    at: Timestamp | None = None
    failure_reason: str | None = None
    failure_class: Reason | None = None  # the contract's `reason` for failure_reason


class Account(Frozen):
    smart_account: str | None = None
    virtual_account: str | None = None
    as_of: Timestamp | None = None


class Transport(Frozen):
    """Smart Licensing transport. Proxy credentials are never read, only whether a proxy is set."""

    type: str | None = None
    url: str | None = None
    cslu_address: str | None = None
    proxy_address: str | None = None
    proxy_port: int | None = None
    vrf: str | None = None


class Registration(Frozen):
    state: RegistrationState
    state_text: str
    export_controlled: bool | None = None
    initial: Attempt | None = None
    last_renewal: Attempt | None = None
    next_renewal: Timestamp | None = None
    expires: Timestamp | None = None


class Authorization(Frozen):
    state: AuthorizationState
    state_text: str
    since: Timestamp | None = None
    last_communication: Attempt | None = None
    next_communication: Timestamp | None = None
    communication_deadline: Timestamp | None = None
    evaluation_remaining: timedelta | None = None
    evaluation_expires: Timestamp | None = None  # capture time + evaluation_remaining


class Conversion(Frozen):
    automatic: bool | None = None
    status: str | None = None


class Policy(Frozen):
    in_use: str | None = None
    installed_at: Timestamp | None = None
    name: str | None = None
    ack_required: bool | None = None


class UsageReporting(Frozen):
    last_ack_received: Timestamp | None = None
    next_ack_deadline: Timestamp | None = None
    push_interval: timedelta | None = None
    next_ack_push_check: Timestamp | None = None
    next_report_push: Timestamp | None = None
    last_report_push: Timestamp | None = None
    last_report_file_write: Timestamp | None = None


class TrustCode(Frozen):
    installed: bool
    installed_at: Timestamp | None = None


class Entitlement(Frozen):
    """One licence: a Smart Agent usage block, a summary row or a legacy (PAK) table row."""

    tag: str
    name: str | None = None
    description: str | None = None
    regid: str | None = None  # tech support's `Entitlement Tag: regid...` (the tag is the Description)
    count: int | None = None
    version: str | None = None
    state: EntitlementState
    state_text: str
    enforcement: str | None = None
    license_type: str | None = None
    export_status: str | None = None
    installed: bool | None = None  # legacy table `Ins`
    grace_remaining: timedelta | None = None  # legacy table `Grace 10D 1H`


class RecordBase(Frozen):
    device: str
    command: str
    source: str
    line: int = Field(description="line of the file where this command's output starts")
    captured_at: Timestamp
    captured_at_from: Literal["output", "file_mtime"]


class LicenseRecord(RecordBase):
    """`show license status|all|summary|usage` (and IOS-XE `show license tech support`)."""

    kind: Literal["license"] = "license"
    mode: Mode | None = None
    smart_licensing_enabled: bool | None = None
    utility_enabled: bool | None = None
    account: Account | None = None
    transport: Transport | None = None
    registration: Registration | None = None
    authorization: Authorization | None = None
    conversion: Conversion | None = None
    policy: Policy | None = None
    usage_reporting: UsageReporting | None = None
    trust_code: TrustCode | None = None
    entitlements: tuple[Entitlement, ...] | None = None  # None: this command shows no usage
    udi: str | None = None
    agent_version: str | None = None
    unknown_lines: int = 0  # lines inside a block this tool reads that no rule knew


class DestinationProfile(Frozen):
    name: str
    transport_method: str | None = None
    urls: tuple[str, ...] = ()


class CallhomeRecord(RecordBase):
    """`show running-config callhome` / `show callhome`. Contacts: only whether they are set."""

    kind: Literal["callhome"] = "callhome"
    enabled: bool | None = None
    email_contact_set: bool | None = None
    phone_contact_set: bool | None = None
    street_address_set: bool | None = None
    destination_profiles: tuple[DestinationProfile, ...] = ()
    http_vrf: str | None = None
    http_proxy_configured: bool | None = None
    http_proxy_enabled: bool | None = None
    http_source_interface: str | None = None
    unknown_lines: int = 0


class SyslogRecord(RecordBase):
    """One licensing or call-home syslog message (`command` is `syslog`)."""

    kind: Literal["syslog"] = "syslog"
    facility: str
    severity: int
    severity_name: str
    mnemonic: str  # the Smart Agent name, a LOG_SMART_LIC_ wrapper removed
    message: str
    time: Timestamp | None = None  # from the line; None where the line prints no time
    year_inferred: bool = False  # the line printed no year (taken from the file's time)
    failure: bool = False  # a failed communication with Cisco (counted in callhome_failures_total)
    reason: Reason | None = None


Record = Annotated[LicenseRecord | CallhomeRecord | SyslogRecord, Field(discriminator="kind")]
