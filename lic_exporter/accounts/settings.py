"""The resolved account configuration: each source with its secrets (read when the
configuration loads, kept in memory only, out of every repr) and the poll interval."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from lic_exporter.model.vocabulary import ACCOUNT_POLL_INTERVAL_DEFAULT

SourceType = Literal["cssm", "onprem"]
DEFAULT_POLL_INTERVAL = ACCOUNT_POLL_INTERVAL_DEFAULT  # 6 h, the contract's
MIN_POLL_INTERVAL = 15 * 60.0
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 60.0
DEFAULT_TOKEN_URL = "https://id.cisco.com/oauth2/default/v1/token"
DEFAULT_API_URL = "https://swapi.cisco.com/services/api"
_AT_PLACE = re.compile(r"\d+:\d+: ")


class AccountsConfigError(Exception):
    """The `accounts:` section cannot be used; `problems` lists every problem, "key.path: message"."""

    def __init__(self, problems: Iterable[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    def located(self, path: Path) -> list[str]:
        """Each problem as `FILE: key.path: message` (or `FILE:LINE:COL: message`)."""
        return [f"{path}:{problem}" if _AT_PLACE.match(problem) else f"{path}: {problem}" for problem in self.problems]


@dataclass(frozen=True)
class AccountSource:
    """One configured source: a Smart Account in CSSM, or a local account on SSM On-Prem."""

    name: str
    type: SourceType
    account: str  # the Smart Account's domain (cssm) or the local account's name (onprem)
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    token_url: str = DEFAULT_TOKEN_URL
    api_url: str = DEFAULT_API_URL  # cssm: the API's base; onprem: the server's URL
    virtual_accounts: tuple[str, ...] | None = None  # cssm: None = every one the client can see
    ca_file: Path | None = None
    proxy: str | None = None  # an HTTP proxy every request of this source goes through
    timeout: float = DEFAULT_TIMEOUT

    @property
    def secrets(self) -> tuple[str, str]:
        """What must never be written anywhere: the client's id and secret."""
        return self.client_id, self.client_secret

    @property
    def identity(self) -> str:
        """Names the credential and where it is sent, without revealing it: a token kept for
        one identity is never sent after the configuration changed."""
        text = "\0".join((self.type, self.token_url, self.api_url, self.client_id, self.client_secret,
                          str(self.ca_file), self.proxy or ""))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def url(self, path: str) -> str:
        """The API's `path` (a template with {account}) under the configured base."""
        return self.api_url.rstrip("/") + path.format(account=quote(self.account, safe=""))


@dataclass(frozen=True)
class AccountsConfig:
    """The `accounts:` section, validated and resolved; `warnings` are for the operator."""

    sources: tuple[AccountSource, ...] = ()
    poll_interval: float = DEFAULT_POLL_INTERVAL
    warnings: tuple[str, ...] = ()

    def source(self, name: str) -> AccountSource | None:
        return next((source for source in self.sources if source.name == name), None)
