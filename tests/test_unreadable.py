"""Nothing unread passes as healthy: folders and files that exist but cannot be read, met by the
real commands run as a user the permissions apply to.

Root reads a mode-000 file, so as root the commands run without that privilege
(tests/support/unprivileged.py says how).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lic_exporter.exposition.landing import MAX_UNREADABLE, StatusHeader, status_page
from tests.support.daemon import wait_for
from tests.support.paths import PROJECT, SHOW_FIXTURES
from tests.support.unprivileged import Unprivileged, find_unprivileged, scratch_folder

STATUS = (SHOW_FIXTURES / "communication_failed.txt").read_text().split("\n", 1)[1]  # without its prompt line
OOC = (SHOW_FIXTURES / "out_of_compliance.txt").read_text()
SYSLOG_LINE = ("Nov 27 05:00:07 logs01 local7.err: SW-C: 2026 Nov 27 05:00:07.118 UTC: "
               "%LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the Cisco Smart Software "
               "Manager (CSSM) : Unable to resolve server hostname/domain name\n")
DENIED = "cannot read: permission denied"
HEALTHY, HEALTHY_AT = PROJECT / "examples/fleet/n9k-leaf-01/show_license_status.txt", "2026-12-02T12:00:00+00:00"


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with scratch_folder() as folder:
        yield folder


@pytest.fixture(scope="module")
def unprivileged(scratch: Path) -> Unprivileged:
    return find_unprivileged(scratch)


@pytest.fixture
def tree(scratch: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """fleet/sw-a (readable) and fleet/sw-b (mode 000, holding an output), all else readable."""
    root = scratch / request.node.name
    fleet = root / "fleet"
    (fleet / "sw-a").mkdir(parents=True)
    (fleet / "sw-a" / "show_license_status.txt").write_text(STATUS)
    (fleet / "sw-b").mkdir()
    (fleet / "sw-b" / "show_license_status.txt").write_text(OOC.split("\n", 1)[1])
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (fleet / "sw-b").chmod(0)
    yield root
    (fleet / "sw-b").chmod(0o755)


# --- parse and diagnose ----------------------------------------------------------------------

def test_an_unreadable_folder_fails_parse_with_one_message(unprivileged: Unprivileged, tree: Path) -> None:
    out = unprivileged.run("parse", "--now", "2026-04-01T00:00:00+00:00", "fleet", cwd=tree)
    assert out.returncode == 1, (unprivileged.who, out.stderr)
    assert out.stderr.splitlines() == [f"fleet/sw-b: {DENIED}"]  # once, not logged as well
    assert [line.split()[0] for line in out.stdout.splitlines()[1:]] == ["sw-a"]  # the rest is still printed


def test_json_and_textfile_output_carry_the_unreadable_folder(unprivileged: Unprivileged, tree: Path) -> None:
    document = json.loads(unprivileged.run("parse", "--format", "json", "fleet", cwd=tree).stdout)
    assert document["errors"] == [{"path": "fleet/sw-b", "line": None, "message": DENIED}]
    out = unprivileged.run("parse", "--format", "prometheus", "fleet", cwd=tree)
    samples = {(s.name, tuple(s.labels.items())): s.value
               for family in text_string_to_metric_families(out.stdout) for s in family.samples}
    assert out.returncode == 1 and samples[("lic_exporter_files", (("state", "error"),))] == 1


def test_an_unreadable_folder_fails_diagnose_and_is_not_healthy(unprivileged: Unprivileged, tree: Path) -> None:
    """sw-a has nothing wrong: only the folder that could not be read is."""
    (tree / "fleet" / "sw-a" / "show_license_status.txt").write_text(HEALTHY.read_text())
    out = unprivileged.run("diagnose", "--now", HEALTHY_AT, "fleet", cwd=tree)
    assert out.returncode == 1, out.stdout
    assert out.stderr.count(DENIED) == 1 and f"fleet/sw-b: {DENIED}" in out.stderr
    assert out.stdout.splitlines() == ["no findings in what could be read (1 device(s))", "",
                                       "1 input problem(s), listed on stderr: findings may be missing"]


def test_an_unreadable_file_named_itself(unprivileged: Unprivileged, tree: Path) -> None:
    locked = tree / "fleet" / "sw-a" / "show_license_status.txt"
    locked.chmod(0)
    for command in ("parse", "diagnose"):
        out = unprivileged.run(command, str(locked), cwd=tree)
        assert out.returncode == 1 and out.stderr.count(DENIED) == 1, (command, out.stderr)
        assert f"{locked}: {DENIED}" in out.stderr


def test_a_file_below_a_folder_that_cannot_be_searched_is_unreadable_not_missing(
        unprivileged: Unprivileged, tree: Path) -> None:
    """sw-b/show_license_status.txt cannot even be looked at: it may exist, so it is an input
    error (exit 1), not a usage error (a PATH that is not there, exit 2)."""
    out = unprivileged.run("parse", "fleet/sw-b/show_license_status.txt", cwd=tree)
    assert out.returncode == 1 and out.stderr.strip() == f"fleet/sw-b/show_license_status.txt: {DENIED}"


def test_diagnose_over_no_device_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("nothing about licensing\n")
    for args in (["empty"], ["empty", "notes.txt"]):
        out = subprocess.run([sys.executable, "-m", "lic_exporter", "diagnose", *args], capture_output=True,
                             text=True, cwd=tmp_path, timeout=60)
        assert out.returncode == 1
        assert "healthy" not in out.stdout
        assert f"no device found in {', '.join(args)}: nothing to judge" in out.stdout + out.stderr
    out = subprocess.run([sys.executable, "-m", "lic_exporter", "diagnose", "--format", "json", "empty"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 1 and json.loads(out.stdout)["findings"] == []
    assert "no device found in empty: nothing to judge" in out.stderr


# --- the daemon ----------------------------------------------------------------------------------

class Served:
    """`serve` run unprivileged on loopback."""

    def __init__(self, unprivileged: Unprivileged, cwd: Path, *args: str):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            unprivileged.command("serve", "--web.listen-address", f"127.0.0.1:{self.port}", *args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=unprivileged.env, cwd=cwd)
        wait_for(self._ready, timeout=60)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited {self.process.returncode}: {self.process.stderr.read()}")
        try:
            return self.get("/-/ready")[0] == 200
        except OSError:
            return False

    def sample(self, name: str, **labels: str) -> list[float]:
        _, text = self.get("/metrics")
        return [s.value for family in text_string_to_metric_families(text) for s in family.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def stop(self) -> str:
        self.process.terminate()
        _, err = self.process.communicate(timeout=30)
        return err


def test_the_daemon_counts_an_unreadable_folder_until_it_is_readable(unprivileged: Unprivileged,
                                                                   tree: Path) -> None:
    served = Served(unprivileged, tree, "--watch", "fleet")
    try:
        assert served.sample("lic_exporter_unreadable_paths") == [1]
        assert served.sample("cisco_smartlic_info", device="sw-a") and not served.sample("cisco_smartlic_info",
                                                                                          device="sw-b")
        _, page = served.get("/")
        assert "Could not be read (1)" in page and f"/fleet/sw-b: {DENIED}" in page
        (tree / "fleet" / "sw-b").chmod(0o755)  # as root: the daemon sees the change of mode
        wait_for(lambda: served.sample("lic_exporter_unreadable_paths") == [0], timeout=30)
        wait_for(lambda: bool(served.sample("cisco_smartlic_info", device="sw-b")), timeout=30)
        assert "Could not be read" not in served.get("/")[1]
        # Readable again, the folder is watched again: a file written there now is read.
        (tree / "fleet" / "sw-b" / "sw-d_show_license_status.txt").write_text(STATUS)
        wait_for(lambda: bool(served.sample("cisco_smartlic_info", device="sw-d")), timeout=30)
        (tree / "fleet" / "sw-a").chmod(0)  # and the other way round, as it happens
        wait_for(lambda: served.sample("lic_exporter_unreadable_paths") == [1], timeout=30)
        wait_for(lambda: not served.sample("cisco_smartlic_info", device="sw-a"), timeout=30)
    finally:
        (tree / "fleet" / "sw-a").chmod(0o755)
        err = served.stop()
    assert f"fleet/sw-b: {DENIED}" in err and "Traceback" not in err


def test_a_watched_folder_unreadable_from_the_start(unprivileged: Unprivileged, tree: Path) -> None:
    """The --watch folder itself: no event can tell when it becomes readable (it has no watch),
    so the daemon looks at it again with every refresh."""
    (tree / "fleet").chmod(0)
    served = Served(unprivileged, tree, "--watch", "fleet")
    try:
        assert served.sample("lic_exporter_unreadable_paths") == [1]
        (tree / "fleet").chmod(0o755)  # sw-b stays unreadable: it is found once fleet is listed
        wait_for(lambda: bool(served.sample("cisco_smartlic_info", device="sw-a")), timeout=30)
        assert served.sample("lic_exporter_unreadable_paths") == [1]
        assert f"/fleet/sw-b: {DENIED}" in served.get("/")[1]
        (tree / "fleet" / "sw-a" / "sw-e_show_license_status.txt").write_text(STATUS)
        wait_for(lambda: bool(served.sample("cisco_smartlic_info", device="sw-e")), timeout=30)
    finally:
        (tree / "fleet").chmod(0o755)
        served.stop()


def test_the_daemon_counts_unreadable_files_and_syslog_files(unprivileged: Unprivileged, tree: Path) -> None:
    (tree / "fleet" / "sw-b").chmod(0o755)
    locked = tree / "fleet" / "sw-a" / "show_license_status.txt"
    locked.chmod(0)
    logs = tree / "logs"
    logs.mkdir(mode=0o755)
    (logs / "sw-c.log").write_text(SYSLOG_LINE)
    (logs / "sw-c.log").chmod(0)
    served = Served(unprivileged, tree, "--watch", "fleet", "--syslog", "logs/*.log")
    try:
        wait_for(lambda: served.sample("lic_exporter_unreadable_paths") == [2], timeout=30)
        _, page = served.get("/")
        assert f"fleet/sw-a/show_license_status.txt: {DENIED}" in page and f"logs/sw-c.log: {DENIED}" in page
        locked.chmod(0o644)
        (logs / "sw-c.log").chmod(0o644)
        wait_for(lambda: served.sample("lic_exporter_unreadable_paths") == [0], timeout=30)
        wait_for(lambda: served.sample("cisco_smartlic_callhome_failures_total", device="sw-c") == [1], timeout=30)
        assert served.sample("cisco_smartlic_info", device="sw-a")
    finally:
        locked.chmod(0o644)
        (logs / "sw-c.log").chmod(0o644)
        served.stop()


def test_the_status_page_lists_the_first_unreadable_paths_and_counts_the_rest() -> None:
    when = datetime(2026, 12, 2, 12, tzinfo=UTC)
    listed = tuple(f"/srv/fleet/sw-{n:02}: {DENIED}" for n in range(MAX_UNREADABLE))
    header = StatusHeader(version="9.9.9", revision="abc", python="3.11", started=when, rendered=when,
                          unreadable=listed, unreadable_count=MAX_UNREADABLE + 5)
    page = status_page([], [], header, when).decode()
    assert f"Could not be read ({MAX_UNREADABLE + 5})" in page
    assert all(line in page for line in listed) and "5 more" in page
    quiet = status_page([], [], StatusHeader(version="9.9.9", revision="abc", python="3.11", started=when,
                                             rendered=when), when).decode()
    assert "Could not be read" not in quiet
