"""Loopback stand-ins for Cisco's account APIs: a fake CSSM (token endpoint, virtual accounts,
paged licences) over plain HTTP on 127.0.0.1, and a fake SSM On-Prem over TLS with a test CA,
each run in a thread, recording every request and answering with faults a test sets.

Answer shapes (shapes only; no text taken from them):
- CSSM token: an OAuth2 client-credentials answer `{"access_token", "token_type": "Bearer",
  "expires_in"}` to a form POST, as Cisco's DevNet sample scripts for the Smart Accounts and
  Licensing API fetch it (Cisco Sample Code License, "SL-Pull-Token-Transfer-Licenses-Between-VAs"),
  and as RFC 6749 section 4.4 defines it.
- CSSM virtual accounts `GET .../v1/accounts/DOMAIN/customer/virtual-accounts` ->
  `{"virtualAccounts": [{"name", "isDefault", "description", ...}], "status", "statusMessage"}`,
  and licences `POST .../v1/accounts/DOMAIN/licenses` with `{"virtualAccounts": [VA], "limit",
  "offset"}` -> `{"totalRecords", "licenses": [...], "status", "statusMessage"}`: the requests of
  Cisco's DevNet samples (the license-transfer sample above; a "SmartAccountSDK" sample whose
  `list_licenses` posts limit 100 / offset 0), with the licence fields this project's contract
  lists (`license`, `virtualAccount`, `quantity`, `inUse`, `available`, `status`, `billingType`,
  `pendingQuantity`, `reserved`, `licenseDetails[]`).
- SSM On-Prem: `POST /backend/oauth/token` with a JSON body, then `POST
  /api/v1/accounts/ACCOUNT/licenses` and `.../alerts` with `{"limit": -1}`, as the Centreon
  plugin for it does (centreon/centreon-plugins, src/apps/cisco/ssms/restapi/custom/api.pm;
  alerts' `messageType` and `severity` Major/Minor as its mode/alerts.pm reads them).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import secrets
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CSSM_TOKEN_PATH = "/oauth2/default/v1/token"
CSSM_API_PATH = "/services/api"
ONPREM_TOKEN_PATH = "/backend/oauth/token"


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    body: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Fault:
    """An answer given instead of the normal one to requests whose path contains `where`
    ("token" for the token endpoint), `times` times (None: always).

    `status`/`body`/`headers` make the answer; `delay` sleeps before it (a slow server);
    `size` sends that many bytes of a JSON string (oversized), with or without a
    Content-Length (`declare_length`)."""

    where: str
    status: int = 200
    body: Any = None  # bytes as they are; anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    delay: float = 0.0
    size: int | None = None
    declare_length: bool = True
    method: str | None = None


def licence(name: str, virtual_account: str, quantity: int = 10, in_use: int = 4,
            details: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A CSSM licence row, `available` = quantity - in use unless given."""
    row = {"license": name, "virtualAccount": virtual_account, "quantity": quantity, "inUse": in_use,
           "available": quantity - in_use, "status": "In Compliance" if quantity >= in_use else "Out Of Compliance",
           "billingType": "PREPAID", "pendingQuantity": 0, "reserved": 0,
           "licenseDetails": details if details is not None else [
               {"licenseType": "PERPETUAL", "quantity": quantity, "startDate": "2024-01-01", "endDate": None,
                "subscriptionId": None, "status": "ACTIVE"}]}
    row.update(extra)
    return row


