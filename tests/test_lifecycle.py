"""The daemon's lifecycle: POST /-/reload (with --web.enable-lifecycle) does what SIGHUP does,
behind the same TLS and basic auth; a broken --config.file is not applied and says so, in the
answer and in lic_exporter_config_last_reload_*; a request body never becomes a request."""

from __future__ import annotations

import http.client
import shutil
import signal
import socket
import ssl
from pathlib import Path

import bcrypt
import pytest

from tests.support.daemon import Daemon, free_port, series, wait_for
from tests.support.paths import SHOW_FIXTURES
from tests.test_web import basic, pki  # noqa: F401 (pki: the module's certificates, a fixture)

SUCCESS = "lic_exporter_config_last_reload_successful"
SUCCESS_AT = "lic_exporter_config_last_reload_success_timestamp_seconds"
PASSWORD_VARIABLE = "LIC_LIFECYCLE_TEST_PASSWORD"


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    folder = tmp_path / "fleet"
    folder.mkdir()
    shutil.copy(SHOW_FIXTURES / "communication_failed.txt", folder / "a.txt")
    return folder


@pytest.fixture
def started():
    daemons: list[Daemon] = []

    def start(*args: str) -> Daemon:
        daemon = Daemon(*args)
        daemons.append(daemon)
        daemon.wait_ready()
        return daemon

    yield start
    for daemon in daemons:
        daemon.stop()


def post(daemon: Daemon, path: str = "/-/reload", headers: dict[str, str] | None = None,
         method: str = "POST") -> tuple[int, bytes, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.headers)
    finally:
        connection.close()


def targets(*names: str) -> str:
    """A collection configuration whose targets listen nowhere (each collection fails at once)."""
    lines = "".join(f"  {name}: {{host: 127.0.0.1, port: {free_port()}}}\n" for name in names)
    return f"defaults: {{username: licmon, password_env: {PASSWORD_VARIABLE}}}\ntargets:\n{lines}"


@pytest.fixture
def collecting(tmp_path: Path, fleet: Path, monkeypatch: pytest.MonkeyPatch):
    """(the --config.file, the serve arguments that collect with it and enable the lifecycle)"""
    monkeypatch.setenv(PASSWORD_VARIABLE, "not-a-real-password")  # the daemon inherits it
    config = tmp_path / "targets.yml"
    config.write_text(targets("nx-old-01"))
    return config, ("--watch", str(fleet), "--config.file", str(config), "--collect.dir", str(tmp_path / "out"),
                    "--web.enable-lifecycle")


def test_without_the_flag_reload_is_forbidden(started, fleet: Path) -> None:
    d = started("--watch", str(fleet))
    status, body, _ = post(d)
    assert status == 403 and body == b"lifecycle API not enabled; start with --web.enable-lifecycle\n"
    samples = d.samples()
    assert not series(samples, SUCCESS) and not series(samples, SUCCESS_AT)  # no --config.file, no gauges


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_reload_takes_post_only(started, fleet: Path, method: str) -> None:
    d = started("--watch", str(fleet), "--web.enable-lifecycle")
    status, _, headers = post(d, method=method)
    assert status == 405 and headers["Allow"] == "POST"
    assert post(d, "/metrics")[0] == post(d, "/nowhere")[0] == 501  # no other path takes a POST


def test_post_reload_rescans_like_sighup(started, fleet: Path) -> None:
    d = started("--watch", str(fleet), "--web.enable-lifecycle")
    status, body, headers = post(d)
    assert (status, body, headers["Connection"]) == (200, b"Reloaded\n", "close")
    assert series(d.samples(), "cisco_smartlic_info", device="n9k-spine-01")
    code, err = d.stop()
    assert code == 0 and "POST /-/reload: reloading: watching the folders again" in err and "Traceback" not in err


