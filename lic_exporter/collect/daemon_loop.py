"""The daemon's collection: every target on its own schedule, in a thread of its own with
its own event loop; SIGHUP hands it a new configuration.

At a start, every target without a transcript younger than the interval is due at once;
after a collection a target is due at its next slot (or its backoff) as the runner says.

The log gets one summary line per round at info (a failure is a warning of its own, a device
collected a debug line): the first round is what was due at the start, logged once it is all
done; after it, a round is what was collected since the previous summary, logged at most once
every ROUND_SUMMARY_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lic_exporter.collect.device import collect_device
from lic_exporter.collect.results import CollectResult, DeviceStatus
from lic_exporter.collect.runner import CollectionRunner, Session
from lic_exporter.collect.schedule import fresh_transcript, next_slot
from lic_exporter.collect.targets import CollectConfig, Target

log = logging.getLogger("lic_exporter.collect")
_MAX_SLEEP = 30.0  # wake up now and then, whatever is due: a reload or a stop is noticed at once anyway
ROUND_SUMMARY_SECONDS = 3600.0


@dataclass
class _Round:
    """The collections since the last summary line, by outcome (collected, failed, skipped)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    began: float | None = None  # monotonic time of the round's first collection
    summarised: float | None = None  # of the last summary; None before the first

    def add(self, outcome: str, now: float) -> None:
        if self.began is None:
            self.began = now
        self.outcomes[outcome] += 1

    def summary(self, now: float, running: int) -> None:
        """Log the round if it is over: the start's once nothing runs, later ones hourly."""
        if self.began is None:
            return
        first_over = self.summarised is None and running == 0
        if not first_over and (self.summarised is None or now - self.summarised < ROUND_SUMMARY_SECONDS):
            return
        counts = {outcome: self.outcomes[outcome] for outcome in ("collected", "failed", "skipped")}
        log.info("collection round done", extra={**counts, "seconds": round(now - self.began, 1)})
        self.outcomes.clear()
        self.began, self.summarised = None, now


class CollectLoop:
    """Collects every target of the configuration on its schedule until stopped."""

    def __init__(self, config: CollectConfig, out_dir: Path, session: Session = collect_device,
                 on_result: Callable[[CollectResult], None] | None = None, seed: int | None = None):
        self.out_dir = out_dir
        self.runner = CollectionRunner(config, out_dir, session, on_result=on_result)
        self.rng = random.Random(seed)
        self._due: dict[str, float] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._round = _Round()
        self._running = 0  # collections started and not done (the loop's thread only)

    # --- from other threads ----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="collect", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        self._stopping = True
        self._poke()
        if self._thread is not None:
            self._thread.join(10)

    def reload(self, config: CollectConfig) -> None:
        """A new configuration (SIGHUP): new targets are scheduled as at a start, removed
        ones forgotten, the status of the others kept."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._apply, config)

    def statuses(self) -> list[DeviceStatus]:
        """A copy of every target's status, safe to render while collection goes on."""
        with self._lock:
            names = {target.name for target in self.runner.config.targets}
            return [replace(status, failures=status.failures.copy())
                    for name, status in sorted(self.runner.status.items()) if name in names]

    def _poke(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    # --- the loop ---------------------------------------------------------------------------

    async def _main(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        self._schedule_all(self.runner.config.targets)
        self._started.set()
        tasks: set[asyncio.Task] = set()
        while not self._stopping:
            now = time.time()
            for target in self.runner.config.targets:
                if self._due.get(target.name, math.inf) <= now:
                    self._due[target.name] = math.inf  # running: scheduled again when done
                    task = asyncio.create_task(self._run(target))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            sleep = min([*self._due.values(), now + _MAX_SLEEP]) - now
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(sleep, 0.05))
        for task in tasks:
            task.cancel()

    async def _run(self, target: Target) -> None:
        self._running += 1
        outcome = "failed"
        try:
            result = await self.runner.collect(target)
            outcome = "skipped" if result is None else "collected" if result.ok else "failed"
        except Exception:  # a bug costs this run of this device, never the loop
            log.exception("%s: collection failed unexpectedly", target.name)
        finally:  # not for a target a reload removed meanwhile: it would never run again
            self._running -= 1
            self._round.add(outcome, time.monotonic())
            self._round.summary(time.monotonic(), self._running)
            if any(current.name == target.name for current in self.runner.config.targets):
                self._set_due(target, self.runner.next_due(target, time.time(), self.rng))

    def _schedule_all(self, targets: tuple[Target, ...]) -> None:
        now, interval = time.time(), self.runner.config.collect.interval
        for target in targets:
            if target.host_key_policy == "insecure":
                log.warning("%s: host_key_policy insecure: the switch's identity is not checked", target.name)
            fresh = fresh_transcript(self.out_dir, target.name, interval, now)
            self._set_due(target, next_slot(target.name, self.runner.config.collect, now, self.rng)
                          if fresh else now)

    def _set_due(self, target: Target, when: float) -> None:
        with self._lock:
            self._due[target.name] = when
            self.runner.status.setdefault(target.name, DeviceStatus(target.name)).next_due = when
        self._poke()

    def _apply(self, config: CollectConfig) -> None:
        old = {target.name for target in self.runner.config.targets}
        with self._lock:
            self.runner.reconfigure(config)
            for name in old - {target.name for target in config.targets}:
                self._due.pop(name, None)
        self._schedule_all(tuple(t for t in config.targets if t.name not in old))
        log.info("collection configuration reloaded: %d targets", len(config.targets))
