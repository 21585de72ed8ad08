"""The HTTP client of the account sources (httpx, async): TLS always verified, every request
bounded in time and size, only to the configured hosts, redirects refused, bounded retries
on `429` and `502`-`504`, and every failure turned into an `AccountsError` with its reason.

httpx because it is async (the daemon polls beside its other work without threads of its
own), keeps HTTP/1.1 connections to one host open across a poll's pages, streams an answer so
that its size can be bounded while it arrives, and verifies TLS by default. It is told not to
read the environment (`trust_env=False`): no proxy, `.netrc` or CA bundle from a variable
changes where a secret is sent or which certificates are trusted; a proxy is used only where
the source names one (`proxy`).

Nothing here logs an answer's body; an error's words from an answer reach a message only
through `safe_words` (the source's secrets and tokens cut out).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import ssl
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from lic_exporter import __version__
from lic_exporter.accounts.failures import FORBIDDEN_EXPLANATION, AccountsError, safe_words
from lic_exporter.accounts.schema import is_loopback
from lic_exporter.accounts.settings import AccountSource
from lic_exporter.sources.documents import MAX_DOCUMENT_BYTES

log = logging.getLogger("lic_exporter.accounts")
MAX_ANSWER_BYTES = 16 << 20
# All answers of one poll: what the snapshot may hold, so that memory stays bounded and the file
# written is one the parser reads (snapshot.py checks the file itself too).
MAX_POLL_BYTES = MAX_DOCUMENT_BYTES
MAX_RETRIES = 3  # after the first try, for 429 and 502-504
MAX_RETRY_AFTER = 60.0  # a longer Retry-After fails the poll; the next poll tries again
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_ERROR_WORDS = ("error_description", "error", "statusMessage", "message", "detail")


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL: what a request may be sent to."""
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _tls(source: AccountSource) -> ssl.SSLContext:
    """Verification on, always: the system's CAs, or the configured `ca_file` instead."""
    return ssl.create_default_context(cafile=str(source.ca_file) if source.ca_file else None)


def _caused_by_tls(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError | ssl.CertificateError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error) or "SSL" in str(error)


