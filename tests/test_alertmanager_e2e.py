"""The shipped Alertmanager example (dashboards/alertmanager/alertmanager.yml) end to end.

The real daemon reads a capture whose communication deadline is inside the critical threshold
of the shipped rules; a real Prometheus evaluates the shipped rules and sends to Debian's
`prometheus-alertmanager` running the shipped configuration; a webhook receiver in this test
(127.0.0.1) collects what Alertmanager notifies. The critical alert must arrive, at the critical
receiver, naming the device, the deadline and the days left; its warning twin, firing at the
same time, must be inhibited and never arrive.

Two copies differ from the shipped files, nothing else:
- the Alertmanager configuration: only the receivers' webhook URLs, pointed at the test's
  receiver (routing, grouping, timings and inhibition are the shipped ones; the shipped
  group_wait of 30 s is what the test waits);
- the rules: every `for:` set to 0s, since the warning twins hold for an hour; expressions,
  labels and annotations are the shipped ones.

Without prometheus / prometheus-alertmanager / amtool the tests skip, except under
LIC_EXPORTER_REQUIRE_PROMETHEUS=1, where that is a failure."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.support.daemon import Daemon, free_port
from tests.support.prometheus import Prometheus, binary, stop_process

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = PROJECT / "dashboards" / "alertmanager" / "alertmanager.yml"
RULES = PROJECT / "dashboards" / "prometheus" / "lic_exporter.rules.yml"
DEVICE = "n9k-spine-07"
CRITICAL, WARNING = "LicCommunicationDeadlineCritical", "LicCommunicationDeadline"
WAIT = 90.0  # seconds, for anything to happen


def rules_by_name() -> dict[str, dict]:
    document = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"] if "alert" in rule}


def threshold(rule: dict) -> float:
    found = re.search(r"<\s*(-?[0-9.]+)\s*$", rule["expr"].strip())
    assert found, f"{rule['alert']}: expected `... < DAYS`, got {rule['expr']!r}"
    return float(found.group(1))


def duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"([0-9]+)(ms|s|m|h|d)", text)
    assert parts and "".join(n + u for n, u in parts) == text, text
    return sum(int(n) * units[u] for n, u in parts)


def test_shipped_config_passes_amtool() -> None:
    done = subprocess.run([binary("amtool"), "check-config", str(SHIPPED)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("labels", "receiver"), [
    (["alertname=LicCommunicationDeadlineCritical", "severity=critical", f"device={DEVICE}"], "lic-critical"),
    (["alertname=LicCommunicationDeadline", "severity=warning", f"device={DEVICE}"], "lic-warning"),
    (["alertname=LicProblem", "severity=critical", f"device={DEVICE}"], "lic-critical"),
    (["alertname=Unknown"], "lic-warning"),  # no severity: still notified
])
def test_routing_by_severity(labels: list[str], receiver: str) -> None:
    done = subprocess.run([binary("amtool"), "config", "routes", "test", f"--config.file={SHIPPED}", *labels],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [receiver]


def test_every_critical_deadline_alert_has_a_warning_twin_the_inhibition_pairs() -> None:
    """Each `...Critical` deadline alert and its twin select the same `deadline` and keep it
    (no aggregation), so `equal: [device, deadline]` pairs them and nothing else."""
    rules = rules_by_name()
    inhibit = yaml.safe_load(SHIPPED.read_text())["inhibit_rules"]
    assert any(set(r["equal"]) == {"device", "deadline"} and 'deadline=~".+"' in r["source_matchers"]
               for r in inhibit)
    twins = [name for name in rules if name.endswith("Critical")]
    assert CRITICAL in twins
    for name in twins:
        critical, warning = rules[name], rules[name.removesuffix("Critical")]
        assert critical["labels"]["severity"] == "critical" and warning["labels"]["severity"] == "warning"
        # Days left from the timestamp, computed by Prometheus (the exporter need not export them).
        pattern = (r'\(cisco_smartlic_deadline_timestamp_seconds\{deadline="(\w+)"\} - time\(\)\) / 86400'
                   r'\s*<\s*-?[0-9.]+')
        selectors = [re.fullmatch(pattern, r["expr"].strip()) for r in (critical, warning)]
        assert all(selectors), (name, critical["expr"], warning["expr"])
        assert selectors[0].group(1) == selectors[1].group(1)
        assert threshold(critical) < threshold(warning)


class Receiver:
    """An HTTP server on 127.0.0.1 keeping every webhook notification posted to it."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, dict]] = []  # (path, Alertmanager's JSON)
        lock, notifications = threading.Lock(), self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    notifications.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self) -> list[tuple[str, dict]]:
        """(path, alert) for every alert in every notification so far."""
        return [(path, alert) for path, body in list(self.notifications) for alert in body["alerts"]]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Alertmanager:
    def __init__(self, folder: Path, config: Path):
        folder.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / "alertmanager.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [binary("prometheus-alertmanager"), f"--config.file={config}", f"--storage.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path: str) -> object:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.load(response) if path.startswith("/api/") else response.status

    def alerts(self) -> list[dict]:
        return self.get("/api/v2/alerts")  # type: ignore[return-value]

    def stop(self) -> None:
        stop_process(self.process, self.log)


