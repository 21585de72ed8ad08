"""The daemon's account polling: every source on its own schedule, in a thread of its own with
its own event loop; a reload hands it a new configuration.

At a start every source without a snapshot in DIR younger than `poll_interval` is polled at
once; after that each source is polled at its stable offset in the interval (schedule.py).
Each source has one task that polls, then sleeps until its next slot: never two polls of one
source at once. A reload stops the tasks of sources that went, starts new ones as at a start,
and lets the others use their new settings from their next poll.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lic_exporter.accounts.poller import AccountsPoller, SnapshotCheck
from lic_exporter.accounts.results import AccountStatus, PollResult
from lic_exporter.accounts.schedule import fresh_snapshot, next_poll, snapshot_time
from lic_exporter.accounts.settings import AccountsConfig

log = logging.getLogger("lic_exporter.accounts")
STOP_SECONDS = 3.0
APPLY_SECONDS = 5.0  # a reload waits this long for the loop to take a new configuration


class AccountsLoop:
    """Polls every source of the configuration on its schedule until stopped."""

    def __init__(self, config: AccountsConfig, out_dir: Path, on_result: Callable[[PollResult], None] | None = None,
                 seed: int | None = None, clock: Callable[[], float] = time.time, check: SnapshotCheck | None = None):
        self.out_dir = out_dir
        self.poller = AccountsPoller(config, out_dir, on_result=on_result, check=check)
        self.rng = random.Random(seed)
        self.clock = clock
        self._lock = self.poller.lock  # one lock for the statuses, taken by the poller as it records
        self._shapes: dict[str, tuple[float, str]] = {}  # name -> (interval, credential) its task runs for
        self._tasks: dict[str, asyncio.Task] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    # --- from other threads ----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="accounts", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop polling; whether the loop ended within `timeout`."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def reload(self, config: AccountsConfig, timeout: float = APPLY_SECONDS) -> bool:
        """Hand the loop a new configuration and wait (up to `timeout`) until it applies it, so
        that the page the reload assembles next shows the new sources; whether it did in time."""
        if self._loop is None:
            return False
        applied = threading.Event()

        def apply() -> None:
            try:
                self._apply(config)
            finally:
                applied.set()

        self._loop.call_soon_threadsafe(apply)
        return applied.wait(timeout)

    def statuses(self) -> list[AccountStatus]:
        """A copy of every configured source's status, safe to render while polling goes on."""
        with self._lock:
            names = {source.name for source in self.poller.config.sources}
            return [replace(status, failures=status.failures.copy(), interval=self.poller.config.poll_interval)
                    for name, status in sorted(self.poller.status.items()) if name in names]

    # --- the loop ---------------------------------------------------------------------------

    async def _main(self) -> None:
        self._loop, self._stopped = asyncio.get_running_loop(), asyncio.Event()
        self._apply(self.poller.config)
        self._started.set()
        await self._stopped.wait()
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _apply(self, config: AccountsConfig) -> None:
        with self._lock:
            self.poller.reconfigure(config)
        shapes = {source.name: (config.poll_interval, source.identity) for source in config.sources}
        for name in list(self._tasks):
            # Gone, or polled at another interval or with another credential (a fixed secret): its
            # schedule starts again, so that a new interval or a fixed credential applies now.
            if shapes.get(name) != self._shapes.get(name):
                self._tasks.pop(name).cancel()
        self._shapes = shapes
        for name in sorted(shapes.keys() - self._tasks.keys()):
            self._tasks[name] = asyncio.create_task(self._source(name), name=f"accounts-{name}")

    def _due(self, name: str, when: float) -> None:
        with self._lock:
            self.poller.status.setdefault(name, AccountStatus(name)).next_due = when

    async def _source(self, name: str) -> None:
        """One source: polled now unless its snapshot is fresh, then at each of its slots."""
        interval = self.poller.config.poll_interval
        now = self.clock()
        due = now
        with self._lock:
            status = self.poller.status.setdefault(name, AccountStatus(name))
        # A fresh snapshot is not polled again (its next slot counts from when it was written),
        # unless the last poll failed: then a restarted schedule (a fixed credential) tries now.
        if fresh_snapshot(self.out_dir, name, interval, now) and status.success is not False:
            written = min(snapshot_time(self.out_dir, name) or now, now)
            due = next_poll(name, interval, written, self.rng)
            with self._lock:
                status.last_success = status.last_success or written  # what the snapshot shows
        while True:
            self._due(name, due)
            await asyncio.sleep(max(due - self.clock(), 0.0))
            source = self.poller.config.source(name)
            if source is None:
                return
            try:
                await self.poller.poll(source)
            except Exception:  # a bug costs this poll, never the source's schedule
                log.exception("%s: account poll failed unexpectedly", name)
            due = next_poll(name, self.poller.config.poll_interval, self.clock(), self.rng)
