"""--web.config.file: real TLS handshakes with certificates made here, mutual TLS, basic auth."""

from __future__ import annotations

import http.client
import shutil
import socket
import ssl
import statistics
import subprocess
import time
from pathlib import Path

import bcrypt
import pytest

from lic_exporter.daemon.webconfig import load
from tests.support.daemon import Daemon, wait_for
from tests.support.paths import SHOW_FIXTURES
from tests.test_web_abuse import closed_after, request, serving

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificates")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    folder = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=folder)
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=folder)
        (folder / f"{name}.ext").write_text(extension + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=folder)
    return folder


def start(pki: Path, tmp_path: Path, config: str) -> Daemon:
    web = pki / f"web-{tmp_path.name}.yml"
    web.write_text(config)
    watch = tmp_path / "fleet"
    watch.mkdir()
    shutil.copy(SHOW_FIXTURES / "communication_failed.txt", watch / "a.txt")
    daemon = Daemon("--watch", str(watch), "--web.config.file", str(web))
    return daemon


def https(daemon: Daemon, pki: Path, client_cert: bool, auth: str | None = None) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if client_cert:
        context.load_cert_chain(pki / "client.crt", pki / "client.key")
    connection = http.client.HTTPSConnection("127.0.0.1", daemon.port, context=context, timeout=10)
    headers = {"Authorization": auth} if auth else {}
    connection.request("GET", "/metrics", headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def wait_https(daemon: Daemon, pki: Path, **kwargs) -> tuple[int, bytes]:
    import time

    deadline = time.monotonic() + 20
    while True:
        try:
            status, body = https(daemon, pki, **kwargs)
            if status != 503 or time.monotonic() > deadline:
                return status, body
        except (ConnectionRefusedError, ConnectionResetError):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_mutual_tls_and_basic_auth(pki: Path, tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$")
    daemon = start(pki, tmp_path, f"""
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
basic_auth_users:
  prometheus: {hashed}
""")
    try:
        status, body = wait_https(daemon, pki, client_cert=True, auth=basic("prometheus", "s3cret"))
        assert status == 200 and b"cisco_smartlic_info" in body
        status, body = https(daemon, pki, client_cert=True, auth=basic("prometheus", "wrong"))
        assert status == 401 and b"cisco_smartlic" not in body
        status, body = https(daemon, pki, client_cert=True)
        assert status == 401 and b"cisco_smartlic" not in body
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            https(daemon, pki, client_cert=False, auth=basic("prometheus", "s3cret"))
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, OSError)):
            plain = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=5)
            plain.request("GET", "/metrics")
            assert plain.getresponse().status != 200
    finally:
        code, err = daemon.stop()
    assert code == 0 and "s3cret" not in err and "Traceback" not in err


def test_tls_without_client_certificates(pki: Path, tmp_path: Path) -> None:
    daemon = start(pki, tmp_path, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
    try:
        status, body = wait_https(daemon, pki, client_cert=False)
        assert status == 200 and b"cisco_smartlic_info" in body
    finally:
        daemon.stop()


@pytest.mark.parametrize(("config", "says"), [
    ("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n", "tls_server_config"),
    ("basic_auth_users:\n  alice: plaintext\n", "bcrypt"),
    ("basic_auth_users:\n  alice: $2y$10$tooshort\n", "bcrypt"),
    ("tls_config:\n  cert_file: x\n", "unknown key"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAnyClientCert\n",
     "not supported"),
])
def test_bad_web_config_is_a_clear_message(pki: Path, tmp_path: Path, config: str, says: str) -> None:
    daemon = start(pki, tmp_path, config)
    daemon.process.wait(timeout=20)
    err = daemon.process.stderr.read()
    assert daemon.process.returncode == 2 and says in err and "Traceback" not in err


def test_tls_handshake_counts_against_the_head_deadline(pki: Path, tmp_path: Path) -> None:
    """A silent client, one trickling its ClientHello, one trickling its request after the
    handshake: each is closed header_seconds after it connected; HTTPS meanwhile works."""
    config = pki / f"web-{tmp_path.name}.yml"
    config.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
    client = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    hello = client.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        hello.do_handshake()
    client_hello = outgoing.read()
    with serving(web=load(config), header_seconds=1.5) as server:
        port = server.server_address[1]
        started = time.monotonic()
        silent = socket.create_connection(("127.0.0.1", port))
        shaking = socket.create_connection(("127.0.0.1", port))
        assert 1.3 <= closed_after(shaking, started, client_hello, every=0.1) < 2.5
        assert closed_after(silent, started) < 2.5
        started = time.monotonic()
        slow = client.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=client, timeout=5)
        connection.request("GET", "/metrics")
        assert connection.getresponse().read() == b"up 1\n"
        connection.close()
        assert 1.3 <= closed_after(slow, started, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 100) < 2.5
        with pytest.raises((ssl.SSLError, ConnectionError)):
            request(port)  # plain HTTP to the TLS port
        for sock in (silent, shaking, slow):
            sock.close()


