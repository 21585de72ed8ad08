"""Reloading the daemon (SIGHUP, POST /-/reload): one reload at a time, --config.file read again
and the folders rescanned, and whether the configuration's last load succeeded.

One thread does every reload. A request sets a flag and returns (a signal handler must not
wait, nor start a thread per signal: a storm of 50 SIGHUPs with a 20,000-target configuration
would read the file 50 times over, side by side); the thread, once free, does one reload for
all the requests that came meanwhile, so a storm costs at most the reload running and one more,
which reads the file as it is last. A caller that waits (POST /-/reload) gets the answer of
the first reload that began after its request.

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
    done). `request(why)` asks for a reload and returns at once; calling the reloader asks and
    waits for the answer: None, or why the configuration was not reloaded."""

    def __init__(self, rescan: Callable[[], None], read_config: Callable[[], str | None] | None = None,
                 status: ReloadStatus | None = None):
        self._rescan = rescan
        self._read_config = read_config
        self._status = status
        # Re-entrant: a signal handler may run on a thread that holds it (a second SIGHUP
        # arriving while the handler of the first runs).
        self._changed = threading.Condition(threading.RLock())
        self._asked = 0  # requests so far
        self._begun = 0  # requests covered by the reload running or done
        self._done = 0  # requests covered by the reloads done
        self._answer: str | None = None  # of the last reload done
        self._why = ""
        self._thread: threading.Thread | None = None
        self.reloads = 0  # reloads done (requests coalesce: fewer than requests)

    def request(self, why: str) -> int:
        """Ask for a reload (a SIGHUP's handler calls this); the request's number."""
        with self._changed:
            self._asked += 1
            self._why = why
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="reload", daemon=True)
                self._thread.start()
            self._changed.notify_all()
            return self._asked

    def __call__(self, why: str) -> str | None:
        number = self.request(why)
        with self._changed:
            self._changed.wait_for(lambda: self._done >= number)
            return self._answer

    def busy(self) -> bool:
        """Whether a reload is running or asked for."""
        with self._changed:
            return self._done < self._asked

    def _serve(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._asked > self._begun)
                requests = self._asked - self._begun
                self._begun, why = self._asked, self._why
            answer = self._reload(why, requests)
            with self._changed:
                self._done, self._answer = self._begun, answer
                self.reloads += 1
                self._changed.notify_all()

    def _reload(self, why: str, requests: int) -> str | None:
        log.info("%s: reloading: watching the folders again and scanning every watched file", why,
                 extra={"requests": requests})
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
