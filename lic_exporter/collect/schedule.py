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

The concurrency limit (SessionSlots) and the login rate (LoginGate) are one object each for
the life of a runner, resized by a reload, never replaced: sessions already running count
against the new limits. They and the one-session-per-device rule are applied where sessions
start (runner.py). Nothing here talks SSH or parses.
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


class SessionSlots:
    """At most `limit` sessions at once; the limit may change while sessions run (a reload), and
    those already running count against the new one: fewer slots start nothing new until
    enough have ended, more slots start waiting sessions at once. One object for the life of
    the runner, so that no session holds a slot of an older limit."""

    def __init__(self, limit: int):
        self._limit = limit
        self.in_use = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, limit: int) -> None:
        self._limit = limit
        self._admit()

    async def __aenter__(self) -> None:
        # Below the limit nobody waits (each release and each raise admits the waiting first),
        # but for waits that were cancelled: those are skipped where they are met.
        if self.in_use < self._limit:
            self.in_use += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # _admit counted this session in before waking it
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # admitted and cancelled at once: give the slot on
            # else it stays in the queue, done: removing it would cost the queue's length (20,000
            # waiting sessions cancelled at a stop would cost 20,000 squared)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        self.in_use -= 1
        self._admit()

    def _admit(self) -> None:
        while self._waiting and self.in_use < self._limit:
            turn = self._waiting.popleft()
            if not turn.done():
                self.in_use += 1
                turn.set_result(None)


class LoginGate:
    """At most `rate` new logins a second, spread evenly: each login at least 1/rate seconds
    after the one before. The rate may change (a reload): the next login keeps to the new
    spacing from the last one, whichever rate that one came through."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.clock = clock
        self._last: float | None = None
        self._lock = asyncio.Lock()  # logins pass one at a time, in the order they asked

    @property
    def spacing(self) -> float:
        return 1.0 / self.rate if self.rate > 0 else 0.0

    async def wait(self) -> None:
        async with self._lock:
            while self._last is not None and (wait := self._last + self.spacing - self.clock()) > 0:
                await asyncio.sleep(wait)  # and look again: the rate may have changed meanwhile
            self._last = self.clock()


class CredentialGuard:
    """Suspends a credential that fails on too many devices in a short time."""

    def __init__(self, settings: CollectSettings):
        self.settings = settings
        self._failures: dict[str, deque[tuple[float, str]]] = {}
        self.suspended_until: dict[str, float] = {}
        self._suspended_secret: dict[str, str] = {}  # identity -> fingerprint of the refused secret

    def suspended(self, identity: str, now: float) -> bool:
        return self.suspended_until.get(identity, 0.0) > now

    def lift_changed(self, fingerprints: dict[str, str], now: float) -> list[str]:
        """Lift the suspension of each credential whose secret is no longer the one refused
        (`fingerprints`: identity -> fingerprint as now loaded): a fixed password, reloaded,
        is tried again at once. The identities lifted."""
        lifted = [identity for identity, refused in self._suspended_secret.items()
                  if identity in fingerprints and fingerprints[identity] != refused and self.suspended(identity, now)]
        for identity in lifted:
            self.suspended_until.pop(identity, None)
            self._suspended_secret.pop(identity, None)
            self._failures.pop(identity, None)
        return lifted

    def auth_failed(self, identity: str, username: str, device: str, now: float, fingerprint: str = "") -> None:
        window = self._failures.setdefault(identity, deque())
        window.append((now, device))
        while window and now - window[0][0] > self.settings.suspend_window:
            window.popleft()
        devices = {name for _, name in window}
        if len(devices) >= self.settings.suspend_after and not self.suspended(identity, now):
            self.suspended_until[identity] = now + self.settings.suspend_for
            self._suspended_secret[identity] = fingerprint
            window.clear()
            log.error("credential of user %s refused by %d devices within %.0f s: suspended for %.0f s, so that the "
                      "account is not locked out (fix the secret, then reload: a changed secret lifts the "
                      "suspension)", username, len(devices),
                      self.settings.suspend_window, self.settings.suspend_for)

    def auth_succeeded(self, identity: str) -> None:
        self._failures.pop(identity, None)
