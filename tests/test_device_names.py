"""Device names from the names people give files (Ansible, cron and Oxidized trees), from
--device-pattern, and the newest capture winning where several files give a device one command;
`parse` and the daemon agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lic_exporter.parsing.files import Parser
from tests.support.captures import classic_status
from tests.support.daemon import Daemon, wait_for

NOW = "2026-12-02T12:00:00+00:00"


def status(authorization: str = "AUTHORIZED", captured: datetime | None = None, prompt: str | None = None) -> str:
    """A `show license status` of my own, authorized twelve days before NOW; `captured`: printed
    in an exec header (as `terminal exec prompt timestamp` does); `prompt`: the session's
    prompt line before it."""
    header = f"Time source is NTP, {captured:%H:%M:%S}.000 UTC {captured:%a %b %d %Y}\n" if captured else ""
    return classic_status(datetime.fromisoformat(NOW), prompt=prompt, header=header, authorization=authorization,
                          authorized_days=-12)


def write(path: Path, text: str, mtime: datetime | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def parse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lic_exporter", "parse", "--now", NOW, *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def records(*args: str, cwd: Path) -> list[dict]:
    out = parse("--format", "json", *args, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["records"]


def table(*args: str, cwd: Path) -> dict[str, list[str]]:
    """DEVICE -> its row's words."""
    out = parse(*args, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(text)
            for s in f.samples}


def device_samples(text: str) -> dict[tuple[str, frozenset], float]:
    """The cisco_smartlic_* samples of an exposition page."""
    return {key: value for key, value in samples(text).items() if key[0].startswith("cisco_smartlic_")}


