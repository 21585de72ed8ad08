"""The shipped Alertmanager example (dashboards/alertmanager/alertmanager.yml) end to end.

Real daemons read the inputs, a real Prometheus evaluates the shipped rules and sends to
Debian's `prometheus-alertmanager` running the shipped configuration; a webhook receiver in
this test (127.0.0.1) collects what Alertmanager notifies.
- A capture whose communication deadline is inside the critical threshold: the critical alert
  must arrive, at the critical receiver, naming the device, the deadline and the days left; its
  warning twin, firing at the same time, must be inhibited and never arrive.
- A fleet: one exporter follows a syslog in which 300 devices fail to reach Cisco through the
  proxy and one more device fails with DNS; a second exporter with 50 healthy devices goes down.
  Of the 300 + 1 per-device call-home alerts, 50 LicDeviceMissing, the fleet-wide alert and
  LicExporterDown, three notifications arrive: the fleet-wide alert, the exporter down, and the
  one device failing for its own reason.

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

from tests.support.captures import classic_status
from tests.support.daemon import Daemon, free_port
from tests.support.prometheus import Prometheus, binary, stop_process

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = PROJECT / "dashboards" / "alertmanager" / "alertmanager.yml"
RULES = PROJECT / "dashboards" / "prometheus" / "lic_exporter.rules.yml"
RULE_TESTS = PROJECT / "dashboards" / "prometheus" / "tests" / "lic_exporter.test.yml"
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
    (["alertname=LicCallhomeFailingFleetwide", "severity=warning", "reason=proxy"], "lic-warning"),
    (["alertname=LicExporterDown", "severity=critical", "instance=exporter-1:10311", "job=lic_exporter"],
     "lic-critical"),
    (["alertname=Unknown"], "lic-warning"),  # no severity: still notified
])
def test_routing_by_severity(labels: list[str], receiver: str) -> None:
    done = subprocess.run([binary("amtool"), "config", "routes", "test", f"--config.file={SHIPPED}", *labels],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [receiver]


def test_fleet_alerts_group_by_alertname_and_reason_device_alerts_by_device() -> None:
    """Alerts without a device label (the fleet-wide and exporter alerts, which the rules give
    none) take the fleet route; every alert with one keeps the root's grouping by device."""
    route = yaml.safe_load(SHIPPED.read_text())["route"]
    assert route["group_by"] == ["device"]
    [fleet] = [r for r in route["routes"] if r["matchers"] == ['device=""']]
    assert fleet["group_by"] == ["alertname", "reason"] and not fleet.get("continue")
    assert route["routes"].index(fleet) == 0  # before the severity routes, which would take them first
    rules = rules_by_name()
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    labels = {case["alertname"]: alert["exp_labels"] for test in tests for case in test.get("alert_rule_test", [])
              for alert in case["exp_alerts"]}
    fleet_level = {name for name in rules if "device" not in labels[name]}
    assert fleet_level == {"LicCallhomeFailingFleetwide", "LicExporterDown", "LicExporterAbsent",
                           "LicExporterParseErrors", "LicAccountShortage", "LicTermLicenceExpiring",
                           "LicTermLicenceExpiringCritical", "LicAccountPollFailing"}
    assert "reason" in labels["LicCallhomeFailingFleetwide"]


def test_inhibitions_match_on_labels_both_alerts_carry() -> None:
    """Each inhibit rule's `equal` labels are on its source and its target, as the promtool
    tests expect them (a label missing on both compares equal and would inhibit too much)."""
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    labels: dict[str, list[dict]] = {}
    for test in tests:
        for case in test.get("alert_rule_test", []):
            labels.setdefault(case["alertname"], []).extend(alert["exp_labels"] for alert in case["exp_alerts"])
    inhibit = yaml.safe_load(SHIPPED.read_text())["inhibit_rules"]
    by_source = {rule["source_matchers"][0]: rule for rule in inhibit}
    expected = {'alertname="LicCallhomeFailingFleetwide"': ('alertname="LicCallhomeFailuresRepeating"', ["reason"]),
                'alertname="LicExporterDown"': ('alertname="LicDeviceMissing"', ["instance", "job"]),
                'alertname="LicExporterAbsent"': ('alertname="LicDeviceMissing"', [])}
    for source, (target, equal) in expected.items():
        rule = by_source[source]
        assert rule["target_matchers"] == [target] and rule.get("equal", []) == equal, rule
        for name in (source, target):
            for found in labels[name.split('"')[1]]:
                assert set(equal) <= set(found), (name, found)


