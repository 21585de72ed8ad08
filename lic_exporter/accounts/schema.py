"""What the `accounts:` section may say: pydantic models of its keys, the rules their values
follow, and their problems in words ("accounts.sources.cisco.timeout: at most 60s").

Every model refuses unknown keys and hides its inputs: a problem never quotes a value back.
Secrets are named by a file or an environment variable only; an inline `client_secret` is an
unknown key with a hint. Plain `http://` is accepted only for a loopback address.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from lic_exporter.accounts.settings import DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT, MAX_TIMEOUT, MIN_POLL_INTERVAL
from lic_exporter.sources.config_values import duration, fail, text

MAX_POLL_INTERVAL = 31 * 86400.0  # past a month an account's data says nothing current
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")  # a label value and a file name
_FETCHED = "the token is fetched with the client's id and secret, and kept in memory"
_INLINE_SECRETS = {"client_id": "put it in a file (client_id_file) or a variable (client_id_env)",
                   "client_secret": "put it in a file (client_secret_file) or a variable (client_secret_env)",
                   "token": _FETCHED, "access_token": _FETCHED}
_SHAPES = {"dict_type": "expected a mapping (key: value)", "model_type": "expected a mapping (key: value)",
           "model_attributes_type": "expected a mapping (key: value)", "list_type": "expected a list",
           "missing": "missing", "literal_error": "expected cssm or onprem"}


def _text(value: Any) -> str:
    """Text on one line: a name or a path (a control character is a paste gone wrong)."""
    text(value)
    if not value.isprintable():
        fail("text", "holds a control character")
    return value


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine (localhost, 127.0.0.0/8, ::1): plain http:// may go there."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(value: Any) -> tuple[str, SplitResult]:
    """The address as text and its parts; "not a URL" where it cannot be split (or its port is
    no number)."""
    address = _text(value).strip()
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018  # raises on a port that is no number
    except ValueError:
        fail("url", "not a URL")
    return address, parts


def _url(value: Any) -> str:
    address, parts = _split(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        fail("url", "expected an https:// URL")
    if parts.username is not None or parts.password is not None:
        fail("url", "must not hold a user or password (the client's id and secret go in files)")
    if parts.query or parts.fragment:
        fail("url", "must not hold a query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        fail("url", "plain http:// only for a loopback address; use https://")
    return address


def _proxy(value: Any) -> str:
    """An HTTP proxy's address: http:// or https://, a host and a port, nothing else. Plain http://
    to a proxy is usual and safe here: https:// requests go through it as a tunnel (CONNECT), TLS
    still ending at Cisco. Credentials in the URL are refused: they would sit in the file."""
    address, parts = _split(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail("url", "expected http://HOST:PORT")
    if parts.username is not None or parts.password is not None:
        fail("url", "must not hold a user or password (allow the exporter's address on the proxy instead)")
    if parts.port is None:
        fail("url", "needs a port, e.g. http://proxy.example.net:8080")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        fail("url", "expected http://HOST:PORT, no path")
    return address


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        fail("names", "expected a list of virtual account names, e.g. [DC1-Fabric, DC2]")
    for name in value:
        _text(name)
    if len(set(value)) != len(value):
        fail("names", "names a virtual account twice")
    return value


Text = Annotated[str, BeforeValidator(_text)]
Url = Annotated[str, BeforeValidator(_url)]
ProxyUrl = Annotated[str, BeforeValidator(_proxy)]
Timeout = Annotated[float, BeforeValidator(duration(0.0, MAX_TIMEOUT))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)


class _Credentials(_Strict):
    client_id_file: Text | None = None
    client_id_env: Text | None = None
    client_secret_file: Text | None = None
    client_secret_env: Text | None = None
    ca_file: Text | None = None
    proxy: ProxyUrl | None = None
    timeout: Timeout = DEFAULT_TIMEOUT


class CssmKeys(_Credentials):
    type: Literal["cssm"]
    smart_account: Text
    virtual_accounts: Annotated[list[str], BeforeValidator(_names)] | None = None
    token_url: Url | None = None
    api_url: Url | None = None


class OnpremKeys(_Credentials):
    type: Literal["onprem"]
    url: Url
    account: Text


class AccountsKeys(_Strict):
    poll_interval: Annotated[float, BeforeValidator(duration(MIN_POLL_INTERVAL, MAX_POLL_INTERVAL))] = \
        DEFAULT_POLL_INTERVAL
    sources: Any = None


MODELS: dict[str, type[_Credentials]] = {"cssm": CssmKeys, "onprem": OnpremKeys}


def explain(error: ValidationError, prefix: str) -> list[str]:
    """Each problem of `error` as "key.path: message", the path starting at `prefix`; built
    from the error's type and place only, never its input."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        message = _SHAPES.get(item["type"], item["msg"])
        key = str(item["loc"][-1]) if item["loc"] else ""
        if item["type"] == "extra_forbidden":
            message = "unknown key" + (f" ({_INLINE_SECRETS[key]})" if key in _INLINE_SECRETS else "")
        path = ".".join([prefix, *(str(part) for part in item["loc"] if not isinstance(part, int))])
        problems.append(f"{path}: {message}")
    return problems
