"""Polling a local account on SSM On-Prem: its licences and its open alerts, one request each
(`POST {url}/api/v1/accounts/ACCOUNT/licenses` and `.../alerts`, `{"limit": -1}`: all at once,
as the server's API allows), each with the source's token."""

from __future__ import annotations

from typing import Any

from lic_exporter.accounts.client import ApiClient
from lic_exporter.accounts.failures import AccountsError
from lic_exporter.accounts.tokens import TokenKeeper

LICENSES = "/api/v1/accounts/{account}/licenses"
ALERTS = "/api/v1/accounts/{account}/alerts"
ALL = {"limit": -1}


async def poll_onprem(client: ApiClient, keeper: TokenKeeper) -> list[dict[str, Any]]:
    """One poll's answers: the licences, then the alerts."""
    answers: list[dict[str, Any]] = []
    for request, path, key in (("licenses", LICENSES, "licenses"), ("alerts", ALERTS, "alerts")):
        body = await keeper.request(client, "POST", client.source.url(path), ALL)
        if not isinstance(body.get(key), list):
            raise AccountsError("response", f"{request}: the answer has no list of {key}")
        answers.append({"request": request, "body": body})
    return answers
