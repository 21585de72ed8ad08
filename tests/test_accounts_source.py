"""The account source against servers of our own (tests/support/account_servers.py): what one
poll asks, what it saves, how each failure is named, the token's life, and the schedule."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from lic_exporter.accounts import FORBIDDEN_EXPLANATION, AccountsLoop, AccountsPoller, PollResult
from lic_exporter.accounts.client import ApiClient
from lic_exporter.accounts.loading import read_accounts
from lic_exporter.accounts.schedule import JITTER, MIN_GAP, next_poll, next_slot, offset_in_interval
from lic_exporter.accounts.settings import AccountsConfig
from lic_exporter.accounts.snapshot import FORMAT
from lic_exporter.accounts.tokens import TokenKeeper
from lic_exporter.parsing.accounts import snapshot_problem
from tests.support.account_servers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeCssm,
    FakeOnprem,
    Fault,
    ForwardProxy,
    cssm_entry,
    dead_port,
    found_in,
    licence,
    make_tls,
    many_licences,
    onprem_entry,
    secret_files,
)

DOMAIN = "example.com"
TERM = {"licenseType": "TERM", "quantity": 5, "startDate": "2026-01-01", "endDate": "2027-01-31",
        "subscriptionId": "Sub123456", "status": "ACTIVE"}
PERPETUAL = {"licenseType": "PERPETUAL", "quantity": 3, "startDate": "2024-05-01", "endDate": None,
             "subscriptionId": None, "status": "ACTIVE"}
ROWS = {"DC1-Fabric": [licence("NX-OS Essentials", "DC1-Fabric", 8, 11, [TERM, PERPETUAL]),
                       licence("NX-OS Advantage", "DC1-Fabric", 4, 2)],
        "Empty": []}


def cssm(**options: Any) -> FakeCssm:
    return FakeCssm(DOMAIN, options.pop("rows", ROWS), CLIENT_ID, CLIENT_SECRET, **options)


def config_for(tmp_path: Path, entries: dict[str, dict[str, Any]], **section: Any) -> AccountsConfig:
    return read_accounts({"sources": entries, **section}, tmp_path)


def poll(config: AccountsConfig, out: Path, **options: Any) -> list[PollResult]:
    out.mkdir(exist_ok=True)
    options.setdefault("retry_base", 0.01)
    return asyncio.run(AccountsPoller(config, out, **options).poll_all())


def poll_cssm(tmp_path: Path, fake: FakeCssm, **keys: Any) -> tuple[PollResult, Path]:
    id_file, secret_file = secret_files(tmp_path / "secrets")
    options = keys.pop("poller", {})
    config = config_for(tmp_path, {"cisco": cssm_entry(fake, id_file, secret_file, **keys)})
    [result] = poll(config, tmp_path / "out", **options)
    return result, tmp_path / "out" / "cisco.accounts.json"


def snapshot(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


# ---------------------------------------------------------------- what a poll asks and saves

def test_paging_three_virtual_accounts_of_250_licences(tmp_path: Path) -> None:
    rows = {f"VA{number}": many_licences(f"VA{number}", 250) for number in range(3)}
    with cssm(rows=rows) as fake:
        result, path = poll_cssm(tmp_path, fake)
    assert result.ok and result.reason is None, result.message
    assert (fake.count("/token"), fake.count("/virtual-accounts"), fake.count("/licenses")) == (1, 1, 9)
    assert result.requests == len(fake.requests) == 11
    pages = [seen.json() for seen in fake.seen("/licenses")]
    assert pages == [{"virtualAccounts": [va], "limit": 100, "offset": offset}
                     for va in rows for offset in (0, 100, 200)]
    document = snapshot(path)
    assert list(document) == ["format", "source", "type", "smart_account", "polled_at", "answers"]
    assert (document["format"], document["source"], document["type"], document["smart_account"]) == \
        (FORMAT, "cisco", "cssm", DOMAIN)
    assert document["polled_at"].endswith("+00:00")
    answers = document["answers"]
    assert answers[0]["request"] == "virtual_accounts"
    assert [va["name"] for va in answers[0]["body"]["virtualAccounts"]] == list(rows)
    assert [(a["request"], a["virtual_account"], a["offset"]) for a in answers[1:]] == \
        [("licenses", va, offset) for va in rows for offset in (0, 100, 200)]
    saved = [row for answer in answers[1:] for row in answer["body"]["licenses"]]
    assert saved == [row for va in rows.values() for row in va]  # every licence once, as received


def test_configured_virtual_accounts_are_not_listed(tmp_path: Path) -> None:
    with cssm() as fake:
        result, path = poll_cssm(tmp_path, fake, virtual_accounts=["DC1-Fabric"])
    assert result.ok, result.message
    assert fake.count("/virtual-accounts") == 0 and fake.count("/licenses") == 1
    assert [answer["request"] for answer in snapshot(path)["answers"]] == ["licenses"]


def test_an_empty_virtual_account_is_one_request_and_kept(tmp_path: Path) -> None:
    with cssm() as fake:
        result, path = poll_cssm(tmp_path, fake)
    assert result.ok, result.message
    empty = [answer for answer in snapshot(path)["answers"] if answer.get("virtual_account") == "Empty"]
    assert [answer["body"]["totalRecords"] for answer in empty] == [0]
    assert empty[0]["body"]["licenses"] == []


def test_negative_available_and_term_and_perpetual_details_are_saved_as_received(tmp_path: Path) -> None:
    with cssm() as fake:
        result, path = poll_cssm(tmp_path, fake, virtual_accounts=["DC1-Fabric"])
    assert result.ok, result.message
    [answer] = snapshot(path)["answers"]
    short = answer["body"]["licenses"][0]
    assert short == ROWS["DC1-Fabric"][0]
    assert (short["available"], short["status"]) == (-3, "Out Of Compliance")
    assert [detail["licenseType"] for detail in short["licenseDetails"]] == ["TERM", "PERPETUAL"]
    assert short["licenseDetails"][0]["endDate"] == "2027-01-31"


def test_onprem_over_tls_with_its_ca(tmp_path: Path) -> None:
    ca = make_tls(tmp_path / "tls")
    alerts = [{"messageType": "Licenses expiring", "severity": "Major", "source": "Licensing"},
              {"messageType": "Insufficient licenses", "severity": "Minor", "source": "Licensing"}]
    rows = [licence("NX-OS Essentials", "", 2, 5), licence("NX-OS Advantage", "", 10, 1)]
    id_file, secret_file = secret_files(tmp_path / "secrets")
    with FakeOnprem("Example Networks", rows, alerts, CLIENT_ID, CLIENT_SECRET, ca.server) as fake:
        config = config_for(tmp_path, {"dc1": onprem_entry(fake, id_file, secret_file, ca.ca_file)})
        [result] = poll(config, tmp_path / "out")
    assert result.ok, result.message
    token = fake.seen("/backend/oauth/token")[0]
    assert token.json() == {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert [(seen.path, seen.json()) for seen in fake.seen("/api/")] == [
        ("/api/v1/accounts/Example%20Networks/licenses", {"limit": -1}),
        ("/api/v1/accounts/Example%20Networks/alerts", {"limit": -1})]
    document = snapshot(tmp_path / "out" / "dc1.accounts.json")
    assert (document["type"], document["smart_account"]) == ("onprem", "Example Networks")
    assert [answer["request"] for answer in document["answers"]] == ["licenses", "alerts"]
    assert "virtual_account" not in document["answers"][0]
    assert document["answers"][1]["body"]["alerts"] == alerts


def test_onprem_without_its_ca_fails_tls(tmp_path: Path) -> None:
    ca = make_tls(tmp_path / "tls")
    id_file, secret_file = secret_files(tmp_path / "secrets")
    with FakeOnprem("Example Networks", [], [], CLIENT_ID, CLIENT_SECRET, ca.server) as fake:
        config = config_for(tmp_path, {"dc1": onprem_entry(fake, id_file, secret_file, None)})
        [result] = poll(config, tmp_path / "out")
    assert (result.ok, result.reason) == (False, "tls"), result.message
    assert not (tmp_path / "out" / "dc1.accounts.json").exists()


# ---------------------------------------------------------------- the token

def test_401_once_gets_one_new_token_and_one_retry(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/licenses", status=401, body={"error": "invalid_token"}))
        result, _ = poll_cssm(tmp_path, fake)
    assert result.ok, result.message
    assert fake.count("/token") == 2
    assert [seen.json()["offset"] for seen in fake.seen("/licenses")] == [0, 0, 0]  # DC1 twice, then Empty


def test_401_again_after_a_new_token_is_auth(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/virtual-accounts", status=401, times=None))
        result, path = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason) == (False, "auth")
    assert (fake.count("/token"), fake.count("/virtual-accounts")) == (2, 2)
    assert not path.exists()


def test_credentials_refused_ask_the_token_endpoint_once(tmp_path: Path) -> None:
    with FakeCssm(DOMAIN, ROWS, CLIENT_ID, "another-secret-entirely") as fake:
        result, _ = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason) == (False, "auth")
    assert len(fake.requests) == 1 and fake.count("/token") == 1


def test_a_token_expiring_mid_poll_is_replaced(tmp_path: Path) -> None:
    rows = {f"VA{number}": many_licences(f"VA{number}", 250) for number in range(3)}
    with cssm(rows=rows, token_uses=4) as fake:  # the server forgets each token after 4 requests
        result, path = poll_cssm(tmp_path, fake)
    assert result.ok, result.message
    assert len(fake.tokens) == 3  # 10 API requests: 4 + 4 + 2
    assert fake.count("/licenses") + fake.count("/virtual-accounts") == 10 + 2  # each refused request once more
    assert len(snapshot(path)["answers"]) == 10


def test_a_token_is_refreshed_before_it_expires(tmp_path: Path) -> None:
    now = [1000.0]
    with cssm(expires_in=100) as fake:
        id_file, secret_file = secret_files(tmp_path / "secrets")
        [source] = config_for(tmp_path, {"cisco": cssm_entry(fake, id_file, secret_file)}).sources
        keeper = TokenKeeper(source, clock=lambda: now[0])

        async def ask_at(moment: float) -> None:
            now[0] = moment
            async with ApiClient(source) as client:
                await keeper.header(client)

        asyncio.run(ask_at(1000.0))
        asyncio.run(ask_at(1070.0))  # 30 s left: more than a quarter of its life
        fetched_before = keeper.fetched
        asyncio.run(ask_at(1076.0))  # 24 s left: replaced before it runs out
    assert (fetched_before, keeper.fetched, fake.count("/token")) == (1, 2, 2)


# ---------------------------------------------------------------- retries and failures

def test_429_waits_as_retry_after_says(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/licenses", status=429, headers={"Retry-After": "1"}))
        # Without Retry-After the backoff would be 1000 s, past the bound: success proves it was honoured.
        result, _ = poll_cssm(tmp_path, fake, poller={"retry_base": 1000.0})
    assert result.ok, result.message
    assert fake.count("/licenses") == 3


def test_429_asking_for_an_hour_fails_at_once(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/virtual-accounts", status=429, headers={"Retry-After": "3600"}, times=None))
        result, _ = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason, fake.count("/virtual-accounts")) == (False, "rate_limited", 1)


def test_429_every_time_gives_up_after_a_few_retries(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/virtual-accounts", status=429, headers={"Retry-After": "0"}, times=None))
        result, _ = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason, fake.count("/virtual-accounts")) == (False, "rate_limited", 4)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried(tmp_path: Path, status: int) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/virtual-accounts", status=status, times=2))
        result, _ = poll_cssm(tmp_path, fake)
    assert result.ok, result.message
    assert fake.count("/virtual-accounts") == 3


def test_403_invalid_client_is_forbidden_with_its_explanation(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with cssm() as fake, caplog.at_level(logging.INFO, "lic_exporter"):
        fake.faults.append(Fault("/virtual-accounts", status=403, body={"error": "Invalid Client"}, times=None))
        result, _ = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason) == (False, "forbidden")
    assert FORBIDDEN_EXPLANATION in result.message and "Invalid Client" in result.message
    assert fake.count("/virtual-accounts") == 1  # not retried: waiting will not approve it
    assert any(FORBIDDEN_EXPLANATION in record.getMessage() for record in caplog.records)


def test_500_is_http(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/licenses", status=500, body={"status": "ERROR"}, times=None))
        result, _ = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason, fake.count("/licenses")) == (False, "http", 1)


def test_an_answer_saying_error_with_200_is_response(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/licenses", body={"status": "ERROR", "statusMessage": "Invalid virtual account"}))
        result, _ = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason) == (False, "response")
    assert "Invalid virtual account" in result.message


def test_a_slow_server_times_out(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/licenses", delay=30.0))
        result, _ = poll_cssm(tmp_path, fake, timeout="0.5s")
    assert (result.ok, result.reason) == (False, "timeout"), result.message


def test_a_dead_server_is_connect(tmp_path: Path) -> None:
    port = dead_port()
    id_file, secret_file = secret_files(tmp_path / "secrets")
    entry = {"type": "cssm", "smart_account": DOMAIN, "client_id_file": str(id_file),
             "client_secret_file": str(secret_file), "token_url": f"http://127.0.0.1:{port}/token",
             "api_url": f"http://127.0.0.1:{port}/services/api"}
    [result] = poll(config_for(tmp_path, {"cisco": entry}), tmp_path / "out")
    assert (result.ok, result.reason, result.requests) == (False, "connect", 1)


def test_a_configured_proxy_carries_every_request_and_the_environment_none(tmp_path: Path, monkeypatch) -> None:
    """`proxy` sends the token and API requests through it; HTTP(S)_PROXY in the environment is
    never read (it would decide where the secret goes): without `proxy`, a dead one there is
    ignored."""
    with cssm() as fake, ForwardProxy() as proxy:
        result, _ = poll_cssm(tmp_path / "through", fake, proxy=proxy.url)
        assert result.ok, result.message
        assert len(proxy.targets) == result.requests == len(fake.requests) == 4
        assert all(target.startswith(("POST 127.0.0.1", "GET 127.0.0.1")) for target in proxy.targets)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port()}")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{dead_port()}")
        direct, _ = poll_cssm(tmp_path / "direct", fake)
        assert direct.ok and len(proxy.targets) == 4, direct.message


def test_a_dead_proxy_is_connect(tmp_path: Path) -> None:
    with cssm() as fake:
        result, _ = poll_cssm(tmp_path, fake, proxy=f"http://127.0.0.1:{dead_port()}")
    assert (result.ok, result.reason, len(fake.requests)) == (False, "connect", 0)


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path) -> None:
    with cssm() as fake, cssm() as elsewhere:
        moved = f"{elsewhere.api_url}/smart-accounts-and-licensing/v1/accounts/{DOMAIN}/customer/virtual-accounts"
        fake.faults.append(Fault("/virtual-accounts", status=302, times=None, headers={"Location": moved}))
        result, _ = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason) == (False, "http")
    assert "redirect" in result.message
    assert elsewhere.requests == []


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_an_oversized_answer_is_response(tmp_path: Path, declared: bool) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/virtual-accounts", size=2 << 20, declare_length=declared))
        result, _ = poll_cssm(tmp_path, fake, poller={"max_answer_bytes": 1 << 20})
    assert (result.ok, result.reason) == (False, "response"), result.message
    assert "larger than" in result.message


def test_an_answer_past_16_mb_is_refused_by_default(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/virtual-accounts", size=17 << 20, declare_length=False))
        result, _ = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason) == (False, "response"), result.message


@pytest.mark.parametrize("body", [b'{"totalRecords": 3, "licenses": [', b"<html>maintenance</html>", b"[1, 2]"],
                         ids=["truncated", "html", "not-an-object"])
def test_malformed_json_is_response(tmp_path: Path, body: bytes) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/licenses", body=body))
        result, path = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason) == (False, "response")
    assert not path.exists()


# ---------------------------------------------------------------- secrets and snapshots

def test_an_answer_echoing_the_secrets_never_reaches_a_snapshot_or_a_log(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    with cssm(echo_secrets=True) as fake, caplog.at_level(logging.DEBUG):
        result, path = poll_cssm(tmp_path, fake)
        fake.faults.append(Fault("/licenses", status=400, times=None, body={
            "error": f"bad client {CLIENT_ID}", "error_description": f"secret {CLIENT_SECRET} refused"}))
        failed, _ = poll_cssm(tmp_path / "again", fake)
    assert result.ok, result.message
    assert (failed.ok, failed.reason) == (False, "http")
    text = path.read_text()
    assert "<redacted>" in text  # the echoed values were there, and were cut out
    logs = "\n".join(record.getMessage() + str(record.args) + str(record.exc_info) for record in caplog.records)
    assert found_in({"snapshot": text, "log": logs, "messages": result.message + failed.message},
                    fake.secrets()) == []
    body = snapshot(path)["answers"][1]["body"]
    assert not {"client_secret", "accessToken"} & set(body)  # keys named like a credential go, at any depth
    assert body["debug"] == {"note": "<redacted>"} and body["requestedBy"] == "<redacted>"


def test_a_failed_poll_keeps_the_previous_snapshot_byte_for_byte(tmp_path: Path) -> None:
    with cssm() as fake:
        first, path = poll_cssm(tmp_path, fake)
        before = path.read_bytes()
        fake.faults.append(Fault("/licenses", status=500, times=None))
        second, _ = poll_cssm(tmp_path, fake)
    assert first.ok and not second.ok
    assert path.read_bytes() == before
    assert sorted(item.name for item in path.parent.iterdir()) == ["cisco.accounts.json"]  # no temporary left
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_snapshot_the_parser_refuses_fails_the_poll_and_keeps_the_previous(tmp_path: Path) -> None:
    """An answer the poller can page through but the reader cannot read (a count as text) must
    not replace the last good snapshot: the parser's check (as serve and `accounts` pass it)
    fails the poll with `response`, naming the key, never the value."""
    odd = {"DC1-Fabric": [licence("NX-OS Essentials", "DC1-Fabric", 8, 3) | {"inUse": "5"}]}
    with cssm() as fake:
        first, path = poll_cssm(tmp_path, fake, poller={"check": snapshot_problem})
        before = path.read_bytes()
        fake.virtual_accounts = odd
        second, _ = poll_cssm(tmp_path, fake, poller={"check": snapshot_problem})
    assert first.ok, first.message
    assert (second.ok, second.reason) == (False, "response")
    assert "licenses[0].inUse" in second.message and "kept the previous one" in second.message
    assert path.read_bytes() == before


def test_a_server_ignoring_offset_fails_instead_of_cutting_the_list_short(tmp_path: Path) -> None:
    rows = many_licences("VA0", 250)
    with cssm(rows={"VA0": rows}) as fake:
        fake.faults.append(Fault("/licenses", times=None, body={"totalRecords": 250, "licenses": rows[:100],
                                                                "status": "SUCCESS", "statusMessage": ""}))
        result, path = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason, fake.count("/licenses")) == (False, "response", 2)
    assert "ignores offset" in result.message and not path.exists()


def test_a_token_with_control_characters_is_refused_and_never_logged(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A token that would break the Authorization header (and, escaped in an error's text, slip
    past the redaction of its plain form) is a `response`, and no request carries it."""
    forged = "tok-abc\r\nX-Injected: yes"
    with cssm() as fake, caplog.at_level(logging.DEBUG):
        fake.faults.append(Fault("/token", body={"access_token": forged, "token_type": "Bearer", "expires_in": 3600}))
        result, _ = poll_cssm(tmp_path, fake)
    assert (result.ok, result.reason, len(fake.requests)) == (False, "response", 1)
    text = caplog.text + result.message
    assert "tok-abc" not in text and "X-Injected" not in text


