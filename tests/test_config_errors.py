"""Every configuration error is one line naming its file (or option), its key and what to do, and
exits 2; `--config.check` lists them all at once without serving or connecting; a secret that
cannot be read is such an error at start, and on a reload keeps the running configuration.

Most cases run `main([...])` in this process (the errors come before anything is served); the
warning about a --syslog pattern and the reload run the real daemon."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lic_exporter.cli.main import main
from lic_exporter.daemon.follower import SyslogFollower
from lic_exporter.parsing.files import Parser
from lic_exporter.sources.secret_files import MAX_SECRET_BYTES
from tests.support.daemon import Daemon, free_port, series
from tests.support.paths import SHOW_FIXTURES
from tests.support.unprivileged import Unprivileged, find_unprivileged, scratch_folder
from tests.test_logs import _read_until, parse_logfmt

PLANTED = "Planted-Secret-4471q"  # must never show in any message
UNREADABLE = Path("/proc/self/mem")  # opens, and reading it from its start fails (EIO), even as root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    """main(argv): exit code, stderr lines, stdout."""
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err.splitlines(), captured.out


def fleet(tmp_path: Path) -> Path:
    folder = tmp_path / "fleet"
    folder.mkdir(exist_ok=True)
    shutil.copy(SHOW_FIXTURES / "communication_failed.txt", folder / "a.txt")
    return folder


def serve(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[int, list[str]]:
    code, err, _ = run(capsys, "serve", "--watch", str(fleet(tmp_path)), *argv)
    return code, err


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


# ---------------------------------------------------------------- --watch, --syslog, --web.listen-address

def test_watch_given_a_file_says_to_give_its_folder_or_parse_it(capsys, tmp_path):
    file = tmp_path / "show_license_all.txt"
    file.write_text("x")
    code, err, _ = run(capsys, "serve", "--watch", str(file))
    assert code == 2
    assert err == [f"lic-exporter serve: --watch {file} is a file: --watch takes folders; give its folder "
                   f"(--watch {tmp_path}), or read the file once with `lic-exporter parse {file}`"]


def test_watch_given_a_missing_folder(capsys, tmp_path):
    code, err, _ = run(capsys, "serve", "--watch", str(tmp_path / "nope"))
    assert (code, err) == (2, [f"lic-exporter serve: --watch {tmp_path / 'nope'}: no such folder"])


@pytest.mark.parametrize(("address", "says"), [
    (":99999", "port 99999 is out of range 1-65535"),
    (":0", "port 0 is out of range 1-65535"),
    ("10311", "a port alone is written with a colon before it (:10311)"),
    ("localhost", "no port"),
    ("127.0.0.1:", "no port after the colon"),
    ("127.0.0.1:http", "the port is not a number"),
    ("::1:10311", "an IPv6 address goes in brackets"),
])
def test_a_bad_listen_address_says_what_is_wrong_and_what_was_expected(capsys, tmp_path, address, says):
    code, err = serve(capsys, tmp_path, "--web.listen-address", address)
    assert code == 2
    assert err == [f"lic-exporter serve: --web.listen-address {address}: {says}: expected HOST:PORT, e.g. "
                   ":10311 (every interface), 127.0.0.1:10311 or [::1]:10311"]


def test_a_syslog_pattern_matching_nothing_is_warned_once_and_the_daemon_starts(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "sw1.log").write_text("")
    typo = str(tmp_path / "logs" / "*.lgo")
    daemon = Daemon("--watch", str(fleet(tmp_path)), "--syslog", typo, "--syslog", str(tmp_path / "logs" / "*.log"),
                    "--log.level", "info")
    try:
        daemon.wait_ready()  # it serves: a file may still appear
        assert daemon.get("/metrics")[0] == 200
    finally:
        code, err = daemon.stop()
    assert code == 0
    warnings = [pairs for pairs in map(parse_logfmt, err.splitlines()) if pairs["level"] == "warn"]
    assert [pairs["msg"] for pairs in warnings] == [
        f"--syslog {typo} matches no file (no file there matches it); check the pattern for a typo. It is "
        "looked for every few seconds, so a file that appears later is followed"]


def test_pattern_files_counts_the_files_each_syslog_argument_matches(tmp_path):
    (tmp_path / "logs").mkdir()
    for name in ("a.log", "b.log", "c.txt"):
        (tmp_path / "logs" / name).write_text("")
    patterns = [str(tmp_path / "logs" / "*.log"), str(tmp_path / "logs" / "c.txt"), str(tmp_path / "no" / "*.log")]
    follower = SyslogFollower(patterns, Parser().syslog_lines)
    try:
        assert follower.pattern_files() == dict(zip(patterns, [2, 1, 0], strict=True))  # before the first look
        follower.poll()
        (tmp_path / "logs" / "d.log").write_text("")
        assert follower.pattern_files()[patterns[0]] == 2  # as of the last look
        follower.poll()
        assert follower.pattern_files() == dict(zip(patterns, [3, 1, 0], strict=True))
    finally:
        follower.close()


# ---------------------------------------------------------------- --web.config.file

def test_a_missing_web_configuration(capsys, tmp_path):
    code, err = serve(capsys, tmp_path, "--web.config.file", str(tmp_path / "web.yml"))
    assert (code, err) == (2, [f"lic-exporter serve: --web.config.file {tmp_path / 'web.yml'}: no such file"])


def test_an_unreadable_web_configuration(capsys, tmp_path):
    code, err = serve(capsys, tmp_path, "--web.config.file", str(UNREADABLE))
    assert (code, err) == (2, [f"lic-exporter serve: --web.config.file {UNREADABLE}: cannot read it "
                               "(input/output error)"])
    code, err = serve(capsys, tmp_path, "--web.config.file", str(tmp_path))
    assert (code, err) == (2, [f"lic-exporter serve: --web.config.file {tmp_path}: cannot read it (is a directory)"])


@pytest.fixture(scope="module")
def unprivileged() -> Iterator[tuple[Unprivileged, Path]]:
    """A runner file modes bind (root reads a mode-000 file) and a folder it may enter."""
    with scratch_folder() as folder:
        yield find_unprivileged(folder), folder


def test_a_web_configuration_without_read_permission(unprivileged, request):
    runner, scratch = unprivileged
    folder = scratch / request.node.name
    folder.mkdir(mode=0o755)
    fleet(folder).chmod(0o755)
    web = write(folder / "web.yml", "{}\n", mode=0)
    done = runner.run("serve", "--watch", str(folder / "fleet"), "--web.config.file", str(web), cwd=folder)
    assert (done.returncode, done.stderr.splitlines()) == (
        2, [f"lic-exporter serve: --web.config.file {web}: cannot read it (permission denied)"])


def test_missing_certificate_and_key_name_their_keys_and_paths(capsys, tmp_path):
    web = write(tmp_path / "web.yml",
                "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: /nope/server.key\n")
    code, err = serve(capsys, tmp_path, "--web.config.file", str(web))
    assert code == 2
    assert err == [f"lic-exporter serve: {web}: tls_server_config.cert_file: {tmp_path / 'certs/server.crt'}: "
                   "no such file",
                   f"lic-exporter serve: {web}: tls_server_config.key_file: /nope/server.key: no such file"]
    web.write_text("tls_server_config:\n  key_file: server.key\n")
    (tmp_path / "server.key").write_text("x")
    code, err = serve(capsys, tmp_path, "--web.config.file", str(web))
    assert (code, err) == (2, [f"lic-exporter serve: {web}: tls_server_config.cert_file: missing (TLS needs both "
                               "cert_file and key_file)"])


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificates")
def test_a_key_that_does_not_belong_to_the_certificate(capsys, tmp_path):
    for name in ("a", "b"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t",
                        "-keyout", f"{name}.key", "-out", f"{name}.crt"], cwd=tmp_path, check=True, capture_output=True)
    web = write(tmp_path / "web.yml", "tls_server_config: {cert_file: a.crt, key_file: b.key}\n")
    code, err = serve(capsys, tmp_path, "--web.config.file", str(web))
    assert (code, err) == (2, [f"lic-exporter serve: {web}: tls_server_config: cert_file {tmp_path / 'a.crt'} and "
                               f"key_file {tmp_path / 'b.key'} cannot be used: the key does not belong to the "
                               "certificate"])


def test_a_plain_text_password_names_the_user_and_how_to_hash_never_the_password(capsys, tmp_path):
    web = write(tmp_path / "web.yml", f"basic_auth_users:\n  prometheus: {PLANTED}\n  grafana: $2y$10$tooshort\n")
    code, err = serve(capsys, tmp_path, "--web.config.file", str(web))
    assert code == 2 and len(err) == 2
    assert err[0].startswith(f"lic-exporter serve: {web}: basic_auth_users.prometheus: not a bcrypt hash: write the "
                             "hash, never the password; make one with `htpasswd -nBC 10 prometheus | cut -d: -f2-`")
    assert "bcrypt.hashpw(getpass.getpass().encode(), bcrypt.gensalt(10))" in err[0]
    assert err[1] == (f"lic-exporter serve: {web}: basic_auth_users.grafana: not a valid bcrypt hash ($2y$, $2b$ or "
                      "$2a$, a cost of 04 to 31, then 53 characters)")
    assert PLANTED not in "\n".join(err)


def test_a_yaml_error_in_the_web_configuration_is_one_line(capsys, tmp_path):
    web = write(tmp_path / "web.yml", f"basic_auth_users:\n  prometheus: [{PLANTED}\n")
    code, err = serve(capsys, tmp_path, "--web.config.file", str(web))
    assert (code, err) == (2, [f"lic-exporter serve: {web}:3:1: not valid YAML: expected ',' or ']', but got "
                               "'<stream end>'"])
    web.write_text(f'basic_auth_users: {{prometheus: "{PLANTED}\\q"}}\n')
    code, err = serve(capsys, tmp_path, "--web.config.file", str(web))
    assert code == 2 and len(err) == 1 and err[0].startswith(f"lic-exporter serve: {web}:1:")
    assert PLANTED not in err[0]


def test_every_web_problem_at_once(capsys, tmp_path):
    web = write(tmp_path / "web.yml", "tls_server_config:\n  cert_file: x.crt\n  key_file: x.key\n  colour: red\n"
                                      "  min_version: TLS99\nbasic_auth_users:\n  alice: secret\nextra: 1\n")
    code, err = serve(capsys, tmp_path, "--web.config.file", str(web))
    assert code == 2
    assert [line.split(": ", 3)[2] for line in err] == [
        "extra", "basic_auth_users.alice", "tls_server_config.colour", "tls_server_config.cert_file",
        "tls_server_config.key_file", "tls_server_config.min_version"]


# ---------------------------------------------------------------- the collection configuration and its secrets

def collection(tmp_path: Path, targets: str, defaults: str = "username: licmon, password_env: LIC_CE_UNSET") -> Path:
    return write(tmp_path / "collect.yml", f"defaults: {{{defaults}}}\ntargets:\n{targets}")


def test_an_unset_password_variable_is_one_configuration_error_not_one_per_device(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("LIC_CE_UNSET", raising=False)
    config = collection(tmp_path, "".join(f"  sw{n}: {{host: 127.0.0.1}}\n" for n in range(300)))
    code, err, out = run(capsys, "collect", "--config.file", str(config), "--out", str(tmp_path / "out"))
    assert (code, out) == (2, "")
    assert err == [f"lic-exporter collect: {config}: defaults.password_env: environment variable LIC_CE_UNSET is not "
                   "set (set it where the exporter starts, e.g. in the service's environment file)"]
    assert not (tmp_path / "out").exists()


def test_every_kind_of_unreadable_password_file_is_listed_at_once(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LIC_CE_SET", PLANTED)
    monkeypatch.delenv("LIC_CE_UNSET", raising=False)
    (tmp_path / "folder.pw").mkdir()
    os.mkfifo(tmp_path / "fifo.pw")
    write(tmp_path / "empty.pw", "\n")
    write(tmp_path / "huge.pw", PLANTED * (MAX_SECRET_BYTES // len(PLANTED) + 1))
    write(tmp_path / "real.pw", PLANTED)
    write(tmp_path / "shadow", "".join(f"user{n}:$6$salt$hash:19000:0:99999:7:::\n" for n in range(26)))
    (tmp_path / "link.pw").symlink_to(tmp_path / "shadow")
    config = collection(tmp_path, defaults="username: licmon, password_env: LIC_CE_SET", targets="""\
  sw1: {password_file: missing.pw}
  sw2: {password_file: folder.pw}
  sw3: {password_file: fifo.pw}
  sw4: {password_file: empty.pw}
  sw5: {password_file: huge.pw}
  sw6: {password_file: link.pw}
  sw7: {password_file: /proc/self/mem}
  sw8: {password_env: LIC_CE_UNSET}
  sw9: {key_file: missing.key}
  ok1: {password_file: real.pw}
