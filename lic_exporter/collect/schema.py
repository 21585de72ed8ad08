"""What the collection configuration file may say: pydantic models of its keys at every level,
and the rules their values follow.

Every model refuses unknown keys, and pydantic is told to hide its inputs: a problem never
quotes a value back (it may be a password). Each rule raises a short message of its own
("not a port number", "at least 1m"); problems.py puts the key path in front of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from lic_exporter.collect.platforms import PLATFORMS, Platform
from lic_exporter.collect.targets import HOST_KEY_POLICIES, CollectSettings, HostKeyPolicy
from lic_exporter.sources.config_values import duration, fail, text

# Upper bounds: a value past them is a typo (or .inf), and would stop a device or the schedule
# for good. Timeouts of one connection or command; periods of the schedule and its backoffs.
MAX_TIMEOUT = 86400.0
MAX_PERIOD = 366 * 86400.0
MAX_CONCURRENCY = 1000  # sessions at once: each is a socket, and a TACACS request
MAX_LOGINS_PER_SECOND = 1000.0
MAX_COUNT = 1_000_000


# ---------------------------------------------------------------- value rules

def _port(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        fail("port", "not a port number")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        fail("flag", "expected true or false")
    return value


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        value = value.strip().lower() if isinstance(value, str) else value
        if value not in options:
            fail("choice", f"expected {', '.join(options[:-1])} or {options[-1]}")
        return value
    return check


def _duration(minimum: float = 0.0, maximum: float = MAX_PERIOD) -> Callable[[Any], float]:
    return duration(minimum, maximum)


def _count(maximum: int = MAX_COUNT) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
            fail("count", f"expected a whole number from 1 to {maximum:,}")
        return value
    return check


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_LOGINS_PER_SECOND:
        fail("rate", f"expected a number above 0, at most {MAX_LOGINS_PER_SECOND:g}")  # .nan is neither
    return float(value)


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        fail("fraction", "expected a fraction from 0 up to (not including) 1")
    return float(value)


def _column(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        fail("column", "expected a column number (0 is the first)")
    return value


def _delimiter(value: Any) -> str:
    if not isinstance(value, str) or not value:
        fail("delimiter", "expected the character between fields, e.g. ':'")
    return value


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        fail("names", "expected a list of group names, e.g. [old-nxos]")
    for name in value:
        text(name)
    return value


Text = Annotated[str, BeforeValidator(text)]
Port = Annotated[int, BeforeValidator(_port)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Timeout = Annotated[float, BeforeValidator(_duration(maximum=MAX_TIMEOUT))]
Period = Annotated[float, BeforeValidator(_duration())]
Count = Annotated[int, BeforeValidator(_count())]
Column = Annotated[int, BeforeValidator(_column)]
PlatformName = Annotated[Platform, BeforeValidator(_choice(*PLATFORMS))]
PolicyName = Annotated[HostKeyPolicy, BeforeValidator(_choice(*HOST_KEY_POLICIES))]


# ---------------------------------------------------------------- the keys

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)


class LayerKeys(_Strict):
    """What `defaults` and each group may set."""

    platform: PlatformName | None = None
    port: Port | None = None
    username: Text | None = None
    password_file: Text | None = None
    password_env: Text | None = None
    password: Text | None = Field(default=None, repr=False)
    key_file: Text | None = None
    key_passphrase_file: Text | None = None
    host_key_policy: PolicyName | None = None
    known_hosts: Text | None = None
    legacy_algorithms: Flag | None = None
    connect_timeout: Timeout | None = None
    command_timeout: Timeout | None = None
    device_timeout: Timeout | None = None


class HostKeys(LayerKeys):
    """What an inventory host brings (its own keys)."""

    host: Text | None = None


class TargetKeys(HostKeys):
    """What a target in `targets` may set."""

    groups: Annotated[list[str], BeforeValidator(_names)] = []


class CollectKeys(_Strict):
    interval: Annotated[float, BeforeValidator(_duration(60))] = CollectSettings.interval
    concurrency: Annotated[int, BeforeValidator(_count(MAX_CONCURRENCY))] = CollectSettings.concurrency
    logins_per_second: Annotated[float, BeforeValidator(_rate)] = CollectSettings.logins_per_second
    jitter: Annotated[float, BeforeValidator(_fraction)] = CollectSettings.jitter
    auth_backoff: Period = CollectSettings.auth_backoff
    auth_backoff_max: Period = CollectSettings.auth_backoff_max
    suspend_after: Count = CollectSettings.suspend_after
    suspend_window: Period = CollectSettings.suspend_window
    suspend_for: Period = CollectSettings.suspend_for


class NornirKeys(_Strict):
    hosts: Text
    groups: Text | None = None
    defaults: Text | None = None


class OxidizedMap(_Strict):
    name: Column
    model: Column | None = None
    ip: Column | None = None
    group: Column | None = None
    username: Column | None = None
    password: Column | None = None


class OxidizedKeys(_Strict):
    path: Text
    delimiter: Annotated[str, BeforeValidator(_delimiter)] = ":"
    map: OxidizedMap = OxidizedMap(name=0, model=1)   # Oxidized's own default


class AnsibleKeys(_Strict):
    path: Text


class InventoryKeys(_Strict):
    nornir: NornirKeys | None = None
    oxidized: OxidizedKeys | None = None
    ansible: AnsibleKeys | None = None


class TopKeys(_Strict):
    defaults: Any = None
    groups: Any = None
    targets: Any = None
    collect: Any = None
    inventories: Any = None
    accounts: Any = None  # the account sources: lic_exporter.accounts judges this section, the collection ignores it
