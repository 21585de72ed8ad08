"""When and how gently to collect: the limits that protect the switches and their AAA servers.

- at most `concurrency` sessions at once and one per device;
- at most `logins_per_second` new logins (a fleet must not arrive at TACACS all at once);
- every device at its own stable offset in the interval (a hash of its name) plus a small
  jitter, so a fleet is spread over the interval instead of all at the top of it;
- after an authentication failure a device waits an hour, doubling up to a day;
- when one credential fails on `suspend_after` devices within `suspend_window`, it is
  suspended for `suspend_for` (one log line): a changed password must not lock the service
  account out on TACACS by a thousand failed logins.

Nothing here talks SSH or parses: a session is `collect_device(target, secret)`, its output a
transcript file; results are plain data (`CollectResult`, `DeviceStatus`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lic_exporter.collect.config import CollectConfig, CollectSettings, ConfigError, Target
from lic_exporter.collect.session import CollectError, collect_device
from lic_exporter.collect.transcript import write_transcript

log = logging.getLogger("lic_exporter.collect")
Session = Callable[..., Awaitable[str]]


@dataclass(frozen=True)
class CollectResult:
    """One collection of one device."""

    device: str
    ok: bool
    reason: str | None  # the contract's failure reason; None on success
    message: str  # for people; never a secret
    started: float  # unix time
    seconds: float
    path: Path | None = None  # the transcript written (success only)

    def line(self) -> str:
        """`collect`'s stdout line: device, result, reason, seconds, file."""
        return (f"{self.device} {'ok' if self.ok else 'failed'} {self.reason or '-'} {self.seconds:.2f} "
                f"{self.path if self.path else '-'}")


@dataclass
class DeviceStatus:
    """What the metrics say of one device's collection (lic_exporter_collect_*)."""

    device: str
    success: bool | None = None
    seconds: float | None = None
    last_success: float | None = None
    next_due: float | None = None
    interval: float | None = None
    failures: Counter[str] = field(default_factory=Counter)
    auth_failures_in_a_row: int = 0


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


class Collector:
    """Collects targets into `out_dir` under the limits above."""

    def __init__(self, config: CollectConfig, out_dir: Path, session: Session = collect_device,
                 clock: Callable[[], float] = time.time, on_result: Callable[[CollectResult], None] | None = None):
        self.config = config
        self.out_dir = out_dir
        self.session = session
        self.clock = clock
        self.on_result = on_result
        self.status: dict[str, DeviceStatus] = {}
        for target in config.targets:
            self.status[target.name] = DeviceStatus(target.name, interval=config.collect.interval)
        self.guard = CredentialGuard(config.collect)
        self._slots = asyncio.Semaphore(config.collect.concurrency)
        self._gate = LoginGate(config.collect.logins_per_second)
        self._running: set[str] = set()

    def reconfigure(self, config: CollectConfig) -> None:
        """A new configuration; the status of devices that stay is kept."""
        self.config = config
        self.guard.settings = config.collect
        self._slots = asyncio.Semaphore(config.collect.concurrency)
        self._gate = LoginGate(config.collect.logins_per_second)
        for target in config.targets:
            self.status.setdefault(target.name, DeviceStatus(target.name)).interval = config.collect.interval

    async def run_once(self, targets: Iterable[Target] | None = None) -> list[CollectResult]:
        """Every target once (within the limits); results in the targets' order."""
        chosen = list(self.config.targets if targets is None else targets)
        results = await asyncio.gather(*(self.collect(target) for target in chosen))
        return [result for result in results if result is not None]

    async def collect(self, target: Target) -> CollectResult | None:
        """One collection of one device; None when it is skipped (already running, or its
        credential is suspended)."""
        if target.name in self._running:
            return None
        self._running.add(target.name)
        try:
            async with self._slots:
                await self._gate.wait()
                # Checked once it is this device's turn: others may have failed meanwhile.
                if self.guard.suspended(target.credential.identity, self.clock()):
                    log.info("%s: not collected, its credential is suspended", target.name)
                    return None
                result = await self._session(target)
        finally:
            self._running.discard(target.name)
        self._record(target, result)
        return result

    async def _session(self, target: Target) -> CollectResult:
        started, begun = self.clock(), time.monotonic()
        try:
            secret = target.credential.secret()
            text = await asyncio.wait_for(self.session(target, secret), timeout=target.device_timeout + 5)
            path = await asyncio.to_thread(write_transcript, self.out_dir, target.name, text)  # fsyncs: off the loop
        except CollectError as exc:
            return CollectResult(target.name, False, exc.reason, exc.message, started, time.monotonic() - begun)
        except ConfigError as exc:
            return CollectResult(target.name, False, "other", "; ".join(exc.problems), started,
                                 time.monotonic() - begun)
        except TimeoutError:
            return CollectResult(target.name, False, "timeout", "the whole device took too long", started,
                                 time.monotonic() - begun)
        except OSError as exc:
            return CollectResult(target.name, False, "other", f"cannot write the transcript: {exc.strerror}", started,
                                 time.monotonic() - begun)
        return CollectResult(target.name, True, None, "collected", started, time.monotonic() - begun, path)

    def _record(self, target: Target, result: CollectResult) -> None:
        status = self.status.setdefault(target.name, DeviceStatus(target.name))
        status.success, status.seconds = result.ok, result.seconds
        identity = target.credential.identity
        if result.ok:
            status.last_success = result.started + result.seconds
            status.auth_failures_in_a_row = 0
            self.guard.auth_succeeded(identity)
        else:
            status.failures[result.reason or "other"] += 1
            log.warning("%s: collection failed (%s): %s", target.name, result.reason, result.message)
            if result.reason == "auth":
                status.auth_failures_in_a_row += 1
                self.guard.auth_failed(identity, target.credential.username, target.name, self.clock())
            else:
                status.auth_failures_in_a_row = 0
        if self.on_result is not None:
            self.on_result(result)

    def next_due(self, target: Target, now: float, rng: random.Random) -> float:
        """When the device runs next: its slot, or later after authentication failures (an
        hour, doubling up to a day), or after its credential's suspension."""
        settings = self.config.collect
        failures = self.status[target.name].auth_failures_in_a_row if target.name in self.status else 0
        if failures:  # the backoff, not the slot: the retry comes when the wait is over
            due = now + min(settings.auth_backoff * 2 ** min(failures - 1, 32), settings.auth_backoff_max)
        else:
            due = next_slot(target.name, settings, now, rng)
        return max(due, self.guard.suspended_until.get(target.credential.identity, 0.0))


def fresh_transcript(out_dir: Path, device: str, interval: float, now: float) -> bool:
    """Whether DIR/<device>.log is younger than the interval (then a start does not collect it)."""
    try:
        return now - (out_dir / f"{device}.log").stat().st_mtime < interval
    except OSError:
        return False
