"""Typed records: what one captured command says about one device.

Every record is frozen and forbids unknown fields. States are enums over the contract's
vocabularies (an unrecognised word becomes `unknown`, the printed text is kept beside it),
timestamps are timezone-aware, durations are timedeltas and Cisco's words for nothing
(`None`, `<none>`, `<empty>`) are absent values. The states themselves are model.states'.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from lic_exporter.model.states import AttemptResult, AuthorizationState, EntitlementState, Mode, RegistrationState
from lic_exporter.model.vocabulary import Reason

# ISO 8601 with a numeric offset, as the contract shows: 2027-09-10T08:17:44+00:00
Timestamp = Annotated[AwareDatetime, PlainSerializer(datetime.isoformat, return_type=str)]


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
