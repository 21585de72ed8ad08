"""What the Smart Accounts say, as diagnose findings: a virtual account short of a licence, a
term licence ending, account data gone stale, and the join with the devices: a device out of
compliance is told which licence its virtual account lacks, and by how many.

Account findings have no device (`device` ""); `account` names them ("source/virtual_account",
or the source alone for the source's own findings). The joined findings are the device's. Only
saved snapshots are read (no poll status): a source whose polls keep failing shows as data
that stopped getting newer. How close a term end may come and how old account data may grow
are the vocabulary's marks (TERM_END_DAYS, ACCOUNT_POLL_STALE_INTERVALS), never numbers of
these rules' own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lic_exporter.analysis.deadlines import days_until
from lic_exporter.analysis.facts import Facts, Finding
from lic_exporter.analysis.timers import span
from lic_exporter.model.states import AuthorizationState
from lic_exporter.model.vocabulary import (
    ACCOUNT_POLL_INTERVAL_DEFAULT,
    ACCOUNT_POLL_STALE_INTERVALS,
    SEVERITIES,
    TERM_END_DAYS,
    Severity,
)
from lic_exporter.sources.config_values import human_duration

if TYPE_CHECKING:  # the account models (pydantic) load only where a snapshot is read
    from lic_exporter.model.accounts import AccountLicense, AccountRecord

# Every problem name these rules raise (beside diagnose's RULES; FINDING_ALERTS maps each one).
ACCOUNT_PROBLEMS = ("account_shortage", "term_license_ending", "term_license_ended", "account_poll_failing",
                    "out_of_compliance_account_short", "out_of_compliance_account_unknown")
# A snapshot does not say its source's interval: account data is judged against the default.
STALE_AFTER = timedelta(seconds=ACCOUNT_POLL_STALE_INTERVALS * ACCOUNT_POLL_INTERVAL_DEFAULT)
_DEFAULT_INTERVAL = human_duration(ACCOUNT_POLL_INTERVAL_DEFAULT)  # "6h", as the configuration writes it
RENEW = "license smart renew auth"
_TERM_TYPES = ("TERM", "DEMO")


def account_findings(accounts: Sequence[AccountRecord], facts: Sequence[Facts], now: datetime) -> list[Finding]:
    """The accounts' own findings (worst first), then the joined findings of the devices."""
    newest = newest_per_source(accounts)
    own = [found for record in newest for found in _record_findings(record, now)]
    return sorted(own, key=_rank) + sorted(joined(newest, facts, now), key=lambda f: (f.device, _rank(f)))


def newest_per_source(accounts: Iterable[AccountRecord]) -> list[AccountRecord]:
    """One record per configured source (the newest poll: two copies of a snapshot say the same
    or the older one is out of date), by source name."""
    found: dict[str, AccountRecord] = {}
    for record in accounts:
        kept = found.get(record.account_source)
        if kept is None or record.polled_at > kept.polled_at:
            found[record.account_source] = record
    return [found[name] for name in sorted(found)]


def account_label(record: AccountRecord, virtual_account: str | None = None) -> str:
    """`cisco/DC1-Fabric`; the source alone for the source itself or an on-prem answer naming no
    virtual account."""
    return f"{record.account_source}/{virtual_account}" if virtual_account else record.account_source


def _record_findings(record: AccountRecord, now: datetime) -> list[Finding]:
    found = [result for result in (_shortage(record, item) for item in record.licenses) if result]
    found += [result for result in (_term_end(record, item, now) for item in record.licenses) if result]
    stale = _poll_failing(record, now)
    return found + ([stale] if stale else [])


def _where(record: AccountRecord, item: AccountLicense) -> str:
    return f"virtual account {item.virtual_account}" if item.virtual_account else f"account {record.smart_account}"


def _counts(item: AccountLicense) -> str:
    """`12 in use, 10 held, -2 available`: the counts the answer states."""
    stated = [f"{value} {word}" for value, word in ((item.in_use, "in use"), (item.quantity, "held"),
                                                    (item.available, "available")) if value is not None]
    return ", ".join(stated) or "no counts stated"


def _spare(record: AccountRecord, item: AccountLicense, wanted: int) -> str:
    """Where the same licence has enough to spare in this Smart Account, to name a transfer."""
    donors = sorted(((other.available, other.virtual_account) for other in record.licenses
                     if other.license == item.license and other.virtual_account != item.virtual_account
                     and other.available is not None and other.available >= wanted), reverse=True)
    if not donors:
        return ""
    available, name = donors[0]
    return f" ({name} has {available} available)"


def _shortage(record: AccountRecord, item: AccountLicense) -> Finding | None:
    short = item.shortage
    if not short:
        return None
    where = _where(record, item)
    return Finding(
        "", "account_shortage", Severity.WARNING, f"{where} is short of {short} x {item.license}",
        f"The Smart Account {record.smart_account} ({record.account_source}, polled {record.polled_at:%Y-%m-%d %H:%M} "
        f"UTC) states {_counts(item)}: the devices of {where} that use it report OUT OF COMPLIANCE.",
        f"add {short} {item.license} to {where} in CSSM (buy them, or transfer them from another virtual account"
        f"{_spare(record, item, short)}), then on each device of {where}:\n{RENEW}",
        account=account_label(record, item.virtual_account))


def _ending(item: AccountLicense) -> int | None:
    """How many licences end at the licence's term end (None where the details do not say)."""
    counts = [detail.quantity for detail in item.details
              if detail.license_type.upper() in _TERM_TYPES and detail.end == item.term_end]
    return sum(count for count in counts if count is not None) if counts and None not in counts else None