def many_licences(virtual_account: str, count: int) -> list[dict[str, Any]]:
    return [licence(f"NX-OS Licence {number:04d}", virtual_account, quantity=number % 7 + 1, in_use=number % 5)
            for number in range(count)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a poll's pages share one connection, as in production
    disable_nagle_algorithm = True  # headers and body apart would otherwise wait for a delayed ACK (40 ms)
    wbufsize = 1 << 16  # flushed after each request by BaseHTTPRequestHandler
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        seen = Seen(method, self.path, body, {key.lower(): value for key, value in self.headers.items()})
        fake = self.server.fake
        fake.record(seen)
        fault = fake.fault_for(seen)
        if fault is not None:
            self._fault(fault)
            return
        status, answer, headers = fake.answer(seen)
        self._send(status, answer, headers)

    def _fault(self, fault: Fault) -> None:
        if fault.delay and self.server.fake.stopping.wait(fault.delay):
            return
        if fault.size is not None:
            self._oversized(fault)
            return
        self._send(fault.status, fault.body if fault.body is not None else {}, fault.headers)

    def _oversized(self, fault: Fault) -> None:
        assert fault.size is not None
        head, tail = b'{"licenses": ["', b'"]}'
        self.send_response(fault.status)
        self.send_header("Content-Type", "application/json")
        if fault.declare_length:
            self.send_header("Content-Length", str(len(head) + fault.size + len(tail)))
        else:  # the body ends when the connection does
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(head)
            block = b"x" * 65536
            left = fault.size
            while left > 0:
                self.wfile.write(block[:left])
                left -= len(block)
            self.wfile.write(tail)
        except OSError:
            self.close_connection = True  # the client gave up once it had enough: what it should do

    def _send(self, status: int, answer: Any, headers: dict[str, str]) -> None:
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAccountServer


class FakeAccountServer:
    """A loopback HTTP(S) server in a thread of its own; the base of both fakes."""

    token_path = ""

    def __init__(self, client_id: str, client_secret: str, tls: ssl.SSLContext | None = None,
                 expires_in: int = 3600, token_uses: int | None = None, echo_secrets: bool = False):
        self.client_id, self.client_secret = client_id, client_secret
        self.expires_in = expires_in
        self.token_uses = token_uses  # a token refused (401) after this many API requests: expired early
        self.echo_secrets = echo_secrets  # every answer repeats the client's id and secret and its token
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self.tokens: dict[str, int] = {}  # every token issued -> API requests made with it
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-{type(self).__name__}", daemon=True)

    def __enter__(self) -> FakeAccountServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    # --- what tests read -----------------------------------------------------------------

    def count(self, where: str = "", method: str | None = None) -> int:
        """Requests whose path contains `where`."""
        with self._lock:
            return sum(1 for seen in self.requests if where in seen.path and method in (None, seen.method))

    def seen(self, where: str = "") -> list[Seen]:
        with self._lock:
            return [seen for seen in self.requests if where in seen.path]

    def secrets(self) -> list[str]:
        """What must never be written: the client's id and secret, and every token issued."""
        with self._lock:
            return [self.client_id, self.client_secret, *self.tokens]

    # --- serving --------------------------------------------------------------------------

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def fault_for(self, seen: Seen) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.where in seen.path and fault.method in (None, seen.method) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def answer(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        path = urlsplit(seen.path).path
        if path == self.token_path:
            return self._token(seen)
        refusal = self._refused(seen)
        if refusal is not None:
            return refusal
        status, answer = self.api(seen.method, unquote(path), seen.json())
        if self.echo_secrets and isinstance(answer, dict):
            answer = self._echoing(answer, seen)
        return status, answer, {}

    def _token(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        asked = self.credentials(seen)
        if asked.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, {}
        if asked.get("client_id") != self.client_id or asked.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}, {}
        token = f"tok-{len(self.tokens) + 1}-{secrets.token_hex(12)}"
        with self._lock:
            self.tokens[token] = 0
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        if self.echo_secrets:
            answer["scope"] = f"read {self.client_id}"
        return 200, answer, {}

    def _refused(self, seen: Seen) -> tuple[int, Any, dict[str, str]] | None:
        header = seen.headers.get("authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        with self._lock:
            uses = self.tokens.get(token)
            if uses is None or (self.token_uses is not None and uses >= self.token_uses):
                return 401, {"error": "invalid_token", "error_description": "The access token expired"}, \
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            self.tokens[token] = uses + 1
        return None

    def _echoing(self, answer: dict[str, Any], seen: Seen) -> dict[str, Any]:
        """An answer that repeats what it was sent (a debugging proxy, a careless server)."""
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        echoed = dict(answer)
        echoed.update({"client_secret": self.client_secret, "accessToken": token,
                       "requestedBy": self.client_id, "statusMessage": f"served {token} for {self.client_id}",
                       "debug": {"Authorization": f"Bearer {token}", "note": f"secret={self.client_secret}"}})
        return echoed

    def credentials(self, seen: Seen) -> dict[str, str]:
        raise NotImplementedError

    def api(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        raise NotImplementedError


class FakeCssm(FakeAccountServer):
    """Cisco Smart Software Manager in the cloud: one Smart Account `domain` with virtual
    accounts, each a list of licence rows. Token endpoint and API on one loopback server
    (token_url and api_url are configured apart, as the contract allows)."""

    token_path = CSSM_TOKEN_PATH

    def __init__(self, domain: str, virtual_accounts: dict[str, list[dict[str, Any]]], client_id: str,
                 client_secret: str, **options: Any):
        super().__init__(client_id, client_secret, **options)
        self.domain = domain
        self.virtual_accounts = virtual_accounts

    @property
    def token_url(self) -> str:
        return self.url + CSSM_TOKEN_PATH

    @property
    def api_url(self) -> str:
        return self.url + CSSM_API_PATH

    def credentials(self, seen: Seen) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(seen.body).items()}

    def api(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        base = f"{CSSM_API_PATH}/smart-accounts-and-licensing/v1/accounts/{self.domain}"
        if method == "GET" and path == f"{base}/customer/virtual-accounts":
            return 200, {"virtualAccounts": [{"name": name, "isDefault": index == 0, "description": f"{name} fabric",
                                              "status": "ACTIVE"}
                                             for index, name in enumerate(self.virtual_accounts)],
                         "status": "SUCCESS", "statusMessage": ""}
        if method == "POST" and path == f"{base}/licenses":
            return self._licences(body)
        return 404, {"status": "ERROR", "statusMessage": "not found"}

    def _licences(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("virtualAccounts"), list):
            return 400, {"status": "ERROR", "statusMessage": "virtualAccounts is required"}
        limit, offset = body.get("limit", 50), body.get("offset", 0)
        if not isinstance(limit, int) or not isinstance(offset, int) or not 0 < limit <= 1000 or offset < 0:
            return 400, {"status": "ERROR", "statusMessage": "bad limit or offset"}
        rows = list(itertools.chain.from_iterable(self.virtual_accounts.get(name, [])
                                                  for name in body["virtualAccounts"]))
        return 200, {"totalRecords": len(rows), "licenses": rows[offset:offset + limit], "status": "SUCCESS",
                     "statusMessage": ""}


class FakeOnprem(FakeAccountServer):
    """An SSM On-Prem server over TLS: one local account with its licences and open alerts."""

    token_path = ONPREM_TOKEN_PATH

    def __init__(self, account: str, licences: list[dict[str, Any]], alerts: list[dict[str, Any]], client_id: str,
                 client_secret: str, tls: ssl.SSLContext, **options: Any):
        super().__init__(client_id, client_secret, tls=tls, **options)
        self.account = account
        self.licences, self.alerts = licences, alerts

    def credentials(self, seen: Seen) -> dict[str, str]:
        body = seen.json() if seen.headers.get("content-type", "").startswith("application/json") else None
        return {key: str(value) for key, value in body.items()} if isinstance(body, dict) else {}

    def api(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        base = f"/api/v1/accounts/{self.account}"
        if method != "POST" or body != {"limit": -1}:
            return 400, {"error": "expected POST with {\"limit\": -1}"}
        if path == f"{base}/licenses":
            return 200, {"licenses": self.licences}
        if path == f"{base}/alerts":
            return 200, {"alerts": self.alerts}
        return 404, {"error": "no such account"}


# ---------------------------------------------------------------- TLS and ports

@dataclass(frozen=True)
class TestCa:
    """A CA made for one test, and a server certificate it signed for 127.0.0.1 and localhost."""

    ca_file: Path
    server: ssl.SSLContext


def make_tls(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TestCa:
    """A fresh CA (its certificate in folder/ca.pem) and a server context with a certificate it
    signed for `hosts`."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lic-exporter test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])).issuer_name(ca_name)
              .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, chain, key = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    return TestCa(ca_file, context)


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def found_in(texts: dict[str, str], needles: list[str]) -> list[str]:
    """`where: needle` for each needle (a secret, a token) found in any of the named texts."""
    return [f"{where}: {needle[:6]}..." for where, text in texts.items() for needle in needles
            if needle and needle in text]



# ---------------------------------------------------------------- configurations

CLIENT_ID = "lic-exporter-test-client-7f3a9c"
CLIENT_SECRET = "Zk9-test-secret-4b1e2d8a6c"


def secret_files(folder: Path, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET,
                 mode: int = 0o600) -> tuple[Path, Path]:
    """The client's id and secret in two files of `mode`, as an operator keeps them."""
    folder.mkdir(parents=True, exist_ok=True)
    id_file, secret_file = folder / "client.id", folder / "client.secret"
    for path, value in ((id_file, client_id), (secret_file, client_secret)):
        path.write_text(value + "\n")
        path.chmod(mode)
    return id_file, secret_file


def cssm_entry(fake: FakeCssm, id_file: Path, secret_file: Path, **keys: Any) -> dict[str, Any]:
    """An `accounts.sources.NAME` entry of type cssm pointing at `fake`."""
    return {"type": "cssm", "smart_account": fake.domain, "client_id_file": str(id_file),
            "client_secret_file": str(secret_file), "token_url": fake.token_url, "api_url": fake.api_url, **keys}


def onprem_entry(fake: FakeOnprem, id_file: Path, secret_file: Path, ca_file: Path | None, **keys: Any) \
        -> dict[str, Any]:
    """An `accounts.sources.NAME` entry of type onprem pointing at `fake`."""
    entry = {"type": "onprem", "url": fake.url, "account": fake.account, "client_id_file": str(id_file),
             "client_secret_file": str(secret_file), **keys}
    if ca_file is not None:
        entry["ca_file"] = str(ca_file)
    return entry


# ---------------------------------------------------------------- an HTTP proxy

class _ProxyHandler(BaseHTTPRequestHandler):
    """Forwards absolute-form requests (`POST http://host:port/path HTTP/1.1`, as a client sends
    a plain http:// request through a proxy) and records each target; CONNECT is not needed
    for the loopback fakes, which are plain HTTP."""

    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._forward("GET")

    def do_POST(self) -> None:
        self._forward("POST")

    def _forward(self, method: str) -> None:
        import http.client

        target = urlsplit(self.path)
        self.server.targets.append(f"{method} {target.hostname}:{target.port}{target.path}")
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {key: value for key, value in self.headers.items()
                   if key.lower() not in ("proxy-connection", "connection", "host")}
        upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=30)
        try:
            upstream.request(method, target.path + (f"?{target.query}" if target.query else ""), body, headers)
            answer = upstream.getresponse()
            content = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        finally:
            upstream.close()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    targets: list[str]


class ForwardProxy:
    """A loopback HTTP proxy that forwards plain http:// requests and lists what went through."""

    def __init__(self) -> None:
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.targets = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def targets(self) -> list[str]:
        return list(self._server.targets)
