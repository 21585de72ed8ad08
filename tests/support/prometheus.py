"""A real Prometheus (Debian's `prometheus` package) on 127.0.0.1, scraping the daemon.

Where `prometheus` is missing the tests that need it skip, except under
LIC_EXPORTER_REQUIRE_PROMETHEUS=1 (set by .ci/run after installing the package), where a
missing Prometheus is a failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, free_port


def binary(name: str, install: str = "apt-get install prometheus") -> str:
    """The path of a real component the test needs. Missing: the test skips, except under
    LIC_EXPORTER_REQUIRE_PROMETHEUS=1 (CI), where every component is required and it fails."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("LIC_EXPORTER_REQUIRE_PROMETHEUS") == "1":
            pytest.fail(f"{name} not installed and LIC_EXPORTER_REQUIRE_PROMETHEUS=1 (CI): {install}")
        pytest.skip(f"{name} not installed ({install})")
    return found


class Prometheus:
    def __init__(self, folder: Path, target_port: int, rule_files: list[Path] | None = None,
                 alertmanager: str | None = None):
        """alertmanager: "host:port" of an Alertmanager to send the rules' alerts to."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "prometheus.yml"
        rules = "".join(f"  - {path}\n" for path in rule_files or [])
        alerting = (f'alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["{alertmanager}"]\n'
                    if alertmanager else "")
        config.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
{"rule_files:" + chr(10) + rules if rules else ""}{alerting}scrape_configs:
  - job_name: lic_exporter
    static_configs:
      - targets: ["127.0.0.1:{target_port}"]
""")
        self.log = open(folder / "prometheus.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [binary("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, expression: str) -> list[dict]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(url, timeout=10) as response:
            document = json.load(response)
        assert document["status"] == "success", document
        return document["data"]["result"]

    def wait_for(self, expression: str, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = self.query(expression)
                if result:
                    return result
            except OSError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited {self.process.returncode}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no result for {expression} within {timeout} s")
            time.sleep(0.5)

    def stop(self) -> None:
        stop_process(self.process, self.log)


def stop_process(process: subprocess.Popen, log) -> None:
    """Terminate a server started for a test (kill it if it lingers) and close its log."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def fixture_stack(folder: Path, rule_files: list[Path] | None = None) -> tuple[Daemon, Prometheus, Path]:
    """The daemon on a copy of the show fixtures and the syslog fixture, collecting from two
    test switches (one refusing its password), polling two fake Smart Accounts (one whose
    DC1-Fabric, the fixtures' virtual account, is short of a licence with a term ending; one
    answering 403), and a Prometheus scraping it every second.
    Returns them and the followed log (to append to)."""
    from tests.support.account_servers import CLIENT_ID, CLIENT_SECRET, FakeCssm, Fault, licence, secret_files
    from tests.support.paths import SHOW_FIXTURES, SYSLOG_FIXTURES
    from tests.support.switches import SwitchFarm

    binary("prometheus")
    watch = folder / "fleet"
    shutil.copytree(SHOW_FIXTURES, watch, ignore=shutil.ignore_patterns("*.json"))
    log = folder / "logs" / "switches.log"
    log.parent.mkdir()
    shutil.copy(SYSLOG_FIXTURES / "layouts.log", log)
    farm = SwitchFarm().start()
    good, refusing = farm.add(password="stack-password"), farm.add(password="another")
    term = {"licenseType": "TERM", "quantity": 4, "startDate": "2026-01-01",
            "endDate": (datetime.now(UTC) + timedelta(days=20)).date().isoformat(), "subscriptionId": "Sub-1",
            "status": "ACTIVE"}
    account = FakeCssm("example.com", {"DC1-Fabric": [licence("NX-OS Advantage", "DC1-Fabric", 4, 6, [term]),
                                                      licence("NX-OS Essentials", "DC1-Fabric", 10, 3)]},
                       CLIENT_ID, CLIENT_SECRET).__enter__()
    denied = FakeCssm("denied.example.com", {"VA": []}, CLIENT_ID, CLIENT_SECRET).__enter__()
    denied.faults.append(Fault("/services/api", status=403, body={"error": "Invalid Client"}, times=None))
    id_file, secret_file = secret_files(folder / "secrets")
    sources = "".join(f"""    {name}: {{type: cssm, smart_account: {fake.domain}, token_url: "{fake.token_url}",
      api_url: "{fake.api_url}", client_id_file: {id_file}, client_secret_file: {secret_file}}}
""" for name, fake in (("cisco", account), ("denied", denied)))
    config = folder / "targets.yml"
    config.write_text(f"""defaults: {{username: licmon, password_env: LIC_STACK_PASSWORD}}
targets:
  nx-collected-01: {{host: 127.0.0.1, port: {good.port}}}
  nx-collected-02: {{host: 127.0.0.1, port: {refusing.port}}}
collect: {{logins_per_second: 50}}
accounts:
  sources:
{sources}""")
    os.environ["LIC_STACK_PASSWORD"] = "stack-password"
    daemon = Daemon("--watch", str(watch), "--syslog", str(log.parent / "*.log"), "--config.file", str(config),
                    "--collect.dir", str(folder / "transcripts"))
    daemon.after_stop += [farm.stop, lambda: account.__exit__(None, None, None),
                          lambda: denied.__exit__(None, None, None)]
    daemon.wait_ready()
    return daemon, Prometheus(folder, daemon.port, rule_files=rule_files), log
