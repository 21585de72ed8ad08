"""The daemon's collection: every target on its own schedule, in a thread of its own with
its own event loop; SIGHUP hands it a new configuration.

At a start, every target without a transcript younger than the interval is due at once;
after a collection a target is due at its next slot (or its backoff) as the runner says.
The due times are a heap, so a wake-up costs the targets that are due, not the fleet (20,000
targets wake the loop thousands of times a round). A reload hands over the latest
configuration only: reloads that come faster than the loop applies them are skipped over.
A collect folder that disappears is created again within FOLDER_CHECK_SECONDS, and the
targets whose transcripts went with it are due again, as at a start.

The log gets one summary line per round at info (a failure is a warning of its own, a device
collected a debug line): the first round is what was due at the start, logged once it is all
done; after it, a round is what was collected since the previous summary, logged at most once
every ROUND_SUMMARY_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lic_exporter.collect.device import collect_device
from lic_exporter.collect.results import CollectResult, DeviceStatus
from lic_exporter.collect.runner import CollectionRunner, Session
from lic_exporter.collect.schedule import fresh_transcript, next_slot
from lic_exporter.collect.targets import CollectConfig, Target

log = logging.getLogger("lic_exporter.collect")
FOLDER_CHECK_SECONDS = 2.0  # how often the loop looks whether the collect folder is still there
STOP_SECONDS = 3.0  # how long stop() waits for running sessions to be cancelled
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
        self._targets = {target.name: target for target in config.targets}
        self._due: dict[str, float] = {}  # name -> when; absent while it runs
        self._heap: list[tuple[float, str]] = []  # (when, name); entries _due no longer holds are stale
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._round = _Round()
        self._running = 0  # collections started and not done (the loop's thread only)
        self._latest: CollectConfig | None = None  # a reload not applied yet (under _lock)

    # --- from other threads ----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="collect", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop collecting; whether the loop ended within `timeout` (its thread is a daemon's:
        one that did not end does not keep the process)."""
        self._stopping = True
        self._poke()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def reload(self, config: CollectConfig) -> None:
        """A new configuration (SIGHUP): new targets are scheduled as at a start, removed
        ones forgotten, the status of the others kept. Only the latest of several reloads
        waiting is applied."""
        with self._lock:
            waiting, self._latest = self._latest is not None, config
        if not waiting and self._loop is not None:
            self._loop.call_soon_threadsafe(self._apply_latest)

    def statuses(self) -> list[DeviceStatus]:
        """A copy of every target's status, safe to render while collection goes on."""
        with self._lock:
            names = self._targets.keys()
            return [replace(status, failures=status.failures.copy())
                    for name, status in sorted(self.runner.status.items()) if name in names]

    def _poke(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    # --- the loop ---------------------------------------------------------------------------

    async def _main(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        self._schedule_all(self.runner.config.targets)
        self._apply_latest()  # a reload that came before the loop ran
        self._started.set()
        tasks: set[asyncio.Task] = set()
        checked = 0.0
        while not self._stopping:
            now = time.time()
            if time.monotonic() - checked >= FOLDER_CHECK_SECONDS:
                checked = time.monotonic()
                self._check_folder(now)
            for target in self._take_due(now):
                task = asyncio.create_task(self._run(target))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sleep = min(self._heap[0][0] - now if self._heap else FOLDER_CHECK_SECONDS, FOLDER_CHECK_SECONDS)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(sleep, 0.05))
        for task in tasks:
            task.cancel()

    def _take_due(self, now: float) -> list[Target]:
        """The targets due by `now`, marked running (scheduled again when done)."""
        due = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                when, name = heapq.heappop(self._heap)
                if self._due.get(name) == when and name in self._targets:
                    del self._due[name]
                    due.append(self._targets[name])
        return due

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
            # Cancelled by the stop: nothing to schedule (20,000 of them must not delay it).
            if not self._stopping:
                self._after(target, outcome)

    def _after(self, target: Target, outcome: str) -> None:
        """Count a finished collection in the round, and schedule the target's next one."""
        self._round.add(outcome, time.monotonic())
        self._round.summary(time.monotonic(), self._running)
        current = self._targets.get(target.name)
        if current is not None:
            self._set_due(current, self.runner.next_due(current, time.time(), self.rng))

    def _schedule_all(self, targets: Iterable[Target]) -> None:
        now, interval = time.time(), self.runner.config.collect.interval
        for target in targets:
            if target.host_key_policy == "insecure":
                log.warning("%s: host_key_policy insecure: the switch's identity is not checked", target.name)
            fresh = fresh_transcript(self.out_dir, target.name, interval, now)
            self._set_due(target, next_slot(target.name, self.runner.config.collect, now, self.rng)
                          if fresh else now, poke=False)
        self._poke()

    def _set_due(self, target: Target, when: float, poke: bool = True) -> None:
        with self._lock:
            self._due[target.name] = when
            heapq.heappush(self._heap, (when, target.name))
            self.runner.status.setdefault(target.name, DeviceStatus(target.name)).next_due = when
            if len(self._heap) > 2 * len(self._due) + 1024:  # stale entries: rebuilt now and then
                self._heap = [(due, name) for name, due in self._due.items()]
                heapq.heapify(self._heap)
        if poke:
            self._poke()

    def _check_folder(self, now: float) -> None:
        """The collect folder deleted (by hand, a clean-up job): create it again, and collect
        the targets whose transcripts went with it (unless they wait after failed logins)."""
        if self.out_dir.is_dir():
            return
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.error("collect folder %s is gone and cannot be created again: %s", self.out_dir, exc.strerror)
            return
        log.warning("collect folder %s was gone: created it again; collecting what it held", self.out_dir)
        for name, when in list(self._due.items()):
            status = self.runner.status.get(name)
            if when > now and (status is None or status.auth_failures_in_a_row == 0):
                self._set_due(self._targets[name], now, poke=False)

    def _apply_latest(self) -> None:
        with self._lock:
            config, self._latest = self._latest, None
        if config is None:
            return
        old = self._targets
        with self._lock:
            self.runner.reconfigure(config)
            self._targets = {target.name: target for target in config.targets}
            for name in old.keys() - self._targets.keys():
                self._due.pop(name, None)
        self._schedule_all(target for target in config.targets if target.name not in old)
        log.info("collection configuration reloaded: %d targets", len(config.targets))
