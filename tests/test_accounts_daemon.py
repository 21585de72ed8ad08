"""The daemon and account snapshots: a real `serve` process exports what the snapshots in its
folders state, keeps the last good data of a snapshot replaced with junk (and counts the error),
drops a deleted one; with `--config.file --collect.dir` it polls loopback fakes of CSSM and SSM
On-Prem (tests/support/account_servers.py) into DIR and exports the account families and how
each source's polls went, with the failure's reason, and no secret on the page or in its log."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import yaml

from tests.support.account_servers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeCssm,
    FakeOnprem,
    Fault,
    cssm_entry,
    found_in,
    licence,
    make_tls,
    onprem_entry,
    secret_files,
)
from tests.support.daemon import Daemon, series, wait_for
from tests.support.paths import FIXTURES

ACCOUNTS = FIXTURES / "accounts"
NOW = "2026-12-02T12:00:00+00:00"
ADVANTAGE, ESSENTIALS = "NX-OS Advantage for N9K 48p 10/25G", "NX-OS Essentials for N9K 48p 10/25G"
AVAILABLE = "cisco_smartlic_account_license_available"
REASONS = ("auth", "forbidden", "rate_limited", "connect", "timeout", "tls", "http", "response", "other")


def test_snapshots_in_a_watched_folder_kept_when_damaged_dropped_when_deleted(tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    for name in ("cisco.accounts.json", "dc1-onprem.accounts.json"):
        shutil.copy(ACCOUNTS / name, watched / name)
    daemon = Daemon("--watch", str(watched), "--now", NOW)
    try:
        daemon.wait_ready()
        values = daemon.samples()
        assert series(values, AVAILABLE, source="cisco", virtual_account="DC1-Fabric", license=ADVANTAGE) == [-2]
        assert series(values, "cisco_smartlic_account_license_quantity", source="dc1-onprem", virtual_account="",
                      license=ESSENTIALS) == [2]
        assert series(values, "cisco_smartlic_account_alerts", source="dc1-onprem", severity="major") == [2]
        assert series(values, "cisco_smartlic_account_license_status", source="cisco", virtual_account="DC2",
                      license=ESSENTIALS, state="in_compliance") == [1]
        assert not [name for name, _ in values if name.startswith("lic_exporter_accounts_")]  # nothing polled
        assert series(values, "lic_exporter_files", state="ok") == [2]
        errors_before = series(values, "lic_exporter_parse_errors_total")[0]

        (watched / "cisco.accounts.json").write_text((ACCOUNTS / "damaged.accounts.json").read_text())
        wait_for(lambda: series(daemon.samples(), "lic_exporter_files", state="error") == [1])
        values = daemon.samples()
        assert series(values, AVAILABLE, source="cisco", virtual_account="DC1-Fabric", license=ADVANTAGE) == [-2]
        assert series(values, "lic_exporter_parse_errors_total")[0] == errors_before + 1

        (watched / "cisco.accounts.json").unlink()
        wait_for(lambda: not series(daemon.samples(), AVAILABLE, source="cisco"))
        values = daemon.samples()
        assert series(values, AVAILABLE, source="dc1-onprem", virtual_account="", license=ESSENTIALS) == [-1]
        assert series(values, "lic_exporter_files", state="error") == [0]
    finally:
        code, log = daemon.stop()
    assert code == 0, log
    assert "cisco.accounts.json:18: not valid JSON" in log


def test_serve_polls_the_sources_into_the_collect_dir_and_exports_them(tmp_path: Path) -> None:
    id_file, secret_file = secret_files(tmp_path / "secrets")
    tls = make_tls(tmp_path / "tls")
    cssm = FakeCssm("example.com", {
        "DC1-Fabric": [licence(ADVANTAGE, "DC1-Fabric", quantity=10, in_use=12, details=[
            {"licenseType": "TERM", "quantity": 10, "startDate": "2024-02-01", "endDate": "2027-01-31",
             "subscriptionId": "Sub1", "status": "ACTIVE"}])],
        "Lab-Empty": []}, CLIENT_ID, CLIENT_SECRET, echo_secrets=True)
    onprem = FakeOnprem("Example Networks", [{"license": ESSENTIALS, "status": "Out of Compliance", "inUse": 3,
                                              "available": -1, "quantity": 2}],
                        [{"messageType": "License Shortage", "severity": "Major", "source": ESSENTIALS}],
                        CLIENT_ID, CLIENT_SECRET, tls=tls.server)
    denied = FakeCssm("denied.example.com", {"VA": []}, CLIENT_ID, CLIENT_SECRET)
    denied.faults.append(Fault("/services/api", status=403, body={"error": "Invalid Client"}, times=None))
    sources = {"cisco": cssm_entry(cssm, id_file, secret_file),
               "dc1-onprem": onprem_entry(onprem, id_file, secret_file, tls.ca_file),
               "denied": cssm_entry(denied, id_file, secret_file)}
    config = tmp_path / "lic_exporter.yml"
    config.write_text(yaml.safe_dump({"accounts": {"poll_interval": "6h", "sources": sources}}))
    out = tmp_path / "collected"
    with cssm, onprem, denied:
        daemon = Daemon("--config.file", str(config), "--collect.dir", str(out), "--now", NOW)
        try:
            daemon.wait_ready()
            wait_for(lambda: len(series(daemon.samples(), "lic_exporter_accounts_poll_success")) == 3
                     and series(daemon.samples(), AVAILABLE, source="dc1-onprem"), timeout=30)
            values = daemon.samples()
            page = daemon.get("/metrics")[1].decode()
            assert series(values, "lic_exporter_accounts_poll_success", source="cisco") == [1]
            assert series(values, "lic_exporter_accounts_poll_success", source="dc1-onprem") == [1]
            assert series(values, "lic_exporter_accounts_poll_success", source="denied") == [0]
            for source in ("cisco", "dc1-onprem", "denied"):
                failures = {reason: series(values, "lic_exporter_accounts_poll_failures_total", source=source,
                                           reason=reason) for reason in REASONS}
                expected = {reason: [1 if (source, reason) == ("denied", "forbidden") else 0] for reason in REASONS}
                assert failures == expected, source
                assert series(values, "lic_exporter_accounts_poll_interval_seconds", source=source) == [21600]
            assert series(values, "lic_exporter_accounts_last_success_timestamp_seconds", source="cisco")[0] > 0
            assert not series(values, "lic_exporter_accounts_last_success_timestamp_seconds", source="denied")
            assert series(values, AVAILABLE, source="cisco", smart_account="example.com",
                          virtual_account="DC1-Fabric", license=ADVANTAGE) == [-2]
            assert series(values, "cisco_smartlic_account_license_term_end_timestamp_seconds", source="cisco",
                          license=ADVANTAGE) == [1801353600]  # 2027-01-31T00:00:00Z
            assert series(values, AVAILABLE, source="dc1-onprem", smart_account="Example Networks",
                          virtual_account="", license=ESSENTIALS) == [-1]
            assert series(values, "cisco_smartlic_account_alerts", source="dc1-onprem", severity="major") == [1]
            assert series(values, "cisco_smartlic_account_alerts", source="dc1-onprem", severity="minor") == [0]
            assert not series(values, AVAILABLE, source="denied")  # no snapshot: nothing to say
            snapshot = json.loads((out / "cisco.accounts.json").read_text())
            assert "Lab-Empty" in [answer.get("virtual_account") for answer in snapshot["answers"]]

            # A reload without the denied source: its poll families go, the others stay.
            del sources["denied"]
            config.write_text(yaml.safe_dump({"accounts": {"poll_interval": "6h", "sources": sources}}))
            daemon.process.send_signal(signal.SIGHUP)
            wait_for(lambda: not series(daemon.samples(), "lic_exporter_accounts_poll_success", source="denied"))
            assert series(daemon.samples(), "lic_exporter_accounts_poll_success", source="cisco") == [1]

            # A reload of an accounts: section with a problem keeps the running configuration.
            config.write_text(yaml.safe_dump({"accounts": {"poll_interval": "1m", "sources": sources}}))
            daemon.process.send_signal(signal.SIGHUP)
            wait_for(lambda: series(daemon.samples(), "lic_exporter_config_last_reload_successful") == [0])
            assert series(daemon.samples(), "lic_exporter_accounts_poll_success", source="cisco") == [1]
        finally:
            code, log = daemon.stop()
        secrets = [*cssm.secrets(), *onprem.secrets(), *denied.secrets()]
    assert code == 0, log
    assert "denied" in log and "forbidden" in log
    assert "not reloaded, the running configuration is kept" in log and "accounts.poll_interval" in log
    texts = {"page": page, "log": log, **{path.name: path.read_text() for path in out.glob("*.accounts.json")}}
    assert not found_in(texts, secrets)


def test_a_reload_with_the_secret_fixed_polls_at_once_and_shard_two_polls_nothing(tmp_path: Path) -> None:
    """A source refused for a wrong secret is polled again as soon as a reload brings the fixed
    one (not at its next slot, hours away); under --collect.shard 2/2 the account sources are
    left to shard 1, so that N exporters poll each Smart Account once."""
    id_file, secret_file = secret_files(tmp_path / "secrets", client_secret="not-the-secret")
    config = tmp_path / "lic_exporter.yml"
    with FakeCssm("example.com", {"DC1-Fabric": [licence(ADVANTAGE, "DC1-Fabric", 4, 2)]},
                  CLIENT_ID, CLIENT_SECRET) as cssm:
        config.write_text(yaml.safe_dump({"accounts": {"sources": {"cisco": cssm_entry(cssm, id_file, secret_file)}}}))
        daemon = Daemon("--config.file", str(config), "--collect.dir", str(tmp_path / "out"), "--now", NOW)
        try:
            daemon.wait_ready()
            wait_for(lambda: series(daemon.samples(), "lic_exporter_accounts_poll_failures_total", source="cisco",
                                    reason="auth") == [1], timeout=30)
            secret_file.write_text(CLIENT_SECRET + "\n")
            daemon.process.send_signal(signal.SIGHUP)
            wait_for(lambda: series(daemon.samples(), "lic_exporter_accounts_poll_success", source="cisco") == [1],
                     timeout=30)
            wait_for(lambda: series(daemon.samples(), AVAILABLE, source="cisco", license=ADVANTAGE) == [2], timeout=30)
        finally:
            code, log = daemon.stop()
        assert code == 0, log

        second = Daemon("--config.file", str(config), "--collect.dir", str(tmp_path / "second"), "--now", NOW,
                        "--collect.shard", "2/2")
        try:
            second.wait_ready()
            time.sleep(2)  # a source of this exporter would have been polled at its start
            page = second.get("/metrics")[1].decode()
        finally:
            code, log = second.stop()
        assert code == 0, log
        assert "lic_exporter_accounts_" not in page and cssm.count("/licenses") == 1  # the first daemon's one
        assert "account sources are polled by shard 1 of 2" in log
