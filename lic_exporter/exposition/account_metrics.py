"""What the Smart Accounts say, and how polling them goes -> their metric families
(cisco_smartlic_account_*, lic_exporter_accounts_*): labels `source`, `smart_account`,
`virtual_account`, `license` as the contract names them; nothing without an account."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from lic_exporter.exposition.text import TextFamily, one_hot
from lic_exporter.model.states import AccountLicenseState
from lic_exporter.model.vocabulary import ACCOUNTS_REASONS, MetricName

if TYPE_CHECKING:  # the account models (pydantic) load only where a snapshot is read
    from lic_exporter.model.accounts import AccountRecord


class AccountPollStatus(Protocol):
    """One account source's polls, as the daemon's account polling reports them (read-only:
    a frozen dataclass satisfies it)."""

    @property
    def source(self) -> str: ...
    @property
    def success(self) -> bool | None: ...
    @property
    def last_success(self) -> float | None: ...
    @property
    def interval(self) -> float | None: ...
    @property
    def failures(self) -> Mapping[str, int]: ...


ALERT_SEVERITIES = ("major", "minor")  # SSM On-Prem's: counted from zero for every on-prem account


def account_text(records: Iterable[AccountRecord]) -> str:
    """What the Smart Accounts say, per licence of each virtual account, and an on-prem
    account's open alerts per severity; "" without account records. One record per account
    source is expected (parsing.accounts.newest_accounts)."""
    records = list(records)
    if not records:
        return ""
    names = ["source", "smart_account", "virtual_account", "license"]
    quantity = TextFamily(MetricName.ACCOUNT_LICENSE_QUANTITY, "Licences the virtual account holds", names)
    in_use = TextFamily(MetricName.ACCOUNT_LICENSE_IN_USE, "Licences of the virtual account in use", names)
    available = TextFamily(MetricName.ACCOUNT_LICENSE_AVAILABLE, "Licences of the virtual account available, as "
                           "the account states it; negative: short by that many", names)
    status = TextFamily(MetricName.ACCOUNT_LICENSE_STATUS, "Compliance status of the licence in the virtual "
                        "account (1 for the current state)", [*names, "state"])
    term_end = TextFamily(MetricName.ACCOUNT_LICENSE_TERM_END, "The earliest end of the licence's term and demo "
                          "purchases (days left: (this - time()) / 86400)", names)
    alerts = TextFamily(MetricName.ACCOUNT_ALERTS, "Open alerts of an SSM On-Prem account, by severity",
                        ["source", "smart_account", "severity"])
    for record in records:
        for licence in record.licenses:
            labels = [record.account_source, record.smart_account, licence.virtual_account, licence.license]
            for family, value in ((quantity, licence.quantity), (in_use, licence.in_use),
                                  (available, licence.available)):
                if value is not None:
                    family.add_metric(labels, value)
            one_hot(status, labels, AccountLicenseState, licence.state)
            if licence.term_end is not None:
                term_end.add_metric(labels, licence.term_end.timestamp())
        if record.alerts is not None:
            counts = dict.fromkeys(ALERT_SEVERITIES, 0)
            for alert in record.alerts:
                counts[alert.severity] = counts.get(alert.severity, 0) + 1
            for severity, count in sorted(counts.items()):
                alerts.add_metric([record.account_source, record.smart_account, severity], count)
    on_prem = any(record.alerts is not None for record in records)
    return "".join(family.text() for family in (quantity, in_use, available, status, term_end)) + (
        alerts.text() if on_prem else "")


def account_poll_text(statuses: Iterable[AccountPollStatus]) -> str:
    """lic_exporter_accounts_*: per account source, whether and when polling it worked and how
    often it is polled. The failure counter has every reason from zero once the source exists.
    "" while no source is configured."""
    statuses = sorted(statuses, key=lambda status: status.source)
    if not statuses:
        return ""
    success = TextFamily(MetricName.ACCOUNTS_POLL_SUCCESS, "Whether the last poll of the account source succeeded",
                         ["source"])
    last = TextFamily(MetricName.ACCOUNTS_LAST_SUCCESS, "When the account source was last polled successfully",
                      ["source"])
    interval = TextFamily(MetricName.ACCOUNTS_POLL_INTERVAL, "How often the account source is polled "
                          "(LicAccountPollFailing: two of these without a success)", ["source"])
    failures = TextFamily(MetricName.ACCOUNTS_POLL_FAILURES, "Failed polls of the account source by cause",
                          ["source", "reason"], kind="counter")
    for status in statuses:
        for family, value in ((success, None if status.success is None else float(status.success)),
                              (last, status.last_success), (interval, status.interval)):
            if value is not None:
                family.add_metric([status.source], value)
        for reason in ACCOUNTS_REASONS:
            failures.add_metric([status.source, reason], status.failures.get(reason, 0))
    return "".join(family.text() for family in (success, last, interval, failures))