def test_no_two_polls_of_one_source_at_once(tmp_path: Path) -> None:
    with cssm() as fake:
        fake.faults.append(Fault("/virtual-accounts", delay=0.5))
        id_file, secret_file = secret_files(tmp_path / "secrets")
        config = config_for(tmp_path, {"cisco": cssm_entry(fake, id_file, secret_file)})
        (tmp_path / "out").mkdir()
        poller = AccountsPoller(config, tmp_path / "out")

        async def twice() -> list[PollResult | None]:
            return list(await asyncio.gather(poller.poll(config.sources[0]), poller.poll(config.sources[0])))

        results = asyncio.run(twice())
    assert [result is None for result in results] == [False, True]
    assert fake.count("/virtual-accounts") == 1 and fake.count("/token") == 1


# ---------------------------------------------------------------- the schedule

def test_each_source_has_a_stable_offset_in_the_interval() -> None:
    """The offset is a hash of the name: the same in every process and after every restart (a
    fresh interpreter has another hash seed), apart for different names."""
    import subprocess
    import sys

    interval = 6 * 3600.0
    offsets = {name: offset_in_interval(name, interval) for name in ("cisco", "dc1-onprem", "dc2")}
    other_process = subprocess.run(
        [sys.executable, "-c", "from lic_exporter.accounts.schedule import offset_in_interval as o; "
                               "print(*(repr(o(n, 21600.0)) for n in ('cisco', 'dc1-onprem', 'dc2')))"],
        capture_output=True, text=True, check=True, timeout=60, env={"PYTHONHASHSEED": "random"} | dict(os.environ))
    assert other_process.stdout.split() == [repr(offset) for offset in offsets.values()]
    assert len(set(offsets.values())) == 3
    assert all(0 <= offset < interval for offset in offsets.values())


