"""Reloading the daemon (SIGHUP, POST /-/reload): one reload at a time, --config.file read again
and the folders rescanned, and whether the configuration's last load succeeded.

A broken new configuration is not applied: the old one keeps running, the status says 0 and
keeps the time of the last load that worked (lic_exporter_config_last_reload_*, as Prometheus
reports its own configuration). The load at the start counts as the first successful one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("lic_exporter")


class ReloadStatus:
    """Whether the last load of --config.file succeeded, and when one last did (Unix time).
    Called, it gives both: ExporterState's `config_reload`."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._successful = True  # the start's load: serve does not start on a broken one
        self._last_success = clock()

    def __call__(self) -> tuple[bool, float]:
        with self._lock:
            return self._successful, self._last_success

    def record(self, successful: bool) -> None:
        with self._lock:
            self._successful = successful
            if successful:
                self._last_success = self._clock()


class Reloader:
    """`rescan` watches the folders again and parses every file (it assembles a new page at its
    end); `read_config`, with --config.file, reads and applies it again and says why not (None:
    done). Called with what asked for the reload, it does both and returns that reason."""

    def __init__(self, rescan: Callable[[], None], read_config: Callable[[], str | None] | None = None,
                 status: ReloadStatus | None = None):
        self._rescan = rescan
        self._read_config = read_config
        self._status = status
        self._lock = threading.Lock()  # a SIGHUP and a POST /-/reload at once: one after the other

    def __call__(self, why: str) -> str | None:
        with self._lock:
            log.info("%s: reloading: watching the folders again and scanning every watched file", why)
            problem = None
            if self._read_config is not None:
                problem = self._guarded(self._read_config, "reading the configuration")
                if self._status is not None:  # before the rescan: the page it assembles says so
                    self._status.record(problem is None)
            return self._guarded(self._rescan, "rescanning") or problem

    @staticmethod
    def _guarded(step: Callable[[], str | None], what: str) -> str | None:
        """A step's own answer; a bug in it is logged and answered, never kills the daemon's thread."""
        try:
            return step()
        except Exception:
            log.exception("reload: %s failed", what)
            return f"internal error while {what} (the log has the details)"
