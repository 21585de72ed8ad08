"""End to end: the daemon on fixture files, scraped by a real Prometheus, read back through
Prometheus' HTTP query API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.prometheus import fixture_stack


@pytest.fixture
def stack(tmp_path: Path):
    daemon, prometheus, _ = fixture_stack(tmp_path)
    try:
        yield daemon, prometheus
    finally:
        prometheus.stop()
        daemon.stop()


def test_series_arrive_in_prometheus(stack) -> None:
    _, prometheus = stack
    up = prometheus.wait_for('up{job="lic_exporter"} == 1')
    assert up[0]["metric"]["instance"].startswith("127.0.0.1:")
    expired = prometheus.wait_for('cisco_smartlic_authorization_state{state="authorization_expired"} == 1')
    assert {r["metric"]["device"] for r in expired} == {"authorization_expired"}
    days = prometheus.wait_for('(cisco_smartlic_deadline_timestamp_seconds{device="n9k-spine-01",'
                               'deadline="communication_deadline"} - time()) / 86400')
    assert float(days[0]["value"][1]) != 0
    failures = prometheus.wait_for('sum(cisco_smartlic_callhome_failures_total{reason="dns"})')
    assert float(failures[0]["value"][1]) == 6
    info = prometheus.wait_for('cisco_smartlic_info{device="n9k-border-02"}')
    assert info[0]["metric"]["mode"] == "policy" and info[0]["metric"]["transport"] == "smart"
    ack = prometheus.wait_for('cisco_smartlic_deadline_timestamp_seconds{deadline="report_ack"}')
    assert ack and prometheus.wait_for("lic_exporter_files") and prometheus.wait_for("lic_exporter_syslog_lines_total")
    plain = prometheus.wait_for('cisco_smartlic_problem{problem="callhome_plain_http"} == 1')
    assert {r["metric"]["device"] for r in plain} == {"n9k-leaf-12"} and plain[0]["metric"]["severity"] == "critical"
