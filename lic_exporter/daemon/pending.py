"""Changes waiting to be applied: files to parse once they are quiet, a page to assemble again,
and the wake-up of the loop that applies them.

Anyone may report a change from any thread (watchdog's, the syslog follower's, the
collection's); the watcher's settle loop takes them.
"""

from __future__ import annotations

import threading
import time


class PendingChanges:
    def __init__(self) -> None:
        self._dirty: dict[str, float] = {}  # path -> when it last changed (time.monotonic())
        # A flag needs no lock: whoever sets it has made its change already, so a page assembled
        # after the flag is taken shows that change, even if the flag was set twice meanwhile.
        self._page_stale = False
        self._lock = threading.Lock()  # _dirty: marked from watchdog's thread, taken by the settle loop
        self._wake = threading.Event()

    def mark(self, path: str) -> None:
        """The file at `path` changed (or appeared, or went): parse it once it is quiet."""
        with self._lock:
            self._dirty[path] = time.monotonic()
        self._wake.set()

    def refresh(self) -> None:
        """Something behind the page changed that needs no parsing (syslog counts, a
        collection's result): assemble the page again."""
        self._page_stale = True
        self._wake.set()

    def settled(self, quiet_seconds: float) -> list[str]:
        """The paths unchanged for `quiet_seconds`, no longer pending."""
        now = time.monotonic()
        with self._lock:
            ready = [path for path, when in self._dirty.items() if now - when >= quiet_seconds]
            for path in ready:
                del self._dirty[path]
        return ready

    def take_refresh(self) -> bool:
        """Whether the page was asked to be assembled again since the last call."""
        if not self._page_stale:
            return False
        self._page_stale = False
        return True

    def wait(self, timeout: float) -> None:
        """Until a change is reported (or wake() is called), `timeout` seconds at most."""
        self._wake.wait(timeout=timeout)
        self._wake.clear()

    def wake(self) -> None:
        """End the current wait() at once (to stop)."""
        self._wake.set()
