"""Records -> metric families: the contract's names, one-hot states, absent series, no secrets,
and the text exactly as prometheus_client would write the same samples."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from lic_exporter import __version__
from lic_exporter.exposition.metrics import ExporterStats, devices_text, exposition
from lic_exporter.exposition.text import sample_value
from lic_exporter.model.release import revision
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.syslog_tally import Tally
from tests.support.pages import prometheus_client_registry
from tests.support.paths import SHOW_FIXTURES as FIXTURES
from tests.support.paths import SYSLOG_FIXTURES

NOW = datetime(2026, 4, 1, tzinfo=UTC)


def page(records, now=NOW, stats: ExporterStats | None = None, tally: Tally | None = None,
         deadline_days: bool = False) -> str:
    """The page the daemon and `parse --format prometheus` write for these records (with the day
    counts: the daemon's under --metrics.deadline-days)."""
    return exposition(devices_text(records), tally or Tally(), stats or ExporterStats(), now,
                      deadline_days=deadline_days).decode()


def samples(records, now=NOW, deadline_days: bool = True) -> dict[str, list]:
    text = page(records, now, deadline_days=deadline_days)
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def records_of(*names: str) -> list:
    parser = Parser()
    return [r for name in names for r in parser.parse_file(FIXTURES / name).records]


def value(found, name: str, **labels) -> float:
    matches = [s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, matches)
    return matches[0]


def test_every_state_emitted_exactly_one_is_one() -> None:
    found = samples(records_of("registration_failed.txt"))
    registration = [s for s in found["cisco_smartlic_registration_state"] if s.labels["device"] == "n3k-edge-04"]
    assert {s.labels["state"] for s in registration} == {
        "unregistered", "registering", "registered", "registration_failed", "registration_expired", "unknown"}
    assert [s.labels["state"] for s in registration if s.value == 1] == ["registration_failed"]
    assert value(found, "cisco_smartlic_authorization_state", device="n3k-edge-04", state="evaluation") == 1


def test_day_counts_only_when_asked_for() -> None:
    """Off by default (and so in textfile output): rules and dashboards compute the days from the
    timestamps, which also keeps promtool's unit lint quiet."""
    records = records_of("communication_failed.txt")
    assert "cisco_smartlic_deadline_days" not in page(records)
    assert "cisco_smartlic_deadline_days" not in samples(records, deadline_days=False)
    assert "cisco_smartlic_deadline_timestamp_seconds" in samples(records, deadline_days=False)
    assert "# TYPE cisco_smartlic_deadline_days gauge" in page(records, deadline_days=True)


def test_deadlines_and_days_left_computed_from_now() -> None:
    found = samples(records_of("communication_failed.txt"))
    deadline = datetime(2026, 7, 18, 13, 26, tzinfo=UTC)
    assert value(found, "cisco_smartlic_deadline_timestamp_seconds", device="n9k-spine-01",
                 deadline="communication_deadline") == deadline.timestamp()
    days = value(found, "cisco_smartlic_deadline_days", device="n9k-spine-01", deadline="communication_deadline")
    assert days == pytest.approx((deadline - NOW).total_seconds() / 86400)
    later = samples(records_of("communication_failed.txt"), now=datetime(2026, 8, 1, tzinfo=UTC))
    assert value(later, "cisco_smartlic_deadline_days", device="n9k-spine-01",
                 deadline="communication_deadline") < 0


def test_attempts_and_their_success() -> None:
    found = samples(records_of("communication_failed.txt"))
    assert value(found, "cisco_smartlic_last_attempt_success", device="n9k-spine-01",
                 attempt="authorization_renewal") == 0
    assert value(found, "cisco_smartlic_last_attempt_success", device="n9k-spine-01",
                 attempt="initial_registration") == 1
    assert value(found, "cisco_smartlic_next_attempt_timestamp_seconds", device="n9k-spine-01",
                 attempt="registration_renewal") == datetime(2026, 5, 17, 14, 30, 12, tzinfo=UTC).timestamp()


def test_absent_values_are_absent_series_not_sentinels() -> None:
    found = samples(records_of("eval_mode.txt"))
    assert "cisco_smartlic_last_attempt_success" not in found
    assert "cisco_smartlic_next_attempt_timestamp_seconds" not in found
    deadlines = {s.labels["deadline"] for s in found["cisco_smartlic_deadline_timestamp_seconds"]}
    assert deadlines == {"evaluation_expiry"}


def test_policy_mode_report_ack_and_info() -> None:
    found = samples(records_of("policy_ack_overdue.txt"))
    info = found["cisco_smartlic_info"][0].labels
    assert info == {"device": "n9k-border-02", "mode": "policy", "smart_account": "Example Networks Inc",
                    "virtual_account": "DC1-Fabric", "transport": "smart"}
    assert "cisco_smartlic_registration_state" not in found
    assert value(found, "cisco_smartlic_deadline_days", device="n9k-border-02", deadline="report_ack") == \
        pytest.approx(19.425, abs=0.001)
    assert value(found, "cisco_smartlic_last_attempt_timestamp_seconds", device="n9k-border-02",
                 attempt="report_push") > 0


def test_entitlements_one_hot_and_counts() -> None:
    found = samples(records_of("out_of_compliance.txt"))
    assert value(found, "cisco_smartlic_entitlement_state", device="n9k-dc1-leaf07",
                 entitlement="NXOS_ADVANTAGE_XF", state="out_of_compliance") == 1
    assert value(found, "cisco_smartlic_entitlement_licenses", device="n9k-dc1-leaf07",
                 entitlement="NXOS_ADVANTAGE_XF") == 2


def test_repeated_tags_never_duplicate_series(corpus: Path) -> None:
    # A stack prints the same tag per member; the summary truncates names.
    records = Parser().parse_file(corpus / "iosxe/show_license_summary/genie_4.txt").records
    found = samples(records)
    keys = [tuple(sorted(s.labels.items())) for s in found["cisco_smartlic_entitlement_state"]]
    assert len(keys) == len(set(keys))
    assert value(found, "cisco_smartlic_entitlement_licenses", device="genie_4",
                 entitlement="C9300-24 Network Advan...") == 2


def test_newest_fact_per_aspect_wins_and_partial_never_replaces_whole() -> None:
    found = samples(records_of("summary_classic.txt", "usage_classic.txt", "nxos_show_callhome.txt"))
    assert value(found, "cisco_smartlic_deadline_timestamp_seconds", device="n9k-leaf-11",
                 deadline="communication_deadline") > 0
    assert value(found, "cisco_smartlic_callhome_enabled", device="n9k-leaf-11") == 1
    commands = {s.labels["command"] for s in found["cisco_smartlic_source_timestamp_seconds"]}
    assert commands == {"show license summary", "show license usage", "show callhome"}


def test_no_contact_data_in_any_label() -> None:
    text = page(records_of("callhome_plain_http.txt", "nxos_show_callhome.txt"))
    for secret in ("noc@example.net", "555-0100", "Example Way", "proxy.example.net"):
        assert secret not in text


def test_exporter_self_metrics() -> None:
    text = page([], stats=ExporterStats(files_ok=3, files_error=1, parse_errors=2))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    [build] = families["lic_exporter_build_info"].samples
    assert build.labels == {"version": __version__, "revision": revision(), "pythonversion": platform.python_version()}
    assert build.value == 1 and build.labels["revision"]
    assert {s.labels["state"]: s.value for s in families["lic_exporter_files"].samples} == {"ok": 3, "error": 1}
    assert families["lic_exporter_parse_errors"].samples[0].value == 2
    # Without --config.file there is no configuration to have reloaded: no reload gauges.
    assert not [name for name in families if name.startswith("lic_exporter_config_")]
    assert "process_" not in text  # the daemon adds them per scrape; a textfile never has them


@pytest.mark.parametrize(("successful", "value"), [(True, 1), (False, 0)])
def test_config_reload_gauges(successful: bool, value: int) -> None:
    when = datetime(2026, 12, 2, 6, 0, tzinfo=UTC).timestamp()
    text = page([], stats=ExporterStats(config_reload=(successful, when)))
    found = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert found["lic_exporter_config_last_reload_successful"] == value
    assert found["lic_exporter_config_last_reload_success_timestamp_seconds"] == when


def test_policy_usage_output_never_blanks_the_accounts(tmp_path: Path) -> None:
    import os
    status = tmp_path / "n9k-p1" / "show_license_status.txt"
    usage = tmp_path / "n9k-p1" / "show_license_usage.txt"
    status.parent.mkdir()
    status.write_text((FIXTURES / "policy_ack_overdue.txt").read_text().split("\n", 1)[1].rsplit("\n", 2)[0] + "\n")
    usage.write_text("\nLicense Authorization:\n  Status: Not Applicable\n\n(LAN_ENTERPRISE_SERVICES_PKG):\n"
                     "  Description: LAN license\n  Count: 1\n  Version: 1.0\n  Status: IN USE\n")
    os.utime(status, (1_700_000_000, 1_700_000_000))
    os.utime(usage, (1_800_000_000, 1_800_000_000))
    parser = Parser()
    found = samples([r for p in (status, usage) for r in parser.parse_file(p).records])
    [info] = found["cisco_smartlic_info"]
    assert info.labels["smart_account"] == "Example Networks Inc" and info.labels["transport"] == "smart"


def test_text_exposition_says_exactly_what_prometheus_client_says(corpus: Path) -> None:
    """Every family on the page, device series and self-metrics alike, reads as prometheus_client's
    own generate_latest writes the same samples: HELP, TYPE, escaping, float text, order."""
    records, tally = [], Tally()
    for result in Parser().parse_paths([FIXTURES, SYSLOG_FIXTURES, corpus]):
        records.extend(result.records)
        if result.syslog is not None:
            tally.merge(result.syslog)
    ours = page(records, stats=ExporterStats(files_ok=2, files_error=1, parse_errors=3, syslog_lines=7,
                                             config_reload=(True, 1.8e9)), tally=tally, deadline_days=True)
    reference = prometheus_client_text(ours)
    assert labels_sorted(ours) == labels_sorted(reference)
    assert len(ours.splitlines()) > 500


def prometheus_client_text(text: str) -> str:
    """The samples of a page, written again by prometheus_client's generate_latest."""
    return generate_latest(prometheus_client_registry(text)).decode()


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def labels_sorted(text: str) -> list[str]:
    """The page's lines with each sample's labels in name order (prometheus_client sorts them,
    the page keeps the contract's order), the escaped values left as written."""
    found = []
    for line in text.splitlines():
        if not line.startswith("#") and "{" in line:
            name, rest = line.split("{", 1)
            labels, value = rest.rsplit("} ", 1)
            pairs = _LABEL.findall(labels)
            assert ",".join(f'{key}="{text}"' for key, text in pairs) == labels, line  # nothing left unread
            line = name + "{" + ",".join(f'{key}="{text}"' for key, text in sorted(pairs)) + "} " + value
        found.append(line)
    return found


def test_sample_values_read_as_prometheus_client_writes_them() -> None:
    """The exposition's own float text (no prometheus_client import for a one-shot parse) is
    prometheus_client's, character for character: at the edges of the exponent form, for
    infinities, NaN, negatives, and seeded random values up to 1e20."""
    import random

    rng = random.Random(20261205)
    edges = [0, 0.0, -0.0, 1, -1, 0.5, 1e-7, 123456.789, 999999.0, 999999.5, 1e6, 1234567.0, 9999999.0,
             1e7, 1732000000.0, 1732000000.5, 12345678901.0, 1e15, 1e16, 1e20, 2**53, -1234567.0,
             float("nan"), float("inf"), float("-inf")]
    values = edges + [rng.uniform(0, 1e20) for _ in range(5000)] + [rng.randint(0, 10**12) for _ in range(5000)]
    values += [rng.uniform(-1e10, 1e10) for _ in range(2000)]
    assert [sample_value(v) for v in values] == [floatToGoString(v) for v in values]
    assert sample_value(1732000000.0) == "1.732e+09" and sample_value(1e6) == "1e+06"