def test_the_next_poll_is_at_the_sources_slot_plus_a_bounded_jitter() -> None:
    interval, rng = 3600.0, random.Random(7)
    base = offset_in_interval("cisco", interval)
    for after in (0.0, 1_000_000.0, 1_000_000.0 + base, 1_234_567.5):
        slot = next_slot("cisco", interval, after)
        assert (slot - base) % interval == pytest.approx(0, abs=1e-6) or \
            (slot - base) % interval == pytest.approx(interval, abs=1e-6)
        assert after + MIN_GAP * interval <= slot < after + (MIN_GAP + 1) * interval
        for _ in range(50):
            assert slot <= next_poll("cisco", interval, after, rng) <= slot + JITTER * interval


def test_a_fresh_snapshot_is_not_polled_at_start(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    id_file, secret_file = secret_files(tmp_path / "secrets")
    (out / "fresh.accounts.json").write_text("{}")  # written a moment ago: younger than the interval
    results: list[PollResult] = []
    polled = threading.Event()
    with cssm() as stale, cssm() as fresh:
        config = config_for(tmp_path, {"stale": cssm_entry(stale, id_file, secret_file),
                                       "fresh": cssm_entry(fresh, id_file, secret_file)})
        loop = AccountsLoop(config, out, on_result=lambda result: (results.append(result), polled.set()), seed=1)
        loop.start()
        try:
            assert polled.wait(30)
            statuses = {status.source: status for status in loop.statuses()}
        finally:
            assert loop.stop()
    assert [result.source for result in results] == ["stale"] and results[0].ok
    assert fresh.requests == [] and stale.count("/licenses") == 2
    due = statuses["fresh"].next_due
    assert due is not None and due - (out / "fresh.accounts.json").stat().st_mtime >= MIN_GAP * config.poll_interval


def test_a_reload_returns_once_the_loop_has_taken_the_new_sources(tmp_path: Path) -> None:
    # The reload's rescan assembles the page next: a source removed must be gone from the
    # statuses by then, not some moment later when the loop gets to it.
    out = tmp_path / "out"
    out.mkdir()
    id_file, secret_file = secret_files(tmp_path / "secrets")
    for name in ("kept", "removed"):
        (out / f"{name}.accounts.json").write_text("{}")  # fresh: neither is polled meanwhile
    with cssm() as kept, cssm() as removed:
        entries = {"kept": cssm_entry(kept, id_file, secret_file), "removed": cssm_entry(removed, id_file, secret_file)}
        loop = AccountsLoop(config_for(tmp_path, entries), out, seed=1)
        loop.start()
        try:
            assert [status.source for status in loop.statuses()] == ["kept", "removed"]
            del entries["removed"]
            assert loop.reload(config_for(tmp_path, entries)) is True
            assert [status.source for status in loop.statuses()] == ["kept"]
        finally:
            assert loop.stop()
    assert kept.requests == [] and removed.requests == []
