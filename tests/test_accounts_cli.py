"""`lic-exporter accounts` as an operator runs it (a subprocess against the fake servers): one line
per source, exit 0 / 1 / 2, `--config.check`, and no secret or token in anything it writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.account_servers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeCssm,
    FakeOnprem,
    cssm_entry,
    dead_port,
    found_in,
    licence,
    make_tls,
    many_licences,
    onprem_entry,
    secret_files,
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lic_exporter", "accounts", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def configuration(tmp_path: Path, sources: dict[str, Any], **section: Any) -> Path:
    path = tmp_path / "lic.yml"
    path.write_text(yaml.safe_dump({"accounts": {"sources": sources, **section}}))
    return path


def test_every_source_polled_one_line_each_exit_0(tmp_path: Path) -> None:
    ca = make_tls(tmp_path / "tls")
    id_file, secret_file = secret_files(tmp_path / "secrets")
    rows = {"DC1-Fabric": many_licences("DC1-Fabric", 120), "DC2": []}
    with FakeCssm("example.com", rows, CLIENT_ID, CLIENT_SECRET) as cloud, \
            FakeOnprem("Example Networks", [licence("NX-OS Essentials", "", 2, 3)], [], CLIENT_ID, CLIENT_SECRET,
                       ca.server) as onprem:
        path = configuration(tmp_path, {"cisco": cssm_entry(cloud, id_file, secret_file),
                                        "dc1": onprem_entry(onprem, id_file, secret_file, ca.ca_file)})
        done = run("--config.file", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    lines = sorted(line.split() for line in done.stdout.splitlines())
    assert [line[:3] for line in lines] == [["cisco", "ok", "-"], ["dc1", "ok", "-"]]
    assert [int(line[4]) for line in lines] == [1 + 1 + 2 + 1, 1 + 2]  # token, list, 2 + 1 pages; token, 2 answers
    assert [line[5] for line in lines] == [str(tmp_path / "out" / f"{name}.accounts.json") for name in ("cisco", "dc1")]
    assert sorted(item.name for item in (tmp_path / "out").iterdir()) == ["cisco.accounts.json", "dc1.accounts.json"]


def test_a_failed_source_is_exit_1_and_the_others_are_still_saved(tmp_path: Path) -> None:
    id_file, secret_file = secret_files(tmp_path / "secrets")
    port = dead_port()
    dead = {"type": "cssm", "smart_account": "example.com", "client_id_file": str(id_file),
            "client_secret_file": str(secret_file), "token_url": f"http://127.0.0.1:{port}/token",
            "api_url": f"http://127.0.0.1:{port}/api"}
    with FakeCssm("example.com", {"DC1": []}, CLIENT_ID, CLIENT_SECRET) as cloud:
        path = configuration(tmp_path, {"alive": cssm_entry(cloud, id_file, secret_file), "dead": dead})
        done = run("--config.file", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 1, done.stderr
    assert sorted(line.split()[:3] for line in done.stdout.splitlines()) == \
        [["alive", "ok", "-"], ["dead", "failed", "connect"]]
    assert "dead: account poll failed (connect)" in done.stderr
    assert sorted(item.name for item in (tmp_path / "out").iterdir()) == ["alive.accounts.json"]


def test_configuration_errors_are_exit_2_with_their_key_paths(tmp_path: Path) -> None:
    id_file, secret_file = secret_files(tmp_path / "secrets")
    with FakeCssm("example.com", {}, CLIENT_ID, CLIENT_SECRET) as cloud:
        path = configuration(tmp_path, {"cisco": cssm_entry(cloud, id_file, secret_file, colour="blue",
                                                            client_secret_env="LIC_TEST_NOT_SET")},
                             poll_interval="10m")
        done = run("--config.file", str(path), "--out", str(tmp_path / "out"))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"lic-exporter accounts: {path}: accounts.poll_interval: at least 15m",
        f"lic-exporter accounts: {path}: accounts.sources.cisco.colour: unknown key"]
    assert cloud.requests == [] and not (tmp_path / "out").exists()


def test_usage_errors_are_exit_2(tmp_path: Path) -> None:
    id_file, secret_file = secret_files(tmp_path / "secrets")
    with FakeCssm("example.com", {}, CLIENT_ID, CLIENT_SECRET) as cloud:
        path = configuration(tmp_path, {"cisco": cssm_entry(cloud, id_file, secret_file)})
        no_out = run("--config.file", str(path))
        no_file = run("--out", str(tmp_path / "out"))
        (tmp_path / "typo.yml").write_text("targets: {}\nacounts: {}\n")
        typo = run("--config.file", str(tmp_path / "typo.yml"), "--out", str(tmp_path / "out"))
        (tmp_path / "empty.yml").write_text("targets: {}\n")
        nothing = run("--config.file", str(tmp_path / "empty.yml"), "--out", str(tmp_path / "out"))
    assert (no_out.returncode, no_out.stderr) == (2, "lic-exporter accounts: --out DIR is required (unless "
                                                     "--config.check)\n")
    assert no_file.returncode == 2 and "--config.file" in no_file.stderr
    assert (typo.returncode, typo.stderr) == \
        (2, f"lic-exporter accounts: {tmp_path / 'typo.yml'}: acounts: unknown key\n")
    assert (nothing.returncode, nothing.stderr) == (2, f"lic-exporter accounts: {tmp_path / 'empty.yml'}: no account "
                                                       "source (give accounts: with sources)\n")
    assert cloud.requests == []


def test_config_check_connects_to_nothing(tmp_path: Path) -> None:
    id_file, secret_file = secret_files(tmp_path / "secrets", mode=0o644)
    with FakeCssm("example.com", {}, CLIENT_ID, CLIENT_SECRET) as cloud:
        path = configuration(tmp_path, {"cisco": cssm_entry(cloud, id_file, secret_file)})
        good = run("--config.file", str(path), "--config.check")
        path.write_text(path.read_text().replace("smart_account:", "smart_acount:"))
        bad = run("--config.file", str(path), "--config.check")
    assert (good.returncode, good.stdout) == (0, f"configuration OK: 1 account source(s) in {path}\n")
    assert f"warning: {path}: {secret_file}: readable by group and others (chmod 600)" in good.stderr
    assert bad.returncode == 2
    assert f"{path}: accounts.sources.cisco.smart_acount: unknown key" in bad.stderr
    assert cloud.requests == []


def test_no_secret_or_token_in_stdout_stderr_or_snapshots(tmp_path: Path) -> None:
    ca = make_tls(tmp_path / "tls")
    id_file, secret_file = secret_files(tmp_path / "secrets")
    with FakeCssm("example.com", {"DC1": many_licences("DC1", 150)}, CLIENT_ID, CLIENT_SECRET, echo_secrets=True,
                  token_uses=1) as cloud, \
            FakeOnprem("Example Networks", [licence("NX-OS Essentials", "", 2, 3)], [{"severity": "Major"}],
                       CLIENT_ID, CLIENT_SECRET, ca.server, echo_secrets=True) as onprem, \
            FakeOnprem("Refusing", [], [], CLIENT_ID, "not-the-secret", ca.server) as refusing:
        path = configuration(tmp_path, {"cisco": cssm_entry(cloud, id_file, secret_file),
                                        "dc1": onprem_entry(onprem, id_file, secret_file, ca.ca_file),
                                        "dc2": onprem_entry(refusing, id_file, secret_file, ca.ca_file)})
        for log_format in ("logfmt", "json"):
            done = run("--config.file", str(path), "--out", str(tmp_path / "out"), "--log.level", "debug",
                       "--log.format", log_format)
            assert done.returncode == 1, done.stderr  # dc2 refuses the credentials
            texts = {"stdout": done.stdout, "stderr": done.stderr}
            texts.update({item.name: item.read_text() for item in (tmp_path / "out").iterdir()})
            assert sorted(texts) == ["cisco.accounts.json", "dc1.accounts.json", "stderr", "stdout"]
            needles = [*cloud.secrets(), *onprem.secrets(), *refusing.secrets()]
            assert len(needles) > 6  # the id, the secret and every token the servers issued
            assert found_in(texts, needles) == []
            assert "dc2 failed auth" in done.stdout
