"""The OAuth2 client-credentials token of one source: fetched when first needed, kept in memory
only, fetched again before it expires; a `401` gets one new token and one retry.

CSSM's token endpoint (id.cisco.com) takes a form; SSM On-Prem's takes JSON. Both answer
`{"access_token", "expires_in", ...}`. A token endpoint that refuses the client (`400`
invalid_client, `401`) fails the poll with reason `auth`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from lic_exporter.accounts.client import ApiClient
from lic_exporter.accounts.failures import AccountsError
from lic_exporter.accounts.settings import AccountSource

_BEARER = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # RFC 6750 b64token
DEFAULT_LIFETIME = 300.0  # a token answer without expires_in: assumed short-lived
REFRESH_MARGIN = 60.0  # a token with less left than this (or a quarter of its life) is replaced first


class TokenKeeper:
    """The current token of one source, for the life of the configuration (across polls)."""

    def __init__(self, source: AccountSource, clock: Callable[[], float] = time.monotonic):
        self.source = source
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._margin = REFRESH_MARGIN
        self.fetched = 0  # tokens fetched (for the tests and the debug log)

    def __repr__(self) -> str:
        return f"TokenKeeper({self.source.name}, {'a token' if self._token else 'no token'})"

    def drop(self) -> None:
        self._token = None

    async def header(self, client: ApiClient) -> dict[str, str]:
        """`Authorization: Bearer ...`, with a token fetched first if none is valid long enough."""
        if self._token is None or self._expires - self.clock() < self._margin:
            await self._fetch(client)
        assert self._token is not None
        client.remember(self._token)
        return {"Authorization": f"Bearer {self._token}"}

    async def request(self, client: ApiClient, method: str, url: str, json_body: Any = None) -> dict[str, Any]:
        """An API request with the token; on `401` one new token and one retry. The token is
        fetched outside the retry: a token endpoint refusing the credentials is asked once."""
        headers = await self.header(client)
        try:
            return await client.send(method, url, headers=headers, json_body=json_body)
        except AccountsError as error:
            if error.status != 401:
                raise
        self.drop()
        headers = await self.header(client)
        try:
            return await client.send(method, url, headers=headers, json_body=json_body)
        except AccountsError as error:
            if error.status == 401:
                raise AccountsError("auth", f"{error.message} (again with a new token)", 401) from None
            raise

    async def _fetch(self, client: ApiClient) -> None:
        source = self.source
        credentials = {"grant_type": "client_credentials", "client_id": source.client_id,
                       "client_secret": source.client_secret}
        try:
            if source.type == "cssm":
                answer = await client.send("POST", source.token_url, form=credentials)
            else:
                answer = await client.send("POST", source.token_url, json_body=credentials)
        except AccountsError as error:
            if error.status in (400, 401):
                raise AccountsError("auth", f"the token endpoint refused the client's id and secret: {error.message}",
                                    error.status) from None
            raise
        token, lifetime = answer.get("access_token"), answer.get("expires_in", DEFAULT_LIFETIME)
        if not isinstance(token, str) or not token.strip():
            raise AccountsError("response", "the token endpoint's answer has no access_token")
        if not _BEARER.fullmatch(token):  # a control character would break the header, and its
            raise AccountsError("response", "the token endpoint's access_token is not a bearer token (RFC 6750 "
                                            "characters only)")  # escaped form would slip past the redaction
        if isinstance(lifetime, str) and lifetime.strip().isdigit():
            lifetime = int(lifetime)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or not 0 < lifetime < 10**9:
            raise AccountsError("response", "the token endpoint's answer has no usable expires_in")
        client.remember(token)
        self._token, self.fetched = token, self.fetched + 1
        self._expires = self.clock() + float(lifetime)
        self._margin = min(REFRESH_MARGIN, float(lifetime) / 4)
