"""Running collections: each one a session under the limits (schedule.py), its transcript
written (transcript.py), its result recorded in the device's status.

`CollectionRunner` is what both the one-shot command and the daemon's loop use: it admits a
session only within `concurrency` and one at a time per device, spaces logins by the login
gate, skips devices whose credential is suspended, turns every failure into a result with a
contract reason, and says when a device is due again. Nothing here talks SSH itself: a session
is `collect_device(target, secret)` (device.py) or a stand-in with the same signature.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from lic_exporter.collect.device import collect_device
from lic_exporter.collect.failures import CollectError
from lic_exporter.collect.results import CollectResult, DeviceStatus
from lic_exporter.collect.schedule import CredentialGuard, LoginGate, SessionSlots, auth_backoff, next_slot
from lic_exporter.collect.targets import CollectConfig, ConfigError, Secret, Target
from lic_exporter.collect.transcript import write_transcript
from lic_exporter.sources.documents import SECRET_READ_SECONDS, within

log = logging.getLogger("lic_exporter.collect")
Session = Callable[[Target, Secret], Awaitable[str]]


def _read_secret(target: Target) -> Secret:
    """The secret of a credential made without the loader, read now (in a worker thread: never on
    the event loop) and within SECRET_READ_SECONDS."""
    credential = target.credential
    where = f"{credential.source}: {getattr(credential, credential.source)}"
    try:
        return within(SECRET_READ_SECONDS, credential.secret, where)
    except TimeoutError as exc:
        raise ConfigError(str(exc)) from None


class CollectionRunner:
    """Collects targets into `out_dir` under the limits, and keeps each device's status."""

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
        self.slots = SessionSlots(config.collect.concurrency)
        self.gate = LoginGate(config.collect.logins_per_second)
        self._running: set[str] = set()

    def reconfigure(self, config: CollectConfig) -> None:
        """A new configuration; the status of devices that stay is kept, and the sessions
        running or waiting count against the new limits (the slots and the gate are resized)."""
        before = {target.name: target.credential.fingerprint() for target in self.config.targets}
        self.config = config
        self.guard.settings = config.collect
        for identity in self.guard.lift_changed({t.credential.identity: t.credential.fingerprint()
                                                 for t in config.targets}, self.clock()):
            log.info("credential %s: its secret changed, suspension lifted", identity)
        for target in config.targets:  # a device backing off a refused secret tries the new one soon
            status = self.status.get(target.name)
            if status is not None and before.get(target.name, "") != target.credential.fingerprint():
                status.auth_failures_in_a_row = 0
        self.slots.limit = config.collect.concurrency
        self.gate.rate = config.collect.logins_per_second
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
            async with self.slots:
                await self.gate.wait()
                # Checked once it is this device's turn: others may have failed meanwhile.
                if self.guard.suspended(target.credential.identity, self.clock()):
                    log.debug("%s: not collected, its credential is suspended", target.name)
                    return None
                result = await self._session(target)
        finally:
            self._running.discard(target.name)
        self._record(target, result)
        return result

    async def _session(self, target: Target) -> CollectResult:
        started, begun = self.clock(), time.monotonic()
        try:
            loaded = target.credential.loaded
            secret = loaded if loaded is not None else await asyncio.to_thread(_read_secret, target)
            text = await asyncio.wait_for(self.session(target, secret), timeout=target.device_timeout + 5)
            path = await asyncio.to_thread(self.save, target.name, text)  # fsyncs: off the loop
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

    def save(self, device: str, text: str) -> Path:
        """Write the transcript; a collect folder that was deleted meanwhile is created again
        (once, logged), so that one `rm -r` does not fail every later collection."""
        try:
            return write_transcript(self.out_dir, device, text)
        except FileNotFoundError:
            if self.out_dir.is_dir():
                raise
        self.out_dir.mkdir(parents=True, exist_ok=True)
        log.warning("collect folder %s was gone: created it again", self.out_dir)
        return write_transcript(self.out_dir, device, text)

    def _record(self, target: Target, result: CollectResult) -> None:
        status = self.status.setdefault(target.name, DeviceStatus(target.name))
        status.success, status.seconds = result.ok, result.seconds
        identity = target.credential.identity
        if result.ok:
            log.debug("%s: collected in %.1f s", target.name, result.seconds)
            status.last_success = result.started + result.seconds
            status.auth_failures_in_a_row = 0
            self.guard.auth_succeeded(identity)
        else:
            status.failures[result.reason or "other"] += 1
            log.warning("%s: collection failed (%s): %s", target.name, result.reason, result.message)
            if result.reason == "auth":
                status.auth_failures_in_a_row += 1
                self.guard.auth_failed(identity, target.credential.username, target.name, self.clock(),
                                       target.credential.fingerprint())
            else:
                status.auth_failures_in_a_row = 0
        if self.on_result is not None:
            self.on_result(result)

    def next_due(self, target: Target, now: float, rng: random.Random) -> float:
        """When the device runs next: its slot, or later after authentication failures (an
        hour, doubling up to a day), or after its credential's suspension."""
        settings = self.config.collect
        failures = self.status[target.name].auth_failures_in_a_row if target.name in self.status else 0
        # After failures the backoff, not the slot: the retry comes when the wait is over.
        due = now + auth_backoff(settings, failures) if failures else next_slot(target.name, settings, now, rng)
        return max(due, self.guard.suspended_until.get(target.credential.identity, 0.0))