def wait_until(what: str, check: Callable[[], object], processes: list, timeout: float = WAIT) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except OSError:
            pass
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"{process.args[0]} exited {process.returncode} waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.5)


def receivers_pointed_at(url: str) -> str:
    """The shipped configuration with only its receivers' webhook URLs replaced."""
    config = yaml.safe_load(SHIPPED.read_text())
    for receiver in config["receivers"]:
        assert set(receiver) <= {"name", "webhook_configs"}, (
            f"receiver {receiver['name']}: only webhooks can be pointed at the test (no traffic off 127.0.0.1)")
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"{url}/{receiver['name']}"
    return yaml.safe_dump(config, sort_keys=False)


def rules_held_for_nothing() -> str:
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    return yaml.safe_dump(document, sort_keys=False)


def capture(days_left: float) -> str:
    """Modelled on tests/fixtures/show/communication_failed.txt: authorization renewals fail,
    the communication deadline is `days_left` away, registration is good for most of a year."""
    now = datetime.now(UTC)

    def at(delta: timedelta) -> str:
        return (now + delta).strftime("%b %d %H:%M:%S %Y UTC")

    return f"""{DEVICE}# show license status

Smart Licensing is ENABLED

Registration:
  Status: REGISTERED
  Smart Account: Example Networks Inc
  Virtual Account: DC1-Fabric
  Export-Controlled Functionality: Allowed
  Initial Registration: SUCCEEDED on {at(timedelta(days=-60))}
  Last Renewal Attempt: None
  Next Renewal Attempt: {at(timedelta(days=120))}
  Registration Expires: {at(timedelta(days=305))}

License Authorization:
  Status: AUTHORIZED on {at(timedelta(days=days_left - 90))}
  Last Communication Attempt: FAILED on {at(timedelta(hours=-1))}
    Failure reason: Error parsing response data from SCH server
  Next Communication Attempt: {at(timedelta(hours=23))}
  Communication Deadline: {at(timedelta(days=days_left))}

Smart License Conversion:
  Automatic Conversion Enabled: False
  Status: Not started

{DEVICE}#
"""


