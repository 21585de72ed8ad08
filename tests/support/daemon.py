"""Start the real daemon as a process, and talk to it over real sockets (loopback only)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daemon:
    def __init__(self, *args: str, cwd: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.after_stop: list[Callable[[], object]] = []  # e.g. the test switches it collects from
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lic_exporter", "serve", "--web.listen-address", f"127.0.0.1:{self.port}",
             "--log.level", "debug", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(lambda: self._ready(), timeout)

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"daemon exited {self.process.returncode}: {self.process.stderr.read()}")
        try:
            return self.get("/-/ready")[0] == 200
        except OSError:
            return False

    def samples(self) -> dict[tuple[str, tuple], float]:
        status, body, _ = self.get("/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(body.decode()) for s in f.samples}

    def stop(self, sig: int | None = None) -> tuple[int, str]:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(sig or signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        for cleanup in self.after_stop:
            cleanup()
        return self.process.returncode, err


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached within the time limit")


def series(samples: dict, name: str, **labels: str) -> list[float]:
    return [value for (sample, pairs), value in samples.items()
            if sample == name and all(dict(pairs).get(k) == v for k, v in labels.items())]