def test_every_critical_deadline_alert_has_a_warning_twin_the_inhibition_pairs() -> None:
    """Each `...Critical` deadline alert and its twin select the same `deadline` and keep it
    (no aggregation), so `equal: [device, deadline]` pairs them and nothing else."""
    rules = rules_by_name()
    inhibit = yaml.safe_load(SHIPPED.read_text())["inhibit_rules"]
    assert any(set(r["equal"]) == {"device", "deadline"} and 'deadline=~".+"' in r["source_matchers"]
               for r in inhibit)
    twins = [name for name in rules if name.endswith("Critical") and "deadline_timestamp" in rules[name]["expr"]]
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


def test_the_term_licence_twins_pair_on_the_licence_they_select() -> None:
    """LicTermLicenceExpiringCritical and its warning twin read the same series unaggregated, so
    the inhibition's `equal` (every label of a term-end series but instance) pairs one licence
    of one virtual account and nothing else; the critical mark is the nearer one."""
    rules = rules_by_name()
    critical, warning = rules["LicTermLicenceExpiringCritical"], rules["LicTermLicenceExpiring"]
    pattern = r"\(cisco_smartlic_account_license_term_end_timestamp_seconds - time\(\)\) / 86400\s*<\s*[0-9.]+"
    assert all(re.fullmatch(pattern, r["expr"].strip()) for r in (critical, warning))
    assert threshold(critical) < threshold(warning)
    inhibit = yaml.safe_load(SHIPPED.read_text())["inhibit_rules"]
    [pair] = [r for r in inhibit if r["source_matchers"] == ['alertname="LicTermLicenceExpiringCritical"']]
    assert pair["target_matchers"] == ['alertname="LicTermLicenceExpiring"']
    assert set(pair["equal"]) == {"source", "smart_account", "virtual_account", "license"}


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
    """Authorization renewals fail, the communication deadline is `days_left` away,
    registration is good for most of a year."""
    return classic_status(datetime.now(UTC), prompt=DEVICE, closing_prompt=True, authorized_days=days_left - 90,
                          failure_reason="Error parsing response data from SCH server", deadline_days=days_left)


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


FAILING, EDGE = 300, 50  # devices failing through the proxy; devices of the exporter that goes down
LONE = "nx-lone-01"  # one more device, failing with its own reason
HANDFUL = 5


def failure_lines(devices: list[str], text: str, now: datetime) -> list[str]:
    """Three COMM_FAILED lines a device within the last hour, in a collector's syslog layout."""
    lines = []
    for device in devices:
        for minutes in (40, 25, 10):
            at = now - timedelta(minutes=minutes)
            lines.append(f"{at:%b %d %H:%M:%S} logs01.example.net local7.err: {device}: {at:%Y %b %d %H:%M:%S}.120 "
                         "UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the Cisco Smart "
                         f"Software Manager (CSSM) : {text}")
    return lines


def healthy_capture(device: str, now: datetime) -> str:
    """Registered and authorized, renewed five days ago: nothing to alert on."""
    return classic_status(now, prompt=device, closing_prompt=True, virtual_account="DC2-Edge")


class TwoExporters(Prometheus):
    """The test's Prometheus (scrape and evaluation every second) with two exporters in the job
    `lic_exporter`, sending to one Alertmanager."""

    def __init__(self, folder: Path, ports: list[int], rule_file: Path, alertmanager: str):
        folder.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rule_file)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
            "scrape_configs": [{"job_name": "lic_exporter",
                                "static_configs": [{"targets": [f"127.0.0.1:{port}" for port in ports]}]}],
        }))
        self.log = open(folder / "prometheus.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [binary("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)


