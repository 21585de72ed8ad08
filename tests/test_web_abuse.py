"""The HTTP server against clients that dawdle, flood or stall: a total deadline for each request
head, a bounded number of threads and connections, no spinning when descriptors run out."""

from __future__ import annotations

import gzip
import http.client
import os
import random
import resource
import selectors
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lic_exporter.daemon import http as http_server
from lic_exporter.daemon.http import MetricsServer
from lic_exporter.daemon.webconfig import WebConfig
from tests.support.daemon import Daemon, free_port
from tests.support.paths import PROJECT, SHOW_FIXTURES

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc for threads and CPU")
TICKS = os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class LimitedDaemon(Daemon):
    """The real daemon, with a low open-file limit set in the child before it starts."""

    def __init__(self, nofile: int, *args: str):
        self.after_stop = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lic_exporter", "serve", "--web.listen-address", f"127.0.0.1:{self.port}",
             "--log.level", "info", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)))


def timed_scrape(port: int) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
        assert response.status != 200 or b"cisco_smartlic_info" in body
        return response.status, time.monotonic() - started
    finally:
        connection.close()


def test_slowloris_at_a_low_open_file_limit(tmp_path: Path) -> None:
    """300 connections trickling a byte every 1-2 s into a daemon allowed 256 descriptors:
    scrapes still answer within 1 s, the threads stay few, the CPU idle, and every trickling
    connection is closed by the daemon HEADER_SECONDS after it opened, at the latest."""
    watch = tmp_path / "fleet"
    watch.mkdir()
    for name in ("communication_failed", "out_of_compliance", "eval_mode"):
        shutil.copy(SHOW_FIXTURES / f"{name}.txt", watch / f"{name}.txt")
    daemon = LimitedDaemon(256, "--watch", str(watch))
    head = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    selector = selectors.DefaultSelector()
    tricklers: dict[socket.socket, dict] = {}
    try:
        daemon.wait_ready()
        pid = daemon.process.pid
        threads_before, most_threads = threads(pid), threads(pid)
        cpu_before = cpu_seconds(pid)
        started = time.monotonic()
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
            sock.setblocking(False)
            now = time.monotonic()
            tricklers[sock] = {"opened": now, "sent": 0, "next": now, "closed": None}
            selector.register(sock, selectors.EVENT_READ)
        latencies: list[float] = []
        next_scrape = started + 1.0
        give_up = started + http_server.HEADER_SECONDS + 6
        while time.monotonic() < give_up:
            live = [sock for sock, state in tricklers.items() if state["closed"] is None]
            if not live:
                break
            now = time.monotonic()
            for sock in live:
                state = tricklers[sock]
                if now >= state["next"]:
                    try:
                        sock.send(head[state["sent"]:state["sent"] + 1])
                        state["sent"] += 1
                    except OSError:
                        state["closed"] = now
                    state["next"] = now + random.uniform(1.0, 2.0)
            for key, _ in selector.select(0.05):
                state = tricklers[key.fileobj]
                try:
                    ended = key.fileobj.recv(4096) == b""
                except BlockingIOError:
                    ended = False
                except OSError:
                    ended = True
                if ended and state["closed"] is None:
                    state["closed"] = time.monotonic()
                    selector.unregister(key.fileobj)
            most_threads = max(most_threads, threads(pid))
            if time.monotonic() >= next_scrape:
                status, seconds = timed_scrape(daemon.port)
                assert status == 200
                latencies.append(seconds)
                next_scrape = time.monotonic() + 1.5
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(pid) - cpu_before
        held = [state["closed"] - state["opened"] for state in tricklers.values() if state["closed"] is not None]
        print(f"\nslowloris: {len(tricklers)} trickling connections, {len(held)} closed by the daemon "
              f"(longest held {max(held, default=0):.2f} s, {sum(h > 5 for h in held)} held to the deadline); threads "
              f"{threads_before} before, at most {most_threads}; CPU {cpu:.2f} s over {elapsed:.1f} s; "
              f"{len(latencies)} scrapes, slowest {max(latencies, default=0) * 1000:.1f} ms, "
              f"median {sorted(latencies or [0])[len(latencies) // 2] * 1000:.1f} ms")
        assert len(held) == len(tricklers), "trickling connections left open past the deadline"
        assert max(held) <= http_server.HEADER_SECONDS + 2.5
        assert len(latencies) >= 4 and max(latencies) < 1.0
        assert most_threads <= threads_before + http_server.WORKERS
        assert cpu < 0.15 * elapsed
        assert timed_scrape(daemon.port)[0] == 200
    finally:
        for sock in tricklers:
            sock.close()
        selector.close()
        code, err = daemon.stop()
    assert code == 0 and "Traceback" not in err