def test_broken_configuration_is_not_applied_and_says_so(started, collecting) -> None:
    config, args = collecting
    d = started(*args)
    samples = d.samples()
    assert series(samples, SUCCESS) == [1.0]  # the start's load is the first successful one
    [loaded_at] = series(samples, SUCCESS_AT)
    assert series(samples, "lic_exporter_collect_failures_total", device="nx-old-01", reason="connect")

    config.write_text(targets("nx-new-01") + "bogus_key: 1\n")
    status, body, _ = post(d)
    assert status == 500 and body.startswith(b"failed to reload config: " + str(config).encode())
    assert b"bogus_key" in body
    samples = d.samples()
    assert series(samples, SUCCESS) == [0.0] and series(samples, SUCCESS_AT) == [loaded_at]
    # the running configuration is the old one
    assert series(samples, "lic_exporter_collect_failures_total", device="nx-old-01", reason="connect")
    assert not series(samples, "lic_exporter_collect_failures_total", device="nx-new-01")

    config.write_text(targets("nx-new-01"))
    assert post(d)[:2] == (200, b"Reloaded\n")
    samples = d.samples()
    assert series(samples, SUCCESS) == [1.0]
    [reloaded_at] = series(samples, SUCCESS_AT)
    assert reloaded_at > loaded_at
    wait_for(lambda: bool(series(d.samples(), "lic_exporter_collect_failures_total", device="nx-new-01")))
    assert not series(d.samples(), "lic_exporter_collect_failures_total", device="nx-old-01")


def test_sighup_with_a_broken_configuration_sets_the_gauge_too(started, collecting) -> None:
    config, args = collecting
    d = started(*args)
    [loaded_at] = series(d.samples(), SUCCESS_AT)
    config.write_text("targets: [not, a, mapping]\n")
    d.process.send_signal(signal.SIGHUP)
    wait_for(lambda: series(d.samples(), SUCCESS) == [0.0])
    assert series(d.samples(), SUCCESS_AT) == [loaded_at]
    code, err = d.stop()
    assert code == 0 and "not reloaded, the running configuration is kept" in err


def read_all(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_a_body_never_becomes_a_request(started, fleet: Path) -> None:
    """A POST's body is not read: the answer closes the connection, so a body that looks like a
    request is never answered as one; the next connection is served as usual."""
    d = started("--watch", str(fleet), "--web.enable-lifecycle")
    smuggled = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", d.port), timeout=30) as sock:
        sock.sendall(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(smuggled) + smuggled)
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.count(b"HTTP/1.1 ") == 1 and b"Healthy" not in answer
    # A kept-alive connection serves GETs, then one POST, then closes.
    with socket.create_connection(("127.0.0.1", d.port), timeout=30) as sock:
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        answer = read_all(sock)
    assert answer.count(b"HTTP/1.1 200 ") == 2 and answer.endswith(b"Reloaded\n")
    assert d.get("/-/healthy")[0] == 200


def test_reload_behind_tls_and_basic_auth(fleet: Path, pki: Path, tmp_path: Path) -> None:  # noqa: F811
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$")
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {pki / 'server.crt'}\n  key_file: {pki / 'server.key'}\n"
                   f"basic_auth_users:\n  prometheus: {hashed}\n")
    d = Daemon("--watch", str(fleet), "--web.config.file", str(web), "--web.enable-lifecycle")
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))

    def reload(headers: dict[str, str]) -> tuple[int, bytes]:
        connection = http.client.HTTPSConnection("127.0.0.1", d.port, context=context, timeout=30)
        try:
            connection.request("POST", "/-/reload", headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def answering() -> bool:
        try:
            return reload({})[0] == 401
        except OSError:
            return False

    try:
        wait_for(answering, timeout=30)
        assert reload({"Authorization": basic("prometheus", "wrong")})[0] == 401
        assert reload({"Authorization": basic("prometheus", "s3cret")}) == (200, b"Reloaded\n")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, OSError)):
            plain = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
            plain.request("POST", "/-/reload")
            assert plain.getresponse().status != 200
    finally:
        code, err = d.stop()
    assert code == 0 and "s3cret" not in err and "POST /-/reload: reloading" in err


def test_reloader_keeps_the_status_and_survives_a_failing_step() -> None:
    """The status object alone: what a reload reports, in order, with a clock of our own."""
    from lic_exporter.daemon.reload import Reloader, ReloadStatus

    clock = iter([100.0, 200.0, 300.0])
    status = ReloadStatus(clock=lambda: next(clock))
    answers = iter(["FILE: targets: not a mapping", None])
    rescans: list[tuple[bool, float]] = []
    reload = Reloader(lambda: rescans.append(status()), lambda: next(answers), status)
    assert status() == (True, 100.0)  # the start's load
    assert reload("test") == "FILE: targets: not a mapping"
    assert reload("test") is None
    assert rescans == [(False, 100.0), (True, 200.0)]  # the rescan (and its page) sees the new status

    def broken() -> None:
        raise RuntimeError("a bug")

    assert "internal error while rescanning" in (Reloader(broken)("test") or "")