def test_critical_arrives_and_its_warning_twin_is_inhibited(tmp_path: Path) -> None:
    binary("prometheus")
    rules = rules_by_name()
    critical_below, warning_below = threshold(rules[CRITICAL]), threshold(rules[WARNING])
    days_left = critical_below / 2  # inside both thresholds: both alerts fire
    assert 0 < days_left < critical_below < warning_below
    shipped = yaml.safe_load(SHIPPED.read_text())
    warning_route = next(r for r in shipped["route"]["routes"] if r["matchers"] == ['severity="warning"'])
    group_wait = duration_seconds(warning_route.get("group_wait", shipped["route"].get("group_wait", "30s")))

    watch = tmp_path / "fleet"
    watch.mkdir()
    (watch / f"{DEVICE}.txt").write_text(capture(days_left))
    config = tmp_path / "alertmanager.yml"
    rules_copy = tmp_path / "lic_exporter.rules.yml"
    started: list = []
    receiver = Receiver()
    started.append(receiver)
    try:
        config.write_text(receivers_pointed_at(receiver.url))
        rules_copy.write_text(rules_held_for_nothing())
        alertmanager = Alertmanager(tmp_path / "alertmanager", config)
        started.append(alertmanager)
        wait_until("alertmanager ready", lambda: alertmanager.get("/-/ready") == 200, [alertmanager.process])
        daemon = Daemon("--watch", str(watch))
        started.append(daemon)
        daemon.wait_ready()
        (tmp_path / "prometheus").mkdir()
        prometheus = Prometheus(tmp_path / "prometheus", daemon.port, rule_files=[rules_copy],
                                alertmanager=f"127.0.0.1:{alertmanager.port}")
        started.append(prometheus)
        processes = [alertmanager.process, daemon.process, prometheus.process]

        def mine(alert: dict, name: str) -> bool:
            return alert["labels"].get("alertname") == name and alert["labels"].get("device") == DEVICE

        # Both twins reach Alertmanager; the warning is held back by the critical one.
        def both_in_alertmanager() -> tuple[dict, dict] | None:
            alerts = alertmanager.alerts()
            critical = [a for a in alerts if mine(a, CRITICAL)]
            warning = [a for a in alerts if mine(a, WARNING) and a["status"]["state"] == "suppressed"]
            return (critical[0], warning[0]) if critical and warning else None

        in_alertmanager, inhibited = wait_until(
            f"{CRITICAL} active and {WARNING} inhibited in Alertmanager", both_in_alertmanager, processes)
        seen = time.monotonic()
        assert in_alertmanager["status"]["state"] == "active"
        assert inhibited["status"]["inhibitedBy"] == [in_alertmanager["fingerprint"]]
        assert inhibited["labels"]["deadline"] == "communication_deadline"

        # The critical one is notified, to the critical receiver only.
        wait_until(f"{CRITICAL} notified", lambda: [a for _, a in receiver.alerts() if mine(a, CRITICAL)], processes)
        notified = [(path, a) for path, a in receiver.alerts() if mine(a, CRITICAL)]
        assert {path for path, _ in notified} == {"/lic-critical"}
        alert = notified[0][1]
        assert alert["status"] == "firing"
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["deadline"] == "communication_deadline"
        assert DEVICE in alert["annotations"]["summary"] and DEVICE in alert["annotations"]["description"]
        days = re.search(r"in (-?[0-9.]+) days", alert["annotations"]["summary"])
        assert days and abs(float(days.group(1)) - days_left) < 0.1, alert["annotations"]["summary"]
        assert alert["annotations"]["runbook"].startswith("docs/alerts.md#")

        # The warning's group is flushed by now (its alerts arrived by `seen`): nothing of it came.
        time.sleep(max(0.0, seen + group_wait + 5 - time.monotonic()))
        assert prometheus.query(f'ALERTS{{alertname="{WARNING}",device="{DEVICE}",alertstate="firing"}}')
        assert not [a for _, a in receiver.alerts() if mine(a, WARNING)], receiver.notifications
        for path, body in receiver.notifications:  # whatever else came, came where its severity says
            assert path == f"/{body['receiver']}"
            assert all(a["labels"].get("severity", "warning") in body["receiver"] for a in body["alerts"])
    finally:
        for running in reversed(started):
            running.stop()