_CHILD = """
import gzip, os, resource, sys, threading
from lic_exporter.daemon.http import MetricsServer
from lic_exporter.daemon.webconfig import WebConfig

class Page:
    text = b"up 1\\n"
    gzipped = gzip.compress(text)

class Source:
    def page(self):
        return Page
    def is_ready(self):
        return True

resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
server = MetricsServer(("127.0.0.1", 0), Source(), WebConfig(), max_connections=10_000)  # no cap before EMFILE
threading.Thread(target=server.serve_forever, daemon=True).start()
print(server.server_address[1], flush=True)
hog = []
for line in sys.stdin:
    if line.strip() == "hog":  # every descriptor left
        try:
            while True:
                hog.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
    else:
        while hog:
            os.close(hog.pop())
    print("done", flush=True)
"""


def request(port: int, path: str = "/metrics", timeout: float = 3.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_out_of_descriptors_sacrifices_dawdlers_and_never_spins() -> None:
    child = subprocess.Popen([sys.executable, "-c", _CHILD], cwd=PROJECT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def say(command: str) -> None:
        child.stdin.write(command + "\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"

    dawdlers: list[socket.socket] = []
    waiting: list[socket.socket] = []
    try:
        port = int(child.stdout.readline())
        for _ in range(3):
            dawdlers.append(socket.create_connection(("127.0.0.1", port), timeout=3))
            dawdlers[-1].sendall(b"GET /metrics HTTP/1.1\r\n")
        time.sleep(0.3)
        say("hog")  # accept() now fails with EMFILE: a dawdler is closed to make room
        for _ in range(5):
            assert request(port).startswith(b"HTTP/1.1 200")
        dawdlers[0].settimeout(2)
        assert dawdlers[0].recv(100) == b""  # the oldest dawdler went first
        for sock in dawdlers:
            sock.close()
        time.sleep(0.3)
        say("hog")  # nothing left to close: accepting pauses instead of spinning
        for _ in range(10):
            waiting.append(socket.create_connection(("127.0.0.1", port), timeout=3))
            waiting[-1].sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        before = cpu_seconds(child.pid)
        time.sleep(2.0)
        spent = cpu_seconds(child.pid) - before
        print(f"\nout of descriptors: {spent:.2f} s CPU over 2 s with 10 connections waiting in the backlog")
        assert spent < 0.5
        say("free")
        for sock in waiting:
            sock.settimeout(3)
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        for sock in dawdlers + waiting:
            sock.close()
        child.kill()
        _, err = child.communicate(timeout=10)
    assert "Traceback" not in err and "out of file descriptors" in err


class _Page:
    def __init__(self, text: bytes):
        self.text = text
        self.gzipped = gzip.compress(text, compresslevel=1)


class _Source:
    """A page source (daemon.endpoints.PageSource) that is ready at once with one page."""

    def __init__(self, text: bytes = b"up 1\n"):
        self._page = _Page(text)

    def page(self) -> _Page:
        return self._page

    def is_ready(self) -> bool:
        return True


@contextmanager
def serving(text: bytes = b"up 1\n", web: WebConfig | None = None, **limits) -> Iterator[MetricsServer]:
    """The real server in this process, with limits small enough for a quick test."""
    server = MetricsServer(("127.0.0.1", 0), _Source(text), web or WebConfig(), **limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_after(sock: socket.socket, started: float, trickle: bytes = b"", every: float = 0.25,
                 limit: float = 5.0) -> float:
    """Send `trickle` a byte at a time until the server closes the connection; seconds from
    `started` until it did."""
    sock.setblocking(False)
    position = 0
    while time.monotonic() - started < limit:
        if position < len(trickle):
            try:
                sock.send(trickle[position:position + 1])
                position += 1
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except OSError:
                return time.monotonic() - started
        ready = selectors.DefaultSelector()
        ready.register(sock, selectors.EVENT_READ)
        events = ready.select(every)
        ready.close()
        if events:
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - started
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except OSError:
                return time.monotonic() - started
    raise AssertionError(f"still open after {limit} s")


def test_the_head_deadline_is_total_not_per_read() -> None:
    """A byte every 0.25 s would satisfy any timeout per read; the connection still goes after
    header_seconds in total, and so does a silent one, and an idle kept-alive one."""
    with serving(header_seconds=1.0) as server:
        port = server.server_address[1]
        trickling = socket.create_connection(("127.0.0.1", port))
        silent = socket.create_connection(("127.0.0.1", port))
        started = time.monotonic()
        assert 0.9 <= closed_after(trickling, started, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 100) < 1.8
        assert closed_after(silent, started) < 1.8
        assert request(port).startswith(b"HTTP/1.1 200")
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        kept.request("GET", "/metrics")
        assert kept.getresponse().read() == b"up 1\n"
        answered = time.monotonic()
        assert 0.9 <= closed_after(kept.sock, answered) < 1.8
        for sock in (trickling, silent, kept.sock):
            sock.close()


def test_keep_alive_pipelining_head_and_malformed_requests() -> None:
    with serving(header_seconds=2.0) as server:
        port = server.server_address[1]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        connection.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        first = connection.getresponse()
        assert first.getheader("Content-Encoding") == "gzip" and gzip.decompress(first.read()) == b"up 1\n"
        sock = connection.sock
        connection.request("HEAD", "/metrics")
        head = connection.getresponse()
        assert head.status == 200 and head.getheader("Content-Length") == "5" and head.read() == b""
        connection.request("GET", "/-/healthy")
        assert connection.getresponse().read() == b"Healthy\n" and connection.sock is sock  # one connection
        connection.close()
        with socket.create_connection(("127.0.0.1", port), timeout=3) as pipelined:
            pipelined.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /-/ready HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
            answer = b""
            while chunk := pipelined.recv(65536):
                answer += chunk
        assert answer.count(b"HTTP/1.1 200 OK") == 2 and answer.endswith(b"Ready\n")
        assert request(port, "/" + "a" * 20_000).startswith(b"HTTP/1.1 431")
        with socket.create_connection(("127.0.0.1", port), timeout=3) as junk:
            junk.sendall(b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n")
            assert junk.recv(100).startswith(b"HTTP/1.1 400")
        with socket.create_connection(("127.0.0.1", port), timeout=3) as post:
            post.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            assert post.recv(100).startswith(b"HTTP/1.1 501")
        assert request(port).startswith(b"HTTP/1.1 200")


def test_busy_workers_answer_503_at_once_and_stalled_readers_are_cut_off() -> None:
    """Two workers, both stuck sending a 32 MB page to clients that do not read: a third
    request is refused at once (not queued), and the stuck workers are free again after
    write_seconds."""
    page = b"x" * (32 << 20)
    with serving(page, workers=2, write_seconds=1.5) as server:
        port = server.server_address[1]
        stalled = []
        for _ in range(2):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            stalled.append(sock)
        started = time.monotonic()
        time.sleep(0.3)
        refused = request(port, "/-/healthy")
        assert refused.startswith(b"HTTP/1.1 503") and time.monotonic() - started < 1.0
        time.sleep(max(0.0, started + 2.0 - time.monotonic()))
        assert request(port, "/-/healthy").startswith(b"HTTP/1.1 200")
        for sock in stalled:
            sock.close()
