"""When and how gently to collect: the limits that protect the switches and their AAA servers,
and each device's place in the interval.

- at most `logins_per_second` new logins (a fleet must not arrive at TACACS all at once);
- every device at its own stable offset in the interval (a hash of its name) plus a small
  jitter, so a fleet is spread over the interval instead of all at the top of it;
- after an authentication failure a device waits an hour, doubling up to a day;
- when one credential fails on `suspend_after` devices within `suspend_window`, it is
  suspended for `suspend_for` (one log line): a changed password must not lock the service
  account out on TACACS by a thousand failed logins. Only reason `auth` counts (a device that
  received the credential and refused it); `auth_method`, where it was never sent, does not;
- targets are split into shards by a stable hash of their names.

The concurrency limit and the one-session-per-device rule are applied where sessions start
(runner.py). Nothing here talks SSH or parses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from lic_exporter.collect.targets import CollectSettings
from lic_exporter.collect.transcript import transcript_path

log = logging.getLogger("lic_exporter.collect")


def shard_of(name: str, shards: int) -> int:
    """The shard (0 .. shards-1) a target belongs to: a stable hash of its name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % shards


def offset_in_interval(name: str, interval: float) -> float:
    """A device's stable place in the interval, from a hash of its name."""
    return int.from_bytes(hashlib.sha256(b"offset:" + name.encode()).digest()[:8], "big") % 10**9 / 10**9 * interval


def next_slot(name: str, settings: CollectSettings, after: float, rng: random.Random) -> float:
    """The first time after `after` at the device's offset in the interval, plus jitter."""
    interval = settings.interval
    base = offset_in_interval(name, interval)
    slot = after - (after - base) % interval + interval
    return slot + rng.uniform(0, settings.jitter * interval)


def auth_backoff(settings: CollectSettings, failures_in_a_row: int) -> float:
    """How long a device waits after that many authentication failures in a row: an hour,
    doubling up to a day (by default)."""
    return min(settings.auth_backoff * 2 ** min(failures_in_a_row - 1, 32), settings.auth_backoff_max)


def fresh_transcript(out_dir: Path, device: str, interval: float, now: float) -> bool:
    """Whether DIR/<device>.log is younger than the interval (then a start does not collect it)."""
    try:
        return now - transcript_path(out_dir, device).stat().st_mtime < interval
    except OSError:
        return False


class LoginGate:
    """At most `rate` new logins a second, spread evenly (a token per 1/rate seconds)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        self.spacing = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.spacing
        if start > now:
            await asyncio.sleep(start - now)


class CredentialGuard:
    """Suspends a credential that fails on too many devices in a short time."""

    def __init__(self, settings: CollectSettings):
        self.settings = settings
        self._failures: dict[str, deque[tuple[float, str]]] = {}
        self.suspended_until: dict[str, float] = {}

    def suspended(self, identity: str, now: float) -> bool:
        return self.suspended_until.get(identity, 0.0) > now

    def auth_failed(self, identity: str, username: str, device: str, now: float) -> None:
        window = self._failures.setdefault(identity, deque())
        window.append((now, device))
        while window and now - window[0][0] > self.settings.suspend_window:
            window.popleft()
        devices = {name for _, name in window}
        if len(devices) >= self.settings.suspend_after and not self.suspended(identity, now):
            self.suspended_until[identity] = now + self.settings.suspend_for
            window.clear()
            log.error("credential of user %s refused by %d devices within %.0f s: suspended for %.0f s, so that the "
                      "account is not locked out (fix the credential, then send SIGHUP)", username, len(devices),
                      self.settings.suspend_window, self.settings.suspend_for)

    def auth_succeeded(self, identity: str) -> None:
        self._failures.pop(identity, None)
