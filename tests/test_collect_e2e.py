"""End to end: `lic-exporter serve --config.file` logs in to test switches (asyncssh's server
API, on 127.0.0.1), saves the transcripts, parses them, and a real Prometheus scraping the
daemon sees the licensing and collection series. Every line the switches received is checked
against the allow-list, and the planted password is looked for everywhere."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lic_exporter.collect.platforms import allowed
from tests.support.daemon import Daemon
from tests.support.prometheus import Prometheus, binary
from tests.support.switches import SwitchFarm, default_outputs, fixture_sections, new_host_key

PASSWORD = "Planted-Pw-7781x"


def _config(path: Path, switches: dict[str, tuple[int, str]], known_hosts: Path | None, extra: str = "") -> None:
    targets = "".join(f"  {name}: {{host: 127.0.0.1, port: {port}, platform: {platform}}}\n"
                      for name, (port, platform) in switches.items())
    path.write_text(f"""defaults:
  username: licmon
  password_env: LIC_TEST_SWITCH_PASSWORD
{f"  known_hosts: {known_hosts}" + chr(10) if known_hosts else ""}  connect_timeout: 10s
  command_timeout: 20s
targets:
{targets}collect:
  interval: 6h
  logins_per_second: 50
{extra}""")
    path.chmod(0o600)


@pytest.fixture
def farm():
    with SwitchFarm() as running:
        yield running


def test_serve_collects_parses_and_exports(tmp_path: Path, farm: SwitchFarm, monkeypatch) -> None:
    binary("prometheus")
    monkeypatch.setenv("LIC_TEST_SWITCH_PASSWORD", PASSWORD)
    status = fixture_sections("out_of_compliance.txt")["show license all"]
    ooc = default_outputs("nxos") | {"show license status": status}
    leaf = farm.add(password=PASSWORD, hostname="switch-7")  # its prompt names another host
    spine = farm.add(password=PASSWORD, outputs=ooc)
    access = farm.add(platform="iosxe", password=PASSWORD)
    wrong = farm.add(password="another-password")
    config = tmp_path / "targets.yml"
    _config(config, {"nx-dc1-leaf01": (leaf.port, "nxos"), "nx-dc1-spine01": (spine.port, "nxos"),
                     "c9300-acc-01": (access.port, "iosxe"), "nx-dc1-leaf09": (wrong.port, "nxos")},
            tmp_path / "known_hosts")
    out = tmp_path / "transcripts"
    daemon = Daemon("--config.file", str(config), "--collect.dir", str(out), "--jobs", "1")
    prometheus = None
    try:
        daemon.wait_ready()
        prometheus = Prometheus(tmp_path, daemon.port)
        ok = prometheus.wait_for('lic_exporter_collect_success == 1', timeout=90)
        assert {r["metric"]["device"] for r in ok} >= {"nx-dc1-leaf01", "nx-dc1-spine01", "c9300-acc-01"}
        state = prometheus.wait_for('cisco_smartlic_authorization_state{device="nx-dc1-spine01"} == 1')
        assert state[0]["metric"]["state"] == "out_of_compliance"
        # The transcript names the target: its series join the collection's, whatever the prompt says.
        assert prometheus.wait_for('cisco_smartlic_registration_state{device="nx-dc1-leaf01"} == 1')
        assert prometheus.wait_for('cisco_smartlic_info{device="c9300-acc-01",mode="policy"}')
        auth = prometheus.wait_for('lic_exporter_collect_failures_total{device="nx-dc1-leaf09",reason="auth"} >= 1')
        assert float(auth[0]["value"][1]) == 1.0
        assert prometheus.wait_for('lic_exporter_collect_success{device="nx-dc1-leaf09"} == 0')
        due = prometheus.wait_for('lic_exporter_collect_next_timestamp_seconds{device="nx-dc1-leaf01"} > time()')
        assert float(due[0]["value"][1]) > 0
        assert prometheus.wait_for('lic_exporter_collect_last_success_timestamp_seconds{device="c9300-acc-01"}')
        assert prometheus.wait_for('lic_exporter_collect_duration_seconds{device="nx-dc1-leaf01"} > 0')
    finally:
        if prometheus is not None:
            prometheus.stop()
        _, log = daemon.stop()
    assert wrong.password_attempts == 1  # one password attempt; then an hour's wait
    assert sorted(p.name for p in out.iterdir()) == ["c9300-acc-01.log", "nx-dc1-leaf01.log", "nx-dc1-spine01.log"]
    for switch, line in farm.received():
        assert allowed(line) or line == "exit", f"{switch.port} received {line!r}"
    _assert_no_password(PASSWORD, [log, *(p.read_text() for p in out.iterdir())])


def test_collect_command_one_run(tmp_path: Path, farm: SwitchFarm, monkeypatch) -> None:
    monkeypatch.setenv("LIC_TEST_SWITCH_PASSWORD", PASSWORD)
    good = farm.add(password=PASSWORD)
    refused = farm.add(password=PASSWORD, session_limit="text")
    config = tmp_path / "targets.yml"
    _config(config, {"nx-a": (good.port, "nxos"), "nx-b": (refused.port, "nxos")}, tmp_path / "known_hosts")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "lic_exporter", "collect", "--config.file", str(config),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert done.returncode == 1, done.stderr
    assert lines["nx-a"].startswith("ok - ") and lines["nx-a"].endswith(str(out / "nx-a.log"))
    assert lines["nx-b"].startswith("failed session_limit ")
    only = subprocess.run([sys.executable, "-m", "lic_exporter", "collect", "--config.file", str(config),
                           "--out", str(out), "--limit", "nx-a"], capture_output=True, text=True, timeout=120)
    assert only.returncode == 0 and [line.split()[0] for line in only.stdout.splitlines()] == ["nx-a"]
    parsed = subprocess.run([sys.executable, "-m", "lic_exporter", "parse", "--format", "json", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert parsed.returncode == 0 and '"device":"nx-a"' in parsed.stdout
    _assert_no_password(PASSWORD, [done.stdout, done.stderr, only.stdout, only.stderr, parsed.stdout])


def test_host_keys_are_recorded_beside_the_transcripts_by_default(tmp_path: Path, farm: SwitchFarm,
                                                                  monkeypatch) -> None:
    monkeypatch.setenv("LIC_TEST_SWITCH_PASSWORD", PASSWORD)
    switch = farm.add(password=PASSWORD)
    config = tmp_path / "targets.yml"
    _config(config, {"nx-a": (switch.port, "nxos")}, None)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "lic_exporter", "collect", "--config.file", str(config),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"[127.0.0.1]:{switch.port}" in (out / ".known_hosts").read_text()
    switch.set_host_key(new_host_key())  # the switch's key changes
    again = subprocess.run([sys.executable, "-m", "lic_exporter", "collect", "--config.file", str(config),
                            "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and again.stdout.startswith("nx-a failed hostkey ")


def test_configuration_errors_are_listed_with_their_key_paths(tmp_path: Path) -> None:
    config = tmp_path / "targets.yml"
    config.write_text("targets:\n  nx-dc1-leaf01: {host: 10.0.0.1, port: 99999, username: x, password: y}\n"
                      "  nx-dc1-leaf02: {host: 10.0.0.2, username: x}\nfrobnicate: 1\n")
    done = subprocess.run([sys.executable, "-m", "lic_exporter", "collect", "--config.file", str(config),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "targets.nx-dc1-leaf01.port" in done.stderr and "targets.nx-dc1-leaf02" in done.stderr
    assert "frobnicate" in done.stderr and "y" not in done.stderr.split(": ")[-1].split()
    serve = subprocess.run([sys.executable, "-m", "lic_exporter", "serve", "--config.file", str(config),
                            "--collect.dir", str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert serve.returncode == 2 and "targets.nx-dc1-leaf01.port" in serve.stderr


def _assert_no_password(password: str, texts: list[str]) -> None:
    for text in texts:
        assert password not in text


def test_sighup_rereads_the_configuration_and_keeps_it_when_broken(tmp_path: Path, farm: SwitchFarm,
                                                                    monkeypatch) -> None:
    import signal

    from tests.support.daemon import series, wait_for

    monkeypatch.setenv("LIC_TEST_SWITCH_PASSWORD", PASSWORD)
    first, second = farm.add(password=PASSWORD), farm.add(password=PASSWORD)
    config = tmp_path / "targets.yml"
    _config(config, {"nx-a": (first.port, "nxos")}, tmp_path / "known_hosts")
    daemon = Daemon("--config.file", str(config), "--collect.dir", str(tmp_path / "out"), "--jobs", "1")
    try:
        daemon.wait_ready()
        wait_for(lambda: series(daemon.samples(), "lic_exporter_collect_success", device="nx-a") == [1.0], 30)
        config.write_text(config.read_text() + "frobnicate: 1\n")  # broken: logged, the old one kept
        daemon.process.send_signal(signal.SIGHUP)
        time.sleep(1.5)  # the reload runs in a thread of its own: let it read the broken file
        _config(config, {"nx-a": (first.port, "nxos"), "nx-b": (second.port, "nxos")}, tmp_path / "known_hosts")
        time.sleep(1.0)
        daemon.process.send_signal(signal.SIGHUP)
        wait_for(lambda: series(daemon.samples(), "lic_exporter_collect_success", device="nx-b") == [1.0], 30)
        wait_for(lambda: series(daemon.samples(), "cisco_smartlic_registration_state", device="nx-b",
                                state="registered") == [1.0], 15)
        page = daemon.get("/metrics")[1].decode()
        assert PASSWORD not in page
    finally:
        _, log = daemon.stop()
    assert "not reloaded, the running configuration is kept" in log and "frobnicate" in log
    assert PASSWORD not in log