class ApiClient:
    """One source's connection to its API for a poll (`async with`); counts the requests sent."""

    def __init__(self, source: AccountSource, retry_base: float = 1.0, max_answer_bytes: int = MAX_ANSWER_BYTES,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.source = source
        self.retry_base = retry_base
        self.max_answer_bytes = max_answer_bytes
        self.requests = 0
        self.received = 0  # bytes of every answer of this poll
        self._known_secrets: list[str] = [*source.secrets]
        self._allowed = {origin(source.token_url), origin(source.api_url)}
        for scheme, host, _ in self._allowed:
            if scheme != "https" and not is_loopback(host):
                raise ValueError(f"plain http:// to {host} (only loopback addresses may be plain)")
        timeout = httpx.Timeout(source.timeout, connect=min(source.timeout, 30.0))
        headers = {"Accept": "application/json", "User-Agent": f"lic-exporter/{__version__}"}
        self._http = httpx.AsyncClient(verify=_tls(source), timeout=timeout, follow_redirects=False, trust_env=False,
                                       headers=headers, transport=transport, proxy=source.proxy)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self._http.aclose()

    def remember(self, secret: str) -> None:
        """A token to keep out of every message from now on."""
        self._known_secrets.append(secret)

    @property
    def secrets(self) -> list[str]:
        return list(self._known_secrets)

    async def send(self, method: str, url: str, *, headers: dict[str, str] | None = None, json_body: Any = None,
                   form: dict[str, str] | None = None) -> dict[str, Any]:
        """The JSON object the API answers; AccountsError for anything else, after the bounded
        retries of 429 and 502-504."""
        if origin(url) not in self._allowed:
            raise AccountsError("other", f"refused to send a request to {origin(url)[1]}: not a configured host")
        for attempt in range(MAX_RETRIES + 1):
            status, answer_headers, body = await self._once(method, url, headers, json_body, form)
            if status not in RETRY_STATUSES or attempt == MAX_RETRIES:
                break
            wait = self._retry_wait(answer_headers, attempt, status)
            log.info("%s: %s %s answered %d: trying again in %.1f s", self.source.name, method, urlsplit(url).path,
                     status, wait)
            await asyncio.sleep(wait)
        return self._judge(status, answer_headers, body, method, url)

    async def _once(self, method: str, url: str, headers: dict[str, str] | None, json_body: Any,
                    form: dict[str, str] | None) -> tuple[int, httpx.Headers, bytes]:
        self.requests += 1
        what = f"{method} {urlsplit(url).hostname}{urlsplit(url).path}"
        try:
            async with asyncio.timeout(self.source.timeout):
                request = self._http.build_request(method, url, headers=headers, json=json_body, data=form)
                response = await self._http.send(request, stream=True)
                try:
                    return response.status_code, response.headers, await self._read(response, what)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise AccountsError("timeout", f"{what}: no complete answer within {self.source.timeout:g} s") from None
        except httpx.TimeoutException:
            raise AccountsError("timeout", f"{what}: timed out ({self.source.timeout:g} s)") from None
        except httpx.ConnectError as error:
            if _caused_by_tls(error):
                raise AccountsError("tls", f"{what}: TLS failed ({safe_words(error, self.secrets)})") from None
            raise AccountsError("connect", f"{what}: cannot connect ({safe_words(error, self.secrets)})") from None
        except httpx.DecodingError:
            raise AccountsError("response", f"{what}: the answer's content encoding is damaged") from None
        except httpx.RemoteProtocolError as error:
            raise AccountsError("response", f"{what}: not a valid HTTP answer ({safe_words(error, self.secrets)})") \
                from None
        except httpx.LocalProtocolError:  # its text quotes the header it refused, which holds the token
            raise AccountsError("other", f"{what}: the request could not be sent (an invalid header)") from None
        except httpx.TransportError as error:
            reason = "tls" if _caused_by_tls(error) else "connect"
            raise AccountsError(reason, f"{what}: connection failed ({safe_words(error, self.secrets)})") from None

    async def _read(self, response: httpx.Response, what: str) -> bytes:
        """The answer's body (decoded from gzip if it came so), refused past max_answer_bytes:
        at once when its Content-Length says so, else as soon as that much has arrived."""
        limit = self.max_answer_bytes
        too_large = AccountsError("response", f"{what}: answer larger than {limit:,} bytes")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():  # decoded: a small gzip bomb is bounded too
            size += len(chunk)
            if size > limit:
                raise too_large
            self.received += len(chunk)
            if self.received > MAX_POLL_BYTES:  # the snapshot must stay one the parser reads
                raise AccountsError("response", f"{what}: the poll's answers exceed {MAX_POLL_BYTES >> 20} MB "
                                                "in all, more than a snapshot may hold")
            chunks.append(chunk)
        return b"".join(chunks)

    def _retry_wait(self, headers: httpx.Headers, attempt: int, status: int) -> float:
        """How long to wait before the next try: Retry-After (seconds or a date) if the answer
        gives one, else a short doubling backoff. Longer than MAX_RETRY_AFTER fails the poll."""
        given = headers.get("retry-after", "").strip()
        wait: float | None = None
        if given.isdigit():
            wait = float(given)
        elif given:
            try:
                wait = max((email.utils.parsedate_to_datetime(given) - datetime.now(UTC)).total_seconds(), 0.0)
            except (TypeError, ValueError):
                wait = None
        if wait is None:
            wait = self.retry_base * 2 ** attempt
        if wait > MAX_RETRY_AFTER:
            reason = "rate_limited" if status == 429 else "http"
            raise AccountsError(reason, f"answered {status} and asks to wait {wait:.0f} s (more than "
                                        f"{MAX_RETRY_AFTER:.0f} s): tried again at the next poll", status)
        return wait

    def _judge(self, status: int, headers: httpx.Headers, body: bytes, method: str, url: str) -> dict[str, Any]:
        path = urlsplit(url).path
        if 200 <= status < 300:
            return self._json(body, f"{method} {path}")
        words = self._error_words(body)
        said = f": {words}" if words else ""
        if 300 <= status < 400:
            target = urlsplit(headers.get("location", "")).hostname or "elsewhere"
            raise AccountsError("http", f"{method} {path}: redirected ({status}) to {safe_words(target, self.secrets)};"
                                        " redirects are not followed", status)
        if status == 401:
            raise AccountsError("auth", f"{method} {path}: 401, the token or the credentials were refused{said}",
                                status)
        if status == 403:
            raise AccountsError("forbidden", f"{method} {path}: 403 ({FORBIDDEN_EXPLANATION}){said}", status)
        if status == 429:
            raise AccountsError("rate_limited", f"{method} {path}: 429, still rate limited after {MAX_RETRIES} "
                                                f"retries{said}", status)
        raise AccountsError("http", f"{method} {path}: answered {status}{said}", status)

    def _json(self, body: bytes, what: str) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise AccountsError("response", f"{what}: the answer is not valid JSON") from None
        if not isinstance(data, dict):
            raise AccountsError("response", f"{what}: the answer is not a JSON object")
        return data

    def _error_words(self, body: bytes) -> str:
        """The answer's own words for an error, if it is JSON that has some."""
        try:
            data = json.loads(body[:65536]) if body else None
        except (ValueError, RecursionError):
            return ""
        if not isinstance(data, dict):
            return ""
        words = [str(data[key]) for key in _ERROR_WORDS if isinstance(data.get(key), str | int)]
        return safe_words("; ".join(words), self.secrets) if words else ""