def start_basic_auth(pki: Path, tmp_path: Path, rounds: int) -> tuple[Daemon, dict[str, str]]:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=rounds)).decode().replace("$2b$", "$2y$")
    daemon = start(pki, tmp_path, f"basic_auth_users:\n  prometheus: {hashed}\n")
    good = {"Authorization": basic("prometheus", "s3cret")}

    def up() -> bool:
        try:
            return daemon.get("/metrics", good)[0] == 200
        except OSError:
            return False

    wait_for(up, 30)
    return daemon, good


def test_overlong_and_odd_passwords_are_401_without_a_traceback(pki: Path, tmp_path: Path) -> None:
    """bcrypt reads 72 bytes at most (bcrypt 5 raises beyond, bcrypt 4 truncates): a longer
    password is refused with 401, for a known user and an unknown one alike."""
    daemon, good = start_basic_auth(pki, tmp_path, rounds=4)
    try:
        for password in ("x" * 73, "s3cret" + "x" * 100, "\u00e9" * 40, "s3cret\x00", ""):
            for user in ("prometheus", "nobody"):
                status, body, _ = daemon.get("/metrics", {"Authorization": basic(user, password)})
                assert status == 401 and b"cisco_smartlic" not in body
        assert daemon.get("/metrics", {"Authorization": "Basic !!!"})[0] == 401
        status, body, _ = daemon.get("/metrics", good)
        assert status == 200 and b"cisco_smartlic_info" in body
    finally:
        code, err = daemon.stop()
    assert code == 0 and "Traceback" not in err and "s3cret" not in err


def test_unknown_user_costs_as_much_as_a_wrong_password(pki: Path, tmp_path: Path) -> None:
    """No user enumeration by timing: an unknown user is checked against a dummy hash of the
    same cost (10 here, about 70 ms) as a known user's wrong password."""
    daemon, good = start_basic_auth(pki, tmp_path, rounds=10)

    def median_seconds(user: str) -> float:
        times = []
        for attempt in range(5):
            started = time.perf_counter()
            status = daemon.get("/-/healthy", {"Authorization": basic(user, f"wrong{attempt}")})[0]
            times.append(time.perf_counter() - started)
            assert status == 401
        return statistics.median(times)

    try:
        known, unknown = median_seconds("prometheus"), median_seconds("nobody")
        cached = time.perf_counter()
        assert daemon.get("/-/healthy", good)[0] == 200  # the good password is remembered: no bcrypt
        cached = time.perf_counter() - cached
    finally:
        daemon.stop()
    print(f"\nbasic auth: wrong password {known * 1000:.1f} ms, unknown user {unknown * 1000:.1f} ms, "
          f"good password (remembered) {cached * 1000:.1f} ms (medians of 5, cost 10)")
    assert known / 3 <= unknown <= known * 3
