"""Polling a Smart Account in Cisco's cloud (CSSM): its virtual accounts (unless configured),
then each one's licences, 100 at a time until `totalRecords` is reached.

Only these requests are sent (the contract's list), each with the source's token:
`GET {api}/smart-accounts-and-licensing/v1/accounts/DOMAIN/customer/virtual-accounts` and
`POST {api}/smart-accounts-and-licensing/v1/accounts/DOMAIN/licenses` with
`{"virtualAccounts": [VA], "limit": 100, "offset": N}`. The answers are kept as received
(the snapshot removes secrets); what is checked here is only what the paging needs.
"""

from __future__ import annotations

from typing import Any

from lic_exporter.accounts.client import ApiClient
from lic_exporter.accounts.failures import AccountsError, safe_words
from lic_exporter.accounts.tokens import TokenKeeper

VIRTUAL_ACCOUNTS = "/smart-accounts-and-licensing/v1/accounts/{account}/customer/virtual-accounts"
LICENSES = "/smart-accounts-and-licensing/v1/accounts/{account}/licenses"
PAGE = 100
MAX_PAGES = 1000  # of one virtual account: 100,000 licences; more is an answer that never ends


def _checked(body: dict[str, Any], what: str, client: ApiClient) -> dict[str, Any]:
    """An answer that says it failed (`"status": "ERROR"` with a 200) fails the poll."""
    if str(body.get("status", "")).upper() in ("ERROR", "FAILURE", "FAILED"):
        words = safe_words(body.get("statusMessage", "no statusMessage"), client.secrets)
        raise AccountsError("response", f"{what}: the answer says it failed: {words}")
    return body


async def virtual_accounts(client: ApiClient, keeper: TokenKeeper) -> tuple[list[str], dict[str, Any]]:
    """The names of the virtual accounts the credentials can see, and the answer."""
    body = await keeper.request(client, "GET", client.source.url(VIRTUAL_ACCOUNTS))
    body = _checked(body, "virtual accounts", client)
    accounts = body.get("virtualAccounts")
    if not isinstance(accounts, list) or not all(isinstance(va, dict) and isinstance(va.get("name"), str)
                                                 for va in accounts):
        raise AccountsError("response", "virtual accounts: the answer has no list of virtualAccounts with names")
    return [va["name"] for va in accounts], body


async def licences(client: ApiClient, keeper: TokenKeeper, virtual_account: str) -> list[dict[str, Any]]:
    """Every page of one virtual account's licences: answers as the snapshot keeps them."""
    answers: list[dict[str, Any]] = []
    offset = 0
    url = client.source.url(LICENSES)
    seen: set[str] = set()  # licence names met so far: a server ignoring `offset` repeats its first page
    while True:
        body = await keeper.request(client, "POST", url,
                                    {"virtualAccounts": [virtual_account], "limit": PAGE, "offset": offset})
        what = f"licences of {safe_words(virtual_account, client.secrets)} from {offset}"
        body = _checked(body, what, client)
        total, page = body.get("totalRecords"), body.get("licenses")
        if isinstance(total, bool) or not isinstance(total, int) or total < 0 or not isinstance(page, list):
            raise AccountsError("response", f"{what}: the answer has no totalRecords and licenses")
        answers.append({"request": "licenses", "virtual_account": virtual_account, "offset": offset, "body": body})
        offset += PAGE
        if offset >= total:
            return answers
        if not page:
            raise AccountsError("response", f"{what}: an empty page before totalRecords ({total}) was reached")
        names = {str(row.get("license")) for row in page if isinstance(row, dict)}
        if not names - seen:
            raise AccountsError("response", f"{what}: the page repeats licences already read before totalRecords "
                                            f"({total}) was reached (the server ignores offset)")
        seen |= names
        if len(answers) >= MAX_PAGES:
            raise AccountsError("response", f"{what}: more than {MAX_PAGES} pages")


async def poll_cssm(client: ApiClient, keeper: TokenKeeper) -> list[dict[str, Any]]:
    """One poll's answers: the virtual accounts (when not configured), then the licences."""
    answers: list[dict[str, Any]] = []
    names = list(client.source.virtual_accounts or ())
    if client.source.virtual_accounts is None:
        names, body = await virtual_accounts(client, keeper)
        answers.append({"request": "virtual_accounts", "body": body})
    for name in names:
        answers.extend(await licences(client, keeper, name))
    return answers