def _term_end(record: AccountRecord, item: AccountLicense, now: datetime) -> Finding | None:
    if item.term_end is None:
        return None
    days = days_until(item.term_end, now)
    severity = Severity.CRITICAL if days < 0 else TERM_END_DAYS.severity(days)
    if severity is None:
        return None
    where, ending = _where(record, item), _ending(item)
    how_many = f"{ending} x {item.license}" if ending is not None else f"term licences of {item.license}"
    when = f"{item.term_end:%Y-%m-%d}"
    left = (item.quantity or 0) - (ending or 0) - (item.in_use or 0)
    after = (f" Without them {where} is short of {-left} and its devices go OUT OF COMPLIANCE."
             if ending is not None and item.quantity is not None and item.in_use is not None and left < 0 else "")
    subscriptions = sorted({d.subscription_id for d in item.details if d.subscription_id and d.end == item.term_end})
    named = f" (subscription {', '.join(subscriptions)})" if subscriptions else ""
    if days < 0:
        return Finding("", "term_license_ended", severity, f"{how_many} in {where} ended on {when}",
                       f"The term ended {span(days)} ago; the account still lists it ({_counts(item)}).{after}",
                       f"renew the subscription{named} or buy licences, then on each device of {where}:\n{RENEW}",
                       item.term_end, account_label(record, item.virtual_account))
    return Finding("", "term_license_ending", severity, f"{how_many} in {where} end on {when}, in {span(days)}",
                   f"A term licence leaves the virtual account when its term ends ({_counts(item)}).{after}",
                   f"renew the subscription{named} before {when}, or buy licences to replace it",
                   item.term_end, account_label(record, item.virtual_account))


def _poll_failing(record: AccountRecord, now: datetime) -> Finding | None:
    age = now - record.polled_at
    if age <= STALE_AFTER:
        return None
    return Finding(
        "", "account_poll_failing", Severity.WARNING,
        f"the account data of {record.account_source} is {span(-days_until(record.polled_at, now))} old "
        f"(polled {record.polled_at:%Y-%m-%d %H:%M} UTC)",
        f"The newest saved poll of {record.smart_account} is older than {ACCOUNT_POLL_STALE_INTERVALS} poll intervals "
        f"(judged against the default poll_interval, {_DEFAULT_INTERVAL}): its polls keep failing, or nothing "
        "polls it. What it says of shortages and term ends may be out of date.",
        "see lic_exporter_accounts_poll_failures_total{source=\"" + record.account_source + "\"} for the reason "
        "(forbidden: the API access is not yet approved at Cisco; auth: the client ID or secret), or run:\n"
        "lic-exporter accounts --config.file FILE --out DIR",
        account=account_label(record))


# --- the join: a device out of compliance, and what its virtual account says -------------

def joined(records: Sequence[AccountRecord], facts: Iterable[Facts], now: datetime) -> list[Finding]:
    """Per device out of compliance, what its virtual account says: the licences it is short of,
    or that its account data is missing or stale. Nothing when no account is polled at all."""
    if not records:
        return []
    found = []
    for device in facts:
        if device.authorization is AuthorizationState.OUT_OF_COMPLIANCE:
            found.append(_join(device, records, now))
    return found


def _join(device: Facts, records: Sequence[AccountRecord], now: datetime) -> Finding:
    va = device.virtual_account
    if not va:
        return _unknown(device, "its outputs do not name its virtual account", "")
    holding = [record for record in records if va in record.virtual_accounts
               or any(item.virtual_account == va for item in record.licenses)]
    if not holding:
        polled = ", ".join(record.account_source for record in records)
        return _unknown(device, f"no account source polls virtual account {va} (polled: {polled})",
                        f"add the Smart Account holding {va} to `accounts:` (or {va} to its `virtual_accounts`)")
    fresh = [record for record in holding if now - record.polled_at <= STALE_AFTER]
    if not fresh:
        newest = max(holding, key=lambda record: record.polled_at)
        return _unknown(device, f"the account data of {va} is stale since {newest.polled_at:%Y-%m-%d %H:%M} UTC "
                        f"({newest.account_source}: no poll for {ACCOUNT_POLL_STALE_INTERVALS} intervals of "
                        f"{_DEFAULT_INTERVAL})",
                        f"see why the polls of {newest.account_source} fail "
                        "(lic_exporter_accounts_poll_failures_total)")
    short = [(record, item) for record in fresh for item in record.licenses
             if item.virtual_account == va and item.shortage]
    if not short:
        record = max(fresh, key=lambda r: r.polled_at)
        return _unknown(device, f"its virtual account {va} is short of nothing as of "
                        f"{record.polled_at:%Y-%m-%d %H:%M} UTC ({record.account_source})",
                        f"the account may have changed since the device last reported; on the device:\n{RENEW}")
    lacks = "; ".join(f"{item.license}: short of {item.shortage} ({_counts(item)})" for _, item in short)
    adds = ", ".join(f"{item.shortage} {item.license}{_spare(record, item, item.shortage)}" for record, item in short)
    return Finding(device.device, "out_of_compliance_account_short", Severity.WARNING,
                   f"out of compliance: virtual account {va} lacks {len(short)} licence(s)",
                   f"The Smart Account says {lacks}.",
                   f"add or move licences in CSSM to {va} ({adds}), then on the device:\n{RENEW}")


def _unknown(device: Facts, why: str, fix: str) -> Finding:
    return Finding(device.device, "out_of_compliance_account_unknown", Severity.INFO,
                   "out of compliance, and the account data cannot say why", f"Not joined: {why}.",
                   fix or "add the virtual account to the device's registration, or check `show license status`")


def _rank(result: Finding) -> tuple[int, str, str]:
    return -SEVERITIES.index(result.severity), result.problem, result.account or ""
