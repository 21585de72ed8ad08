"""Typed records of what a Smart Account says: one `AccountRecord` per saved poll of an account
source (`DIR/<source>.accounts.json`), its licences per virtual account and, on SSM On-Prem, its
open alerts.

Quantities are as the answer states them (`available` negative: the virtual account is short),
the compliance status is an enum (an unrecognised word becomes `unknown`, the text kept beside
it), dates are timezone-aware. These records describe accounts, not devices: they are not part
of the device `Record` union, and a parse result carries them apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lic_exporter.model.records import Frozen, Timestamp
from lic_exporter.model.states import AccountLicenseState

# The snapshot file an account source writes and the parser reads: one name for both.
SNAPSHOT_FORMAT = "lic_exporter.accounts/1"
SNAPSHOT_SUFFIX = ".accounts.json"


class LicenseDetail(Frozen):
    """One entry of a licence's `licenseDetails`: a term, demo or perpetual purchase."""

    license_type: str  # as printed: TERM, DEMO, PERPETUAL, ...
    quantity: int | None = None
    start: Timestamp | None = None
    end: Timestamp | None = None
    subscription_id: str | None = None
    status: str | None = None


class AccountLicense(Frozen):
    """One licence in one virtual account."""

    virtual_account: str  # "" on SSM On-Prem when the answer names none
    license: str  # the name as the answer gives it
    quantity: int | None = None
    in_use: int | None = None
    available: int | None = None  # negative: short by that many
    state: AccountLicenseState
    state_text: str | None = None
    billing_type: str | None = None
    pending_quantity: int | None = None
    reserved: int | None = None
    details: tuple[LicenseDetail, ...] = ()
    term_end: Timestamp | None = None  # the earliest end among the TERM and DEMO details

    @property
    def shortage(self) -> int:
        """How many licences the virtual account lacks (0 when none)."""
        return -self.available if self.available is not None and self.available < 0 else 0


class AccountAlert(Frozen):
    """One open alert of an SSM On-Prem account."""

    severity: str  # lower case: major, minor, ...
    message_type: str | None = None
    alert_source: str | None = None  # the answer's `source` field (not the configured source)


class AccountRecord(Frozen):
    """One saved poll of one account source."""

    kind: Literal["accounts"] = "accounts"
    command: Literal["accounts"] = "accounts"
    source: str = Field(description="the snapshot's path, as for every record")
    account_source: str  # the configured name: label `source` of the account metrics
    type: Literal["cssm", "onprem"]
    smart_account: str  # the configured domain (cssm) or local account (onprem)
    polled_at: Timestamp
    virtual_accounts: tuple[str, ...] = ()  # every virtual account polled, licences or not
    licenses: tuple[AccountLicense, ...] = ()
    alerts: tuple[AccountAlert, ...] | None = None  # None: the source type has no alerts (cssm)
