"""diagnose's account findings: each fires on an account with the fault and stays quiet on a
healthy one (records built as the parser builds them), the marks are the vocabulary's, and the
join tells a device out of compliance which licence its virtual account lacks, or why the
account data cannot say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lic_exporter.analysis.accounts import ACCOUNT_PROBLEMS, STALE_AFTER, account_findings
from lic_exporter.analysis.diagnose import Facts, Finding
from lic_exporter.model.accounts import AccountLicense, AccountRecord, LicenseDetail
from lic_exporter.model.states import AccountLicenseState, AuthorizationState
from lic_exporter.model.vocabulary import ACCOUNT_POLL_STALE_INTERVALS, FINDING_ALERTS, TERM_END_DAYS, Severity

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
ADVANTAGE = "NX-OS Advantage for Nexus 9300"


def licence(name: str = ADVANTAGE, va: str = "DC1-Fabric", quantity: int = 10, in_use: int = 8,
            term_end: datetime | None = None, term_quantity: int = 4,
            subscription: str | None = "Sub-1234") -> AccountLicense:
    details = (LicenseDetail(license_type="PERPETUAL", quantity=quantity - term_quantity),)
    if term_end is not None:
        details += (LicenseDetail(license_type="TERM", quantity=term_quantity, start=term_end - timedelta(days=365),
                                  end=term_end, subscription_id=subscription, status="ACTIVE"),)
    state = AccountLicenseState.OUT_OF_COMPLIANCE if quantity < in_use else AccountLicenseState.IN_COMPLIANCE
    return AccountLicense(virtual_account=va, license=name, quantity=quantity, in_use=in_use,
                          available=quantity - in_use, state=state, details=details, term_end=term_end)


def account(*licences: AccountLicense, source: str = "cisco", polled: datetime = NOW - timedelta(hours=1),
            virtual_accounts: tuple[str, ...] = ("DC1-Fabric", "DC2", "Lab")) -> AccountRecord:
    return AccountRecord(source=f"/var/lib/lic_exporter/{source}.accounts.json", account_source=source, type="cssm",
                         smart_account="example.com", polled_at=polled, virtual_accounts=virtual_accounts,
                         licenses=licences)


def device(name: str = "n9k-leaf-07", va: str | None = "DC1-Fabric",
           state: AuthorizationState = AuthorizationState.OUT_OF_COMPLIANCE) -> Facts:
    return Facts(name, authorization=state, virtual_account=va)


def problems(found: list[Finding]) -> set[tuple[str, str, str | None]]:
    return {(f.problem, f.device, f.account) for f in found}


def test_every_account_problem_is_carried_by_an_alert() -> None:
    assert set(ACCOUNT_PROBLEMS) <= set(FINDING_ALERTS)
    assert timedelta(hours=6) * ACCOUNT_POLL_STALE_INTERVALS == STALE_AFTER


def test_a_healthy_account_and_fleet_have_no_findings() -> None:
    healthy = account(licence(), licence(va="DC2", quantity=4, in_use=4),
                      licence("DCN Essentials", term_end=NOW + timedelta(days=TERM_END_DAYS.warning + 1)))
    assert account_findings([healthy], [device(state=AuthorizationState.AUTHORIZED)], NOW) == []
    assert account_findings([], [device()], NOW) == []  # no account polled: no join either


def test_a_shortage_names_the_licence_the_count_and_a_virtual_account_to_move_from() -> None:
    found = account_findings([account(licence(quantity=10, in_use=13), licence(va="DC2", quantity=20, in_use=5))],
                             [], NOW)
    [short] = found
    assert (short.problem, short.device, short.account, short.severity) == (
        "account_shortage", "", "cisco/DC1-Fabric", Severity.WARNING)
    assert short.what == f"virtual account DC1-Fabric is short of 3 x {ADVANTAGE}"
    assert "13 in use, 10 held, -3 available" in short.why
    assert "DC2 has 15 available" in short.fix and short.fix.endswith("license smart renew auth")


def test_term_ends_follow_the_vocabularys_marks() -> None:
    def term(days: float) -> set[tuple[str, Severity]]:
        found = account_findings([account(licence(term_end=NOW + timedelta(days=days)))], [], NOW)
        return {(f.problem, f.severity) for f in found}

    assert term(TERM_END_DAYS.warning + 0.1) == set()
    assert term(TERM_END_DAYS.warning - 0.1) == {("term_license_ending", Severity.WARNING)}
    assert term(TERM_END_DAYS.critical - 0.1) == {("term_license_ending", Severity.CRITICAL)}
    assert term(-2) == {("term_license_ended", Severity.CRITICAL)}


def test_a_term_end_says_how_many_end_and_the_shortage_it_leaves() -> None:
    end = NOW + timedelta(days=10)
    [ending] = account_findings([account(licence(quantity=10, in_use=8, term_end=end, term_quantity=4))], [], NOW)
    assert ending.what == f"4 x {ADVANTAGE} in virtual account DC1-Fabric end on {end:%Y-%m-%d}, in 10 days"
    assert "short of 2" in ending.why and "Sub-1234" in ending.fix
    assert ending.deadline == end and ending.account == "cisco/DC1-Fabric"


def test_account_data_older_than_its_mark_is_a_failing_poll() -> None:
    mark = NOW - STALE_AFTER
    assert account_findings([account(polled=mark + timedelta(minutes=1))], [], NOW) == []
    [stale] = account_findings([account(polled=mark - timedelta(minutes=1))], [], NOW)
    assert (stale.problem, stale.account, stale.device) == ("account_poll_failing", "cisco", "")
    # the newest snapshot of a source counts, not an older copy of it
    assert account_findings([account(polled=mark - timedelta(days=3)), account()], [], NOW) == []


def test_join_a_device_out_of_compliance_in_a_short_virtual_account() -> None:
    records = [account(licence(quantity=10, in_use=13), licence("DCN Essentials", quantity=2, in_use=3),
                       licence(va="DC2", quantity=20, in_use=5))]
    fleet = [device(), device("n9k-leaf-08", state=AuthorizationState.AUTHORIZED), device("n9k-dc2-01", "DC2")]
    found = account_findings(records, fleet, NOW)
    joined = [f for f in found if f.device]
    assert problems(joined) == {("out_of_compliance_account_short", "n9k-leaf-07", None),
                                ("out_of_compliance_account_unknown", "n9k-dc2-01", None)}
    short = next(f for f in joined if f.device == "n9k-leaf-07")
    assert f"{ADVANTAGE}: short of 3" in short.why and "DCN Essentials: short of 1" in short.why
    assert "3 NX-OS Advantage for Nexus 9300 (DC2 has 15 available)" in short.fix
    assert short.fix.endswith("license smart renew auth")
    # n9k-dc2-01's account is short of nothing: the device's state is older than the account's
    assert "short of nothing" in next(f for f in joined if f.device == "n9k-dc2-01").why


@pytest.mark.parametrize(("records", "va", "why"), [
    ([account(virtual_accounts=("DC2",))], "DC1-Fabric", "no account source polls virtual account DC1-Fabric"),
    ([account(licence(quantity=1, in_use=5), polled=NOW - STALE_AFTER - timedelta(hours=1))], "DC1-Fabric",
     "stale since"),
    ([account()], None, "do not name its virtual account"),
])
def test_join_says_why_the_account_data_cannot_tell(records: list[AccountRecord], va: str | None, why: str) -> None:
    joined = [f for f in account_findings(records, [device(va=va)], NOW) if f.device]
    [unknown] = joined
    assert unknown.problem == "out_of_compliance_account_unknown" and why in unknown.why, unknown.why


def test_an_empty_virtual_account_is_polled_and_joins() -> None:
    """A virtual account listed with no licence is polled: the join says it lacks nothing rather
    than that it is missing."""
    [unknown] = [f for f in account_findings([account()], [device(va="Lab")], NOW) if f.device]
    assert "short of nothing" in unknown.why