def value(page: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float | None:
    return page.get((name, frozenset(labels.items())))


# --- the rules, name by name ---------------------------------------------------------------------

@pytest.mark.parametrize(("path", "device", "command"), [
    ("backups/dc1/sw-a_show_license_status.txt", "sw-a", "show license status"),
    ("cron/sw-a-show-license-all-2026-12-01.log", "sw-a", "show license all"),
    ("out/NX-DC1-Leaf01.example.net_show_license_usage.txt", "nx-dc1-leaf01", "show license usage"),
    ("out/10.20.1.12_show_license_status.txt", "10.20.1.12", "show license status"),
    ("out/SW-E_sh_lic_st.txt", "sw-e", "show license status"),
    ("out/sw-f_show_running-config_callhome.txt", "sw-f", "show running-config callhome"),
    ("out/fresh-sw_show_callhome_2026-12-01.txt", "fresh-sw", "show callhome"),
    ("sw-b/show_license_status.txt", "sw-b", "show license status"),  # named after the command: its folder
    ("sw-b/show-license-all-2026-12-01.log", "sw-b", "show license all"),
    ("oxidized/dc1/leaf01.example.net", "leaf01", None),  # otherwise: the name up to its first dot
    ("oxidized/dc1/10.20.1.11", "10.20.1.11", None),
    ("notes/showcase_2026.txt", "showcase_2026", None),  # `show` must be a word of its own
])
def test_the_file_name_rules(parser: Parser, path: str, device: str, command: str | None) -> None:
    found, rows = parser.names.name(Path(path))
    assert found == device
    assert {row.command for row in rows} == ({command} if command else set())


def test_a_device_pattern_reads_the_path_below_the_folder_given() -> None:
    names = Parser(device_pattern=__import__("re").compile(r"^(?P<device>[^/]+)/")).names
    root = Path("/srv/backups")
    assert names.name(root / "SW-G.example.net/2026-12-01/show_license_status.txt", root)[0] == "sw-g"
    # A path it does not match falls back to the file-name rules.
    assert names.name(root / "sw-h_show_license_status.txt", root)[0] == "sw-h"
    # A file named by itself: its path as given.
    assert names.name(Path("sw-i/show_license_usage.txt"))[0] == "sw-i"


# --- trees as collection jobs lay them down -------------------------------------------------------

def test_an_ansible_tree_names_each_device_by_its_file(tmp_path: Path) -> None:
    """host_vars-like folders per site, files named DEVICE_COMMAND: the device is in the name, not
    the folder."""
    write(tmp_path / "outputs/dc1/n9k-leaf-01_show_license_status.txt", status())
    write(tmp_path / "outputs/dc1/N9K-LEAF-02.dc1.example.net_show_license_status.txt",
          status("OUT OF COMPLIANCE"))
    write(tmp_path / "outputs/dc2/10.20.2.7_show_license_status.txt", status())
    rows = table("outputs", cwd=tmp_path)
    assert sorted(rows) == ["10.20.2.7", "n9k-leaf-01", "n9k-leaf-02"]
    assert rows["n9k-leaf-02"][3] == "out_of_compliance"


def test_a_cron_tree_is_one_device_and_the_newest_capture_wins(tmp_path: Path) -> None:
    """Date-stamped copies of one command: one device, not one a day. The newest is told by the
    time printed in it, else by mtime; the older copies count nowhere."""
    cron = tmp_path / "cron"
    # Printed times: the 2nd (printed newest) wins though its mtime is the oldest.
    write(cron / "sw-a_show_license_status_2026-12-01.txt", status("OUT OF COMPLIANCE", datetime(2026, 12, 1, 6,
                                                                                             tzinfo=UTC)),
          mtime=datetime(2026, 12, 3, tzinfo=UTC))
    write(cron / "sw-a_show_license_status_2026-12-02.txt", status("AUTHORIZED", datetime(2026, 12, 2, 6,
                                                                                      tzinfo=UTC)),
          mtime=datetime(2026, 11, 1, tzinfo=UTC))
    # No printed time: mtime decides.
    write(cron / "sw-b-show-license-status-2026-11-30.log", status("AUTHORIZED"), mtime=datetime(2026, 11, 30,
                                                                                                 tzinfo=UTC))
    write(cron / "sw-b-show-license-status-2026-12-01.log", status("OUT OF COMPLIANCE"),
          mtime=datetime(2026, 12, 1, tzinfo=UTC))
    rows = table("cron", cwd=tmp_path)
    assert sorted(rows) == ["sw-a", "sw-b"]
    assert rows["sw-a"][3] == "authorized" and rows["sw-b"][3] == "out_of_compliance"
    page = samples(parse("--format", "prometheus", "cron", cwd=tmp_path).stdout)
    # Only the newest copy's capture counts, and only its state.
    assert value(page, "cisco_smartlic_source_timestamp_seconds", device="sw-a", command="show license status") \
        == datetime(2026, 12, 2, 6, tzinfo=UTC).timestamp()
    assert [labels for (name, labels), one in page.items() if name == "cisco_smartlic_authorization_state"
            and ("device", "sw-a") in labels and one == 1] == [frozenset({("device", "sw-a"), ("state", "authorized")})]
    # JSON lists what every file says, each with its source and capture time.
    assert sorted(r["source"].rsplit("_", 1)[1] for r in records("cron", cwd=tmp_path) if r["device"] == "sw-a") \
        == ["2026-12-01.txt", "2026-12-02.txt"]


def test_an_oxidized_tree_names_devices_by_file(tmp_path: Path) -> None:
    """<group>/<device> files without extension (the prompt-less outputs Oxidized keeps): the
    short host name of the file name, whatever the group; the documented pattern says the same."""
    write(tmp_path / "oxidized/dc1/N9K-LEAF-01.dc1.example.net", status(), mtime=datetime(2026, 12, 1, tzinfo=UTC))
    write(tmp_path / "oxidized/dc2/n9k-leaf-02", status("OUT OF COMPLIANCE"))
    write(tmp_path / "oxidized/dc2/10.20.2.9", status())
    # The same short name in two groups is one device: its newest capture wins.
    write(tmp_path / "oxidized/lab/n9k-leaf-01.lab.example.net", status("OUT OF COMPLIANCE"),
          mtime=datetime(2026, 12, 2, tzinfo=UTC))
    for pattern in ([], ["--device-pattern", r"^[^/]+/(?P<device>[^/]+)$"]):
        rows = table(*pattern, "oxidized", cwd=tmp_path)
        assert sorted(rows) == ["10.20.2.9", "n9k-leaf-01", "n9k-leaf-02"], pattern
        assert rows["n9k-leaf-01"][3] == "out_of_compliance"


def test_a_per_date_folder_tree_needs_a_pattern(tmp_path: Path) -> None:
    """`DEVICE/DATE/show_license_status.txt`: the folder rule would name the date; a pattern names
    the device, and the newest date wins."""
    write(tmp_path / "backups/sw-a/2026-12-01/show_license_status.txt", status("OUT OF COMPLIANCE"),
          mtime=datetime(2026, 12, 1, tzinfo=UTC))
    write(tmp_path / "backups/sw-a/2026-12-02/show_license_status.txt", status("AUTHORIZED"),
          mtime=datetime(2026, 12, 2, tzinfo=UTC))
    assert sorted(table("backups", cwd=tmp_path)) == ["2026-12-01", "2026-12-02"]
    rows = table("--device-pattern", r"^(?P<device>[^/]+)/", "backups", cwd=tmp_path)
    assert sorted(rows) == ["sw-a"] and rows["sw-a"][3] == "authorized"


def test_a_prompt_wins_over_the_file_name_and_the_pattern(tmp_path: Path) -> None:
    write(tmp_path / "out/sw-a_show_license_status.txt", status(prompt="N9K-REAL-01.example.net"))
    assert sorted(table("out", cwd=tmp_path)) == ["n9k-real-01"]
    assert sorted(table("--device-pattern", r"(?P<device>sw-a)", "out", cwd=tmp_path)) == ["n9k-real-01"]


@pytest.mark.parametrize("command", ["parse", "diagnose", "serve"])
@pytest.mark.parametrize("pattern", ["(unclosed", r"^(?P<host>[^/]+)/"])
def test_a_bad_device_pattern_is_a_usage_error(tmp_path: Path, command: str, pattern: str) -> None:
    where = ["--watch", str(tmp_path)] if command == "serve" else [str(tmp_path)]
    out = subprocess.run([sys.executable, "-m", "lic_exporter", command, "--device-pattern", pattern, *where],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--device-pattern" in out.stderr


# --- parse and the daemon agree ---------------------------------------------------------------------

def test_the_daemon_names_and_chooses_as_parse_does(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write(tree / "cron/sw-a_show_license_status_2026-12-01.txt", status("OUT OF COMPLIANCE",
                                                                        datetime(2026, 12, 1, 6, tzinfo=UTC)))
    write(tree / "cron/sw-a_show_license_status_2026-12-02.txt", status("AUTHORIZED",
                                                                        datetime(2026, 12, 2, 6, tzinfo=UTC)))
    write(tree / "dated/sw-b/2026-12-01/show_license_status.txt", status("AUTHORIZED"),
          mtime=datetime(2026, 12, 1, tzinfo=UTC))
    write(tree / "dated/sw-b/2026-12-02/show_license_status.txt", status("OUT OF COMPLIANCE"),
          mtime=datetime(2026, 12, 2, tzinfo=UTC))
    pattern = r"^dated/(?P<device>[^/]+)/"
    expected = device_samples(parse("--format", "prometheus", "--device-pattern", pattern, "tree",
                                    cwd=tmp_path).stdout)
    assert {dict(labels).get("device") for _, labels in expected} == {"sw-a", "sw-b"}
    daemon = Daemon("--watch", "tree", "--device-pattern", pattern, "--now", NOW, cwd=tmp_path)
    try:
        daemon.wait_ready()
        assert device_samples(daemon.get("/metrics")[1].decode()) == expected
        # A newer copy arriving while it runs takes over; the older ones still count nowhere.
        write(tree / "cron/sw-a_show_license_status_2026-12-03.txt", status("OUT OF COMPLIANCE",
                                                                            datetime(2026, 12, 3, 6, tzinfo=UTC)))
        wait_for(lambda: value(device_samples(daemon.get("/metrics")[1].decode()), "cisco_smartlic_authorization_state",
                               device="sw-a", state="out_of_compliance") == 1, timeout=30)
        served = device_samples(daemon.get("/metrics")[1].decode())
        assert served == device_samples(parse("--format", "prometheus", "--device-pattern", pattern, "tree",
                                              cwd=tmp_path).stdout)
    finally:
        daemon.stop()
