"""The threads that answer complete requests: at most a fixed number at once, started as they
are needed; each connection goes back to the I/O thread when answered, to be read again
(kept alive) or forgotten (closed)."""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

from lic_exporter.daemon.connections import Connection, close_quietly

log = logging.getLogger("lic_exporter.http")


class Warn(Protocol):
    def __call__(self, key: str, message: str, *args: object) -> None: ...


class WorkerPool:
    """`answer` answers one connection's request and says whether to keep the connection open;
    `wake` tells the I/O thread a connection came back; `warn` logs a trouble now and then."""

    def __init__(self, size: int, answer: Callable[[Connection], bool], wake: Callable[[], None], warn: Warn):
        self.size = size
        self.busy = 0  # connections handed over and not taken back yet
        self._answer = answer
        self._wake = wake
        self._warn = warn
        self._threads = 0
        self._jobs: queue.SimpleQueue[Connection | None] = queue.SimpleQueue()
        self._returned: deque[tuple[Connection, bool]] = deque()  # from workers: (connection, keep it open)

    def hand_over(self, conn: Connection) -> bool:
        """Have a worker answer `conn`: False (and `conn` still the caller's) when every worker
        is busy, or none can be started."""
        if self.busy >= self.size:
            self._warn("workers", "all %d workers busy: answering 503 to new requests", self.size)
            return False
        self.busy += 1
        if self._threads < self.busy:  # threads never outnumber the workers
            try:
                threading.Thread(target=self._work, name=f"http-worker-{self._threads + 1}", daemon=True).start()
                self._threads += 1
            except RuntimeError as exc:  # no thread to be had: the ones there are will do
                self._warn("threads", "cannot start an HTTP worker: %s", exc)
                if not self._threads:
                    self.busy -= 1
                    return False
        self._jobs.put(conn)
        return True

    def returned(self) -> Iterator[tuple[Connection, bool]]:
        """The connections answered since the last call: (connection, keep it open)."""
        while self._returned:
            conn, keep = self._returned.popleft()
            self.busy -= 1
            yield conn, keep

    def close(self) -> None:
        """Close the kept-alive connections handed back, and let every worker end."""
        while self._returned:
            conn, kept = self._returned.popleft()
            if kept:
                conn.sock.close()
        for _ in range(self._threads):
            self._jobs.put(None)

    def _work(self) -> None:
        while True:
            conn = self._jobs.get()
            if conn is None:
                return
            keep = False
            try:
                keep = self._answer(conn)
            except Exception:  # a bug: this connection only, the worker lives on
                log.exception("error answering %s", conn.address[0])
            if not keep:
                close_quietly(conn.sock)
            self._returned.append((conn, keep))
            self._wake()