def test_a_fleet_wide_failure_and_an_exporter_outage_are_a_handful_of_notifications(tmp_path: Path) -> None:
    binary("prometheus")
    shipped = yaml.safe_load(SHIPPED.read_text())
    group_wait = duration_seconds(shipped["route"].get("group_wait", "30s"))
    now = datetime.now(UTC)
    proxy_failing = [f"nx-fleet-{number:03d}" for number in range(1, FAILING + 1)]
    syslog = tmp_path / "syslog" / "collector.log"
    syslog.parent.mkdir()
    syslog.write_text("\n".join(failure_lines(proxy_failing, "Proxy authentication required", now)
                                + failure_lines([LONE], "Unable to resolve server hostname/domain name", now)) + "\n")
    edge_devices = [f"nx-edge-{number:03d}" for number in range(1, EDGE + 1)]
    watch = tmp_path / "edge"
    watch.mkdir()
    for device in edge_devices:
        (watch / f"{device}.txt").write_text(healthy_capture(device, now))
    config, rules_copy = tmp_path / "alertmanager.yml", tmp_path / "lic_exporter.rules.yml"
    started: list = []
    receiver = Receiver()
    started.append(receiver)
    try:
        config.write_text(receivers_pointed_at(receiver.url))
        rules_copy.write_text(rules_held_for_nothing())
        alertmanager = Alertmanager(tmp_path / "alertmanager", config)
        started.append(alertmanager)
        wait_until("alertmanager ready", lambda: alertmanager.get("/-/ready") == 200, [alertmanager.process])
        failing, edge = Daemon("--syslog", str(syslog)), Daemon("--watch", str(watch))
        started += [failing, edge]
        failing.wait_ready()
        edge.wait_ready()
        prometheus = TwoExporters(tmp_path / "prometheus", [failing.port, edge.port], rules_copy,
                                  f"127.0.0.1:{alertmanager.port}")
        started.append(prometheus)
        processes = [alertmanager.process, failing.process, prometheus.process]
        edge_instance = f"127.0.0.1:{edge.port}"

        # Both exporters scraped: the edge devices seen, the failures counted; then the edge
        # exporter goes down.
        def scraped() -> bool:
            seen = prometheus.query(f'count(cisco_smartlic_info{{instance="{edge_instance}"}})')
            failures = prometheus.query("count(cisco_smartlic_callhome_failures_total)")
            return bool(seen and failures and float(seen[0]["value"][1]) == EDGE
                        and float(failures[0]["value"][1]) == FAILING + 1)

        wait_until("both exporters scraped", scraped, processes)
        edge.stop()

        def alerts_named(alerts: list[dict], name: str) -> list[dict]:
            return [alert for alert in alerts if alert["labels"]["alertname"] == name]

        def settled() -> list[dict] | None:
            """Every alert in Alertmanager, once all have come and the inhibitions hold."""
            alerts = alertmanager.alerts()
            fleetwide = alerts_named(alerts, "LicCallhomeFailingFleetwide")
            down = alerts_named(alerts, "LicExporterDown")
            repeating = alerts_named(alerts, "LicCallhomeFailuresRepeating")
            missing = alerts_named(alerts, "LicDeviceMissing")
            if not (len(fleetwide) == 1 and len(down) == 1 and len(repeating) == FAILING + 1 and len(missing) == EDGE):
                return None
            proxy = [alert for alert in repeating if alert["labels"]["reason"] == "proxy"]
            held = [alert for alert in proxy + missing if alert["status"]["state"] == "suppressed"]
            return alerts if len(held) == FAILING + EDGE else None

        alerts = wait_until("the alerts in Alertmanager, the per-device ones inhibited", settled, processes)
        seen = time.monotonic()
        [fleetwide] = alerts_named(alerts, "LicCallhomeFailingFleetwide")
        [down] = alerts_named(alerts, "LicExporterDown")
        assert fleetwide["labels"]["reason"] == "proxy" and fleetwide["status"]["state"] == "active"
        assert f"{FAILING} devices" in fleetwide["annotations"]["summary"]
        assert down["labels"]["instance"] == edge_instance and down["status"]["state"] == "active"
        for alert in alerts_named(alerts, "LicCallhomeFailuresRepeating"):
            if alert["labels"]["reason"] == "proxy":
                assert alert["status"]["inhibitedBy"] == [fleetwide["fingerprint"]], alert["labels"]
            else:  # the device failing for a reason of its own is not held back
                assert alert["labels"]["device"] == LONE and alert["status"]["state"] == "active", alert
        for alert in alerts_named(alerts, "LicDeviceMissing"):
            assert alert["labels"]["instance"] == edge_instance, alert["labels"]
            assert alert["status"]["inhibitedBy"] == [down["fingerprint"]], alert["labels"]

        # Every group has been flushed once its group_wait has passed since its alerts came.
        time.sleep(max(0.0, seen + group_wait + 10 - time.monotonic()))
        notified = {(path, alert["labels"]["alertname"],
                     alert["labels"].get("device") or alert["labels"].get("reason") or alert["labels"].get("instance"))
                    for path, body in receiver.notifications for alert in body["alerts"]}
        assert notified == {("/lic-warning", "LicCallhomeFailingFleetwide", "proxy"),
                            ("/lic-warning", "LicCallhomeFailuresRepeating", LONE),
                            ("/lic-critical", "LicExporterDown", edge_instance)}, notified
        count = len(receiver.notifications)
        assert count <= HANDFUL, [body["groupLabels"] for _, body in receiver.notifications]
        print(f"{len(alerts)} alerts in Alertmanager, {count} notifications")  # the number for the record
    finally:
        for running in reversed(started):
            running.stop()
