"""The state vocabularies of devices and accounts: the enums every record, metric label, rule
and colour names a state by, and the printed words each is read from.

Plain enums, no pydantic: the exposition, the analysis and a syslog-only run read them without
loading the record models.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import TypeVar


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


class AccountLicenseState(StrEnum):
    """Label `state` of cisco_smartlic_account_license_status."""

    IN_COMPLIANCE = "in_compliance"
    OUT_OF_COMPLIANCE = "out_of_compliance"
    UNKNOWN = "unknown"


def account_license_state(text: str | None) -> AccountLicenseState:
    """`In Compliance` / `Out Of Compliance` (any case and spacing) -> the state; else unknown."""
    words = " ".join((text or "").lower().replace("_", " ").split())
    if words in ("out of compliance", "outofcompliance"):
        return AccountLicenseState.OUT_OF_COMPLIANCE
    if words in ("in compliance", "incompliance"):
        return AccountLicenseState.IN_COMPLIANCE
    return AccountLicenseState.UNKNOWN
