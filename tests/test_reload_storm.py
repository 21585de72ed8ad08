"""Reloads that keep the limits: a storm of SIGHUPs is coalesced into one reload of the latest
file (a bounded number of threads and memory however many signals come); sessions running or
queued when a reload adds targets count against the limits (counted at the test switches);
SIGTERM ends the daemon promptly whatever it is doing; a collect folder deleted while the
daemon runs is created again and the next collection succeeds.

The daemon runs as a real process; its stderr goes to a file (a storm logs more than a pipe
holds). Assertions count things (threads, sessions, logins, reloads); where a bound is a time
(SIGTERM) it is a generous liveness bound, not a benchmark (bench/reload_bench.py measures)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import free_port, series, wait_for
from tests.support.paths import SHOW_FIXTURES
from tests.support.switches import Switch, SwitchFarm
from tests.test_logs import parse_logfmt

PASSWORD = "Storm-Test-Pw-5521"
PASSWORD_VARIABLE = "LIC_STORM_TEST_PASSWORD"
STOP_BOUND = 10.0  # seconds: SIGTERM must end the daemon well within this (it takes about one)


class ServeProcess:
    """`lic-exporter serve` in a child process, its stderr in a file."""

    def __init__(self, folder: Path, *args: str, level: str = "info", checkout: Path | None = None):
        """`checkout`: run the package of that source tree (another revision's, for a
        benchmark's baseline) instead of the one installed here."""
        self.port = free_port()
        self.log_path = folder / f"serve-{self.port}.log"
        self._log = self.log_path.open("w")
        env = {**os.environ, PASSWORD_VARIABLE: PASSWORD}
        self.process = subprocess.Popen(  # `-m` looks in the working folder first
            [sys.executable, "-m", "lic_exporter", "serve", "--web.listen-address", f"127.0.0.1:{self.port}",
             "--log.level", level, *args], stdout=subprocess.DEVNULL, stderr=self._log, env=env, cwd=checkout)

    @property
    def pid(self) -> int:
        return self.process.pid

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def ready(self) -> bool:
        assert self.process.poll() is None, f"the daemon exited: {self.log()}"
        try:
            return self.get("/-/ready")[0] == 200
        except OSError:
            return False

    def samples(self) -> dict[tuple[str, tuple], float]:
        from prometheus_client.parser import text_string_to_metric_families

        status, body = self.get("/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(body.decode()) for s in family.samples}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def records(self) -> list[dict[str, str]]:
        return [parse_logfmt(line) for line in self.log().splitlines() if line.startswith("ts=")]

    def proc_status(self, field: str) -> int:
        """A number from /proc/PID/status (Threads, VmRSS in kB, ...)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def stop(self, sig: int = signal.SIGTERM, bound: float = STOP_BOUND) -> int:
        """Send `sig`; the exit code, which must come within `bound` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            tail = "\n".join(self.log().splitlines()[-15:])
            raise AssertionError(f"not stopped within {bound} s of the signal; its log ends:\n{tail}") from None
        finally:
            self._log.close()


class SessionCounter:
    """Sessions at the test switches: how many at once, and when each began (the farm's loop
    thread writes it; read once the sessions are over)."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.begun: list[float] = []

    def most_in_one_second(self) -> int:
        begun = sorted(self.begun)
        return max((sum(1 for later in begun[index:] if later < start + 1.0) for index, start in enumerate(begun)),
                   default=0)


class CountingSwitch(Switch):
    """A test switch that tells `counter` when its CLI sessions begin and end (a session begins
    once the login succeeded)."""

    def __init__(self, farm: SwitchFarm, counter: SessionCounter, **config: Any):
        super().__init__(farm, **config)
        self.counter = counter

    async def _shell(self, process: Any) -> None:
        counter = self.counter
        counter.running += 1
        counter.most = max(counter.most, counter.running)
        counter.begun.append(time.monotonic())
        try:
            await super()._shell(process)
        finally:
            counter.running -= 1


def configuration(targets: dict[str, int], **collect: object) -> str:
    """A collection configuration: target name -> port on 127.0.0.1."""
    settings = {"interval": "6h", **collect}
    lines = [f"defaults: {{username: licmon, password_env: {PASSWORD_VARIABLE}, connect_timeout: 10s, "
             "command_timeout: 20s}", "targets:"]
    lines += [f"  {name}: {{host: 127.0.0.1, port: {port}}}" for name, port in targets.items()]
    lines.append("collect: {" + ", ".join(f"{key}: {value}" for key, value in settings.items()) + "}")
    return "\n".join(lines) + "\n"


def replace_file(path: Path, text: str) -> None:
    """Write `path` as an editor or a deployment tool does: a new file renamed over the old."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    temporary.chmod(0o600)
    os.replace(temporary, path)


def reloaded_counts(daemon: ServeProcess) -> list[int]:
    """The target counts of the collection configurations applied, in order."""
    prefix = "collection configuration reloaded: "
    return [int(record["msg"][len(prefix):].split()[0]) for record in daemon.records()
            if record.get("msg", "").startswith(prefix)]


@pytest.fixture
def farm():
    with SwitchFarm() as running:
        yield running


# ---------------------------------------------------------------- a storm of SIGHUPs

STORM_TARGETS = 4000
STORM_SIGNALS = 50


def test_a_sighup_storm_is_coalesced_into_the_last_file(tmp_path: Path) -> None:
    nowhere = free_port()  # nothing listens: each collection is refused at once
    config = tmp_path / "collect.yaml"
    replace_file(config, configuration({f"sw{n:05d}": nowhere for n in range(STORM_TARGETS)}, logins_per_second=1))
    daemon = ServeProcess(tmp_path, "--config.file", str(config), "--collect.dir", str(tmp_path / "out"))
    try:
        wait_for(daemon.ready, timeout=60)
        threads_before, rss_before = daemon.proc_status("Threads"), daemon.proc_status("VmRSS")
        most_threads = threads_before
        for number in range(1, STORM_SIGNALS + 1):
            targets = {f"sw{n:05d}": nowhere for n in range(STORM_TARGETS + number)}
            replace_file(config, configuration(targets, logins_per_second=1))
            daemon.process.send_signal(signal.SIGHUP)
            most_threads = max(most_threads, daemon.proc_status("Threads"))
            time.sleep(0.05)
        final = STORM_TARGETS + STORM_SIGNALS

        def applied() -> bool:
            nonlocal most_threads
            most_threads = max(most_threads, daemon.proc_status("Threads"))
            return final in reloaded_counts(daemon) and daemon.get("/-/ready")[0] == 200

        wait_for(applied, timeout=180)
        wait_for(lambda: len(series(daemon.samples(), "lic_exporter_collect_next_timestamp_seconds")) == final,
                 timeout=30)
        rss_after = daemon.proc_status("VmRSS")
        records = daemon.records()
    finally:
        code = daemon.stop()
    assert code == 0
    counts = reloaded_counts(daemon)
    assert counts[-1] == final  # the last file, whatever came between
    reloads = [record for record in records if record.get("msg", "").startswith("SIGHUP: reloading")]
    # Signals that arrive together are one to the kernel; the others are each a request, and
    # the requests are answered by far fewer reloads, one at a time.
    requests = sum(int(record["requests"]) for record in reloads)
    assert STORM_SIGNALS / 2 < requests <= STORM_SIGNALS
    assert len(reloads) < requests / 2, [(record["ts"], record["requests"]) for record in reloads]
    assert most_threads <= threads_before + 3  # no thread per signal
    assert rss_after < 2 * rss_before + 64 * 1024  # kB: no configuration kept per signal
    assert "Traceback" not in daemon.log()


def test_sigterm_during_a_reload_of_a_large_configuration_is_prompt(tmp_path: Path) -> None:
    nowhere = free_port()
    config = tmp_path / "collect.yaml"
    replace_file(config, configuration({f"sw{n:05d}": nowhere for n in range(STORM_TARGETS)}, logins_per_second=1))
    daemon = ServeProcess(tmp_path, "--config.file", str(config), "--collect.dir", str(tmp_path / "out"))
    wait_for(daemon.ready, timeout=60)
    replace_file(config, configuration({f"sw{n:05d}": nowhere for n in range(3 * STORM_TARGETS)},
                                       logins_per_second=1))
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: reloading" in daemon.log(), timeout=30)
    assert daemon.stop() == 0
    assert "stopping" in daemon.log() and "Traceback" not in daemon.log()


def test_sigterm_during_the_initial_scan_is_prompt(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    text = (SHOW_FIXTURES / "communication_failed.txt").read_text()
    for number in range(3000):
        (fleet / f"sw{number:05d}.txt").write_text(text)
    daemon = ServeProcess(tmp_path, "--watch", str(fleet))
    wait_for(lambda: "listening on" in daemon.log(), timeout=30)
    wait_for(lambda: len(children(daemon.pid)) >= 2, timeout=30)  # the scan's workers are forked
    workers = children(daemon.pid)
    assert daemon.stop() == 0
    # Not left behind: a forked worker whose daemon is gone would wait for a task for ever.
    wait_for(lambda: not [pid for pid in workers if Path(f"/proc/{pid}").exists() and not _zombie(pid)], timeout=10)


def children(pid: int) -> list[int]:
    """The processes `pid` forked (its scan's workers), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found.extend(int(child) for child in task.read_text().split())
    return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


# ---------------------------------------------------------------- the limits across reloads

def test_sighups_adding_targets_keep_concurrency_and_the_login_rate(tmp_path: Path, farm: SwitchFarm) -> None:
    """The round a start begins is running when SIGHUPs add targets: the sessions already
    running and queued count against the same limits as the new ones."""
    counter = SessionCounter()
    switches = [CountingSwitch(farm, counter, password=PASSWORD, reply_delay=0.2).start() for _ in range(18)]
    names = {f"sw{n:02d}": switch.port for n, switch in enumerate(switches)}
    limits = {"concurrency": 3, "logins_per_second": 2}
    config = tmp_path / "collect.yaml"
    replace_file(config, configuration(dict(list(names.items())[:6]), **limits))
    daemon = ServeProcess(tmp_path, "--config.file", str(config), "--collect.dir", str(tmp_path / "out"))
    try:
        wait_for(daemon.ready, timeout=60)
        for count in (10, 14, 18):
            wait_for(lambda: len(counter.begun) >= 1, timeout=30)  # the round has begun
            replace_file(config, configuration(dict(list(names.items())[:count]), **limits))
            daemon.process.send_signal(signal.SIGHUP)
            wait_for(lambda count=count: count in reloaded_counts(daemon), timeout=30)

        def all_collected() -> bool:
            ok = series(daemon.samples(), "lic_exporter_collect_success")
            return len(ok) == 18 and all(value == 1.0 for value in ok)

        wait_for(all_collected, timeout=120)
    finally:
        assert daemon.stop() == 0
    assert len(counter.begun) == 18 and sum(switch.logins for switch in switches) == 18
    assert counter.most <= limits["concurrency"]
    # A login begins 1/2 s after the one before at the collector; at the switch the handshake
    # before it varies by some milliseconds, so a window of one second may hold one more.
    assert counter.most_in_one_second() <= limits["logins_per_second"] + 1


# ---------------------------------------------------------------- the collect folder

def test_a_collect_folder_deleted_while_running_is_recreated(tmp_path: Path, farm: SwitchFarm) -> None:
    switch = farm.add(password=PASSWORD)
    config = tmp_path / "collect.yaml"
    replace_file(config, configuration({"nx-leaf01": switch.port}, logins_per_second=10))
    out = tmp_path / "out"
    daemon = ServeProcess(tmp_path, "--config.file", str(config), "--collect.dir", str(out))
    try:
        wait_for(daemon.ready, timeout=60)
        success = "lic_exporter_collect_last_success_timestamp_seconds"
        wait_for(lambda: bool(series(daemon.samples(), success, device="nx-leaf01")), timeout=60)
        wait_for(lambda: bool(series(daemon.samples(), "cisco_smartlic_info", device="nx-leaf01")), timeout=30)
        [first] = series(daemon.samples(), success, device="nx-leaf01")
        shutil.rmtree(out)
        wait_for(lambda: (out / "nx-leaf01.log").is_file(), timeout=60)  # created again, collected again
        wait_for(lambda: series(daemon.samples(), success, device="nx-leaf01")[0] > first, timeout=30)
        wait_for(lambda: bool(series(daemon.samples(), "cisco_smartlic_info", device="nx-leaf01")), timeout=30)
        assert series(daemon.samples(), "lic_exporter_collect_success", device="nx-leaf01") == [1.0]
    finally:
        assert daemon.stop() == 0
    assert switch.sessions == 2
    assert "was gone: created it again" in daemon.log()


# ---------------------------------------------------------------- SIGTERM while collecting

def test_a_stop_held_up_ends_at_the_deadline_with_exit_0() -> None:
    """The last word on stopping: a process whose stop never finishes (here the main thread
    sleeps on, as a hung session or mount would hold it) exits 0 at the deadline, saying so."""
    program = ("import logging, sys, time\n"
               "from lic_exporter.cli import serve\n"
               "logging.basicConfig(stream=sys.stderr, level=logging.INFO, format='%(message)s')\n"
               "serve._exit_at(time_limit=1.0)\n"
               "time.sleep(60)\n"
               "sys.exit(3)\n")
    begun = time.monotonic()
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - begun < 10
    assert "still stopping 1 s after the signal: exiting without waiting for the rest" in done.stderr


def test_sigterm_during_a_collection_is_prompt(tmp_path: Path, farm: SwitchFarm) -> None:
    switch = farm.add(password=PASSWORD, hang_on="show license status")  # a command that never finishes
    config = tmp_path / "collect.yaml"
    replace_file(config, configuration({"nx-hang01": switch.port}))
    daemon = ServeProcess(tmp_path, "--config.file", str(config), "--collect.dir", str(tmp_path / "out"))
    wait_for(daemon.ready, timeout=60)
    wait_for(lambda: "show license status" in switch.received, timeout=30)
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.log()