""")
    code, err, _ = run(capsys, "collect", "--config.file", str(config), "--out", str(tmp_path / "out"))
    assert code == 2
    prefix = f"lic-exporter collect: {config}: targets"
    assert err == [
        f"{prefix}.sw1.password_file: {tmp_path / 'missing.pw'}: no such file",
        f"{prefix}.sw2.password_file: {tmp_path / 'folder.pw'}: not a regular file",
        f"{prefix}.sw3.password_file: {tmp_path / 'fifo.pw'}: not a regular file",
        f"{prefix}.sw4.password_file: {tmp_path / 'empty.pw'}: empty",
        f"{prefix}.sw5.password_file: {tmp_path / 'huge.pw'}: larger than {MAX_SECRET_BYTES} bytes, not a "
        "password file",
        f"{prefix}.sw6.password_file: {tmp_path / 'link.pw'} (a link to {tmp_path / 'shadow'}): larger than "
        f"{MAX_SECRET_BYTES} bytes, not a password file",
        f"{prefix}.sw7.password_file: /proc/self/mem: cannot read it (input/output error)",
        f"{prefix}.sw8.password_env: environment variable LIC_CE_UNSET is not set (set it where the exporter starts, "
        "e.g. in the service's environment file)",
        f"{prefix}.sw9.key_file: {tmp_path / 'missing.key'}: no such file",
    ]
    assert PLANTED not in "\n".join(err)


def test_a_password_file_without_read_permission(unprivileged, request):
    runner, scratch = unprivileged
    folder = scratch / request.node.name
    folder.mkdir(mode=0o755)
    write(folder / "licmon.pw", PLANTED, mode=0)
    config = collection(folder, "  sw1: {}\n", defaults="username: licmon, password_file: licmon.pw")
    config.chmod(0o644)
    done = runner.run("collect", "--config.file", str(config), "--out", str(folder / "out"), cwd=folder)
    assert (done.returncode, done.stderr.splitlines()) == (
        2, [f"lic-exporter collect: {config}: defaults.password_file: {folder / 'licmon.pw'}: "
            "cannot read it (permission denied)"])
    assert PLANTED not in done.stderr + done.stdout


def test_a_yaml_error_in_the_collection_configuration_is_one_line(capsys, tmp_path):
    config = write(tmp_path / "collect.yml", f"defaults: {{username: licmon, password: {PLANTED}\ntargets: {{}}\n")
    code, err, _ = run(capsys, "collect", "--config.file", str(config), "--out", str(tmp_path / "out"))
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"lic-exporter collect: {config}:2:8: not valid YAML: ")
    assert PLANTED not in err[0]


def test_serve_reports_the_collection_problems_with_the_others_all_at_once(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("LIC_CE_UNSET", raising=False)
    config = collection(tmp_path, "  sw1: {port: 0}\n")
    web = write(tmp_path / "web.yml", "basic_auth_users: {alice: secret}\n")
    code, err = serve(capsys, tmp_path, "--config.file", str(config), "--collect.dir", str(tmp_path / "out"),
                      "--web.config.file", str(web), "--web.listen-address", ":99999", "--watch", str(tmp_path / "x"))
    assert code == 2
    assert [line.split(": ")[1] for line in err] == ["--watch " + str(tmp_path / "x"), "--web.listen-address :99999",
                                                     str(web), str(config), str(config)]
    assert err[3].endswith("defaults.password_env: environment variable LIC_CE_UNSET is not set (set it where the "
                           "exporter starts, e.g. in the service's environment file)")
    assert err[4].endswith("targets.sw1.port: not a port number")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- --config.check

def test_config_check_of_a_valid_serve_configuration(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LIC_CE_SET", PLANTED)
    config = collection(tmp_path, "  sw1: {host: 127.0.0.1}\n  sw2: {host: 127.0.0.1}\n",
                        defaults="username: licmon, password_env: LIC_CE_SET")
    device_map = write(tmp_path / "map.txt", "10.0.0.1 sw1\n")
    out = tmp_path / "transcripts"
    code, err, stdout = run(capsys, "serve", "--config.check", "--watch", str(fleet(tmp_path)), "--config.file",
                            str(config), "--collect.dir", str(out), "--device-map", str(device_map))
    assert (code, err) == (0, [])
    assert stdout == ("configuration OK: 1 watched folder(s), 0 syslog pattern(s), 2 target(s) to collect, 1 device "
                      "map entries; plain HTTP on :10311\n")
    assert not out.exists()  # nothing created


def test_config_check_lists_every_problem_and_serves_nothing(capsys, tmp_path):
    port = free_port()
    config = collection(tmp_path, "  sw1: {port: nope, colour: red}\n")
    web = write(tmp_path / "web.yml", "tls_server_config: {cert_file: a.crt, key_file: a.key}\n")
    device_map = write(tmp_path / "map.txt", "10.0.0.1\n10.0.0.2 b c\n")
    code, err, stdout = run(capsys, "serve", "--config.check", "--watch", str(fleet(tmp_path)), "--config.file",
                            str(config), "--collect.dir", str(tmp_path / "out"), "--web.config.file", str(web),
                            "--device-map", str(device_map), "--web.listen-address", f"127.0.0.1:{port}",
                            "--syslog", str(tmp_path / "*.nothing"))
    assert (code, stdout) == (2, "")
    assert err[0] == f"warning: --syslog {tmp_path / '*.nothing'} matches no file now (followed once one appears)"
    problems = err[1:]
    assert problems[:4] == [f"{web}: tls_server_config.cert_file: {tmp_path / 'a.crt'}: no such file",
                            f"{web}: tls_server_config.key_file: {tmp_path / 'a.key'}: no such file",
                            f"{device_map}:1: expected ADDRESS NAME, got '10.0.0.1'",
                            f"{device_map}:2: expected ADDRESS NAME, got '10.0.0.2 b c'"]
    assert set(problems[4:]) == {f"{config}: targets.sw1.port: not a port number",
                                 f"{config}: targets.sw1.colour: unknown key",
                                 f"{config}: defaults.password_env: environment variable LIC_CE_UNSET is not set "
                                 "(set it where the exporter starts, e.g. in the service's environment file)"}
    with socket.create_server(("127.0.0.1", port)):  # the port was never taken
        pass
    assert not (tmp_path / "out").exists()


def test_collect_config_check_needs_no_out_folder_and_connects_to_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LIC_CE_SET", PLANTED)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0)
    port = listener.getsockname()[1]
    targets = f"  sw1: {{host: 127.0.0.1, port: {port}}}\n  nx-2: {{host: 127.0.0.1, port: {port}}}\n"
    config = collection(tmp_path, targets,
                        defaults="username: licmon, password_env: LIC_CE_SET, host_key_policy: insecure")
    try:
        code, err, stdout = run(capsys, "collect", "--config.check", "--config.file", str(config))
        assert (code, stdout) == (0, f"configuration OK: 2 target(s) in {config}\n")
        assert err == [f"warning: {config}: defaults.host_key_policy: insecure: host keys are not checked"]
        code, _, stdout = run(capsys, "collect", "--config.check", "--config.file", str(config), "--limit", "nx-*")
        assert (code, stdout) == (0, f"configuration OK: 1 target(s) in {config}\n")
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    finally:
        listener.close()
    code, err, stdout = run(capsys, "collect", "--config.check", "--config.file", str(config), "--limit", "zz*")
    assert (code, err[-1:], stdout) == (2, [f"{config}: no target to collect matches --limit zz*"], "")
    monkeypatch.delenv("LIC_CE_SET")
    code, err, _ = run(capsys, "collect", "--config.check", "--config.file", str(config), "--out", str(config))
    assert code == 2 and err[-2:] == [
        f"{config}: defaults.password_env: environment variable LIC_CE_SET is not set (set it where the exporter "
        "starts, e.g. in the service's environment file)", f"--out {config}: not a folder"]


def test_config_check_runs_as_the_installed_command_would(tmp_path):
    """`python -m lic_exporter serve --config.check`: exit 0 and the summary, in a process of its own."""
    done = subprocess.run([sys.executable, "-m", "lic_exporter", "serve", "--config.check", "--watch",
                           str(fleet(tmp_path))], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("configuration OK: 1 watched folder(s)")


# ---------------------------------------------------------------- a reload with a broken secret

def test_a_reload_with_an_unreadable_secret_keeps_the_running_configuration(tmp_path):
    secret = write(tmp_path / "licmon.pw", PLANTED)
    config = write(tmp_path / "collect.yml", f"defaults: {{username: licmon, password_file: {secret}, "
                                            "host_key_policy: insecure, connect_timeout: 2s}\n"
                                            f"targets:\n  sw1: {{host: 127.0.0.1, port: {free_port()}}}\n")
    daemon = Daemon("--config.file", str(config), "--collect.dir", str(tmp_path / "out"), "--log.level", "info")
    try:
        daemon.wait_ready()
        secret.unlink()
        daemon.process.send_signal(signal.SIGHUP)
        err = _read_until(daemon, "scan=reload")  # the page the rescan assembles tells of the reload
        samples = daemon.samples()
    finally:
        _, rest = daemon.stop()
    line = next(line for line in err.splitlines() if "not reloaded" in line)
    assert f"defaults.password_file: {secret}: no such file" in parse_logfmt(line)["msg"]
    assert series(samples, "lic_exporter_collect_next_timestamp_seconds", device="sw1")  # still scheduled
    assert series(samples, "lic_exporter_config_last_reload_successful") == [0.0]
    assert PLANTED not in err + rest
