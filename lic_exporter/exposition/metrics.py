"""Records -> Prometheus metric families. Pure: the same records and `now` give the same
families, so the one-shot `parse --format prometheus` and the daemon share this unchanged.

Names, labels and vocabularies are the public contract (README, "Metrics"). A value the
output does not state is an absent series, never a sentinel.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry
from prometheus_client.utils import floatToGoString

from lic_exporter import __version__
from lic_exporter.analysis.diagnose import Finding
from lic_exporter.analysis.views import DeviceView, device_views
from lic_exporter.model.records import (
    AttemptResult,
    AuthorizationState,
    CallhomeRecord,
    Entitlement,
    EntitlementState,
    LicenseRecord,
    RegistrationState,
)
from lic_exporter.model.vocabulary import COLLECT_REASONS
from lic_exporter.parsing.syslog import Tally

Record = LicenseRecord | CallhomeRecord
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class ExporterStats:
    """The exporter's own counts, rendered as lic_exporter_* families."""

    files_ok: int = 0
    files_error: int = 0
    parse_errors: int = 0
    syslog_lines: int = 0
    syslog_unparsed: int = 0
    syslog_undecodable: int = 0
    syslog_nul: int = 0
    syslog_device_limited: int = 0


def transport_label(record: LicenseRecord) -> str:
    """`Transport Off` -> off, `Callhome` -> callhome, `cslu` -> cslu."""
    if record.transport is None or record.transport.type is None:
        return ""
    words = record.transport.type.lower().replace("transport", "").split()
    return "_".join(words) or "off"


class TextFamily:
    """Stands in for GaugeMetricFamily with the same add_metric, but formats each sample into
    its exposition line at once: no Sample objects, so 10,000 devices cost text, not memory."""

    def __init__(self, name: str, documentation: str, labels: list[str]):
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.lines: list[str] = []

    def add_metric(self, values: list[str], value: float) -> None:
        pairs = ",".join(f'{key}="{_escape(text)}"' for key, text in zip(self.labels, values, strict=True))
        self.lines.append(f"{self.name}{{{pairs}}} {floatToGoString(value)}\n" if pairs
                          else f"{self.name} {floatToGoString(value)}\n")

    def header(self) -> str:
        doc = self.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        return f"# HELP {self.name} {doc}\n# TYPE {self.name} gauge\n"


def _escape(text: str) -> str:
    if "\\" in text or '"' in text or "\n" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


class _Families:
    """The device families, created once per render and filled device by device. `g` makes
    a family: prometheus_client's GaugeMetricFamily, or TextFamily for the exposition cache."""

    def __init__(self, g=GaugeMetricFamily) -> None:
        self.info = g("cisco_smartlic_info", "Smart Licensing mode and accounts, one series per device",
                      labels=["device", "mode", "smart_account", "virtual_account", "transport"])
        self.registration = g("cisco_smartlic_registration_state",
                              "Classic Smart Licensing registration state (1 for the current state)",
                              labels=["device", "state"])
        self.authorization = g("cisco_smartlic_authorization_state",
                               "License authorization state (1 for the current state)", labels=["device", "state"])
        self.deadline = g("cisco_smartlic_deadline_timestamp_seconds", "When a licensing deadline passes",
                          labels=["device", "deadline"])
        self.deadline_days = g("cisco_smartlic_deadline_days",
                               "Days from now until the deadline; negative once passed", labels=["device", "deadline"])
        self.next_attempt = g("cisco_smartlic_next_attempt_timestamp_seconds",
                              "When the device will next try to reach Cisco", labels=["device", "attempt"])
        self.last_attempt = g("cisco_smartlic_last_attempt_timestamp_seconds",
                              "When the device last tried to reach Cisco", labels=["device", "attempt"])
        self.last_success = g("cisco_smartlic_last_attempt_success",
                              "Whether the last attempt succeeded (1) or failed (0)", labels=["device", "attempt"])
        self.entitlement = g("cisco_smartlic_entitlement_state", "Per-licence state (1 for the current state)",
                             labels=["device", "entitlement", "state"])
        self.licenses = g("cisco_smartlic_entitlement_licenses", "Licences in use per entitlement tag",
                          labels=["device", "entitlement"])
        self.callhome = g("cisco_smartlic_callhome_enabled", "Whether call-home is enabled",
                          labels=["device"])
        self.source = g("cisco_smartlic_source_timestamp_seconds", "When the parsed output was captured",
                        labels=["device", "command"])

    def all(self) -> list[Metric]:
        return list(vars(self).values())


def device_families(records: Iterable[Record], now: datetime) -> list[Metric]:
    """prometheus_client families of the devices these records describe (the reference the
    text path below is tested against)."""
    families = _Families()
    for view in device_views(records):
        _add_device(families, view, now)
    return families.all()


@dataclass(frozen=True)
class DeviceText:
    """One device's samples as exposition text, per family, without the day counts (they
    depend on the time of the scrape); `deadlines` feeds those."""

    device: str
    chunks: tuple[str, ...]  # one per family, in _Families order ("" where none)
    deadlines: tuple[tuple[str, float], ...]  # (deadline name, unix time)


def device_text(view: DeviceView) -> DeviceText:
    families = _Families(TextFamily)
    _add_device(families, view, now=None)
    chunks = tuple("".join(family.lines) for family in families.all())
    deadlines = tuple((name, when.timestamp()) for name, when in view.deadlines().items())
    return DeviceText(view.device, chunks, deadlines)


def devices_text(records: Iterable[Record]) -> list[DeviceText]:
    return [device_text(view) for view in device_views(records)]


def problem_text(findings: Iterable[Finding]) -> str:
    """cisco_smartlic_problem: one series per active diagnose finding."""
    family = TextFamily("cisco_smartlic_problem", "One series per active diagnose finding (problem names: README)",
                        ["device", "problem", "severity"])
    for finding in findings:
        family.add_metric([finding.device, finding.problem, finding.severity], 1)
    return family.header() + "".join(family.lines)


def exposition(devices: Iterable[DeviceText], tally: Tally, stats: ExporterStats, now: datetime,
               findings: Iterable[Finding] = (), collect: Iterable[CollectStatus] | None = None) -> bytes:
    """The whole /metrics page: device families (day counts computed for `now`), the active
    diagnose findings, then the syslog counters, the collection's families (when the daemon
    collects) and the exporter's own metrics."""
    devices = list(devices)
    headers = _Families(TextFamily).all()
    days_at = headers.index(next(f for f in headers if f.name == "cisco_smartlic_deadline_days"))
    parts: list[str] = []
    for position, family in enumerate(headers):
        parts.append(family.header())
        if position == days_at:
            parts.extend(_days(device, now) for device in devices)
        else:
            parts.extend(device.chunks[position] for device in devices)
    parts.append(problem_text(findings))
    text = "".join(parts).encode()
    collected = collect_families(collect) if collect is not None else []
    return text + render_text(syslog_families(tally) + collected + exporter_families(stats))


class CollectStatus(Protocol):
    """One device's collection, as lic_exporter.collect reports it (DeviceStatus)."""

    device: str
    success: bool | None
    seconds: float | None
    last_success: float | None
    next_due: float | None
    interval: float | None
    failures: Mapping[str, int]




def collect_families(statuses: Iterable[CollectStatus]) -> list[Metric]:
    """lic_exporter_collect_*: per device, whether and when collecting it worked. The failure
    counter (named without its suffix: exposed as lic_exporter_collect_failures_total) has every
    reason from zero, so the first failure of a kind is an increase."""
    success = GaugeMetricFamily("lic_exporter_collect_success", "Whether the last collection of the device succeeded",
                                labels=["device"])
    duration = GaugeMetricFamily("lic_exporter_collect_duration_seconds", "How long the last collection took",
                                 labels=["device"])
    last = GaugeMetricFamily("lic_exporter_collect_last_success_timestamp_seconds",
                             "When the device was last collected successfully", labels=["device"])
    due = GaugeMetricFamily("lic_exporter_collect_next_timestamp_seconds", "When the next collection is scheduled",
                            labels=["device"])
    interval = GaugeMetricFamily("lic_exporter_collect_interval_seconds",
                                 "How often the device is collected (LicCollectionFailing: two of these)",
                                 labels=["device"])
    failures = CounterMetricFamily("lic_exporter_collect_failures", "Failed collections by cause",
                                   labels=["device", "reason"])
    for status in statuses:
        d = status.device
        for family, value in ((success, None if status.success is None else float(status.success)),
                              (duration, status.seconds), (last, status.last_success), (due, status.next_due),
                              (interval, status.interval)):
            if value is not None and value != float("inf"):
                family.add_metric([d], value)
        for reason in COLLECT_REASONS:
            failures.add_metric([d, reason], status.failures.get(reason, 0))
    return [success, duration, last, due, interval, failures]


def _days(device: DeviceText, now: datetime) -> str:
    if not device.deadlines:
        return ""
    family = TextFamily("cisco_smartlic_deadline_days", "", ["device", "deadline"])
    stamp = now.timestamp()
    for name, when in device.deadlines:
        family.add_metric([device.device, name], (when - stamp) / SECONDS_PER_DAY)
    return "".join(family.lines)


def exporter_families(stats: ExporterStats) -> list[Metric]:
    """lic_exporter_build_info, lic_exporter_files, and the counters exposed as
    lic_exporter_parse_errors_total, lic_exporter_syslog_lines_total and
    lic_exporter_syslog_skipped_lines_total."""
    build = GaugeMetricFamily("lic_exporter_build_info", "lic_exporter version", labels=["version"])
    build.add_metric([__version__], 1)
    files = GaugeMetricFamily("lic_exporter_files", "Watched files by parse state", labels=["state"])
    files.add_metric(["ok"], stats.files_ok)
    files.add_metric(["error"], stats.files_error)
    errors = CounterMetricFamily("lic_exporter_parse_errors", "Problems met while parsing input files")
    errors.add_metric([], stats.parse_errors)
    lines = CounterMetricFamily("lic_exporter_syslog_lines", "Syslog lines read, every line")
    lines.add_metric([], stats.syslog_lines)
    skipped = CounterMetricFamily("lic_exporter_syslog_skipped_lines",
                                  "Syslog lines naming a licensing facility that were skipped or repaired",
                                  labels=["reason"])
    skipped.add_metric(["unparsed"], stats.syslog_unparsed)
    skipped.add_metric(["undecodable"], stats.syslog_undecodable)
    skipped.add_metric(["nul"], stats.syslog_nul)
    skipped.add_metric(["device_limit"], stats.syslog_device_limited)
    return [build, files, errors, lines, skipped]


def syslog_families(tally: Tally) -> list[Metric]:
    """The syslog counters per device; only what the lines said (no zero series). Counter
    families take their names without the suffix: they are exposed as
    cisco_smartlic_syslog_messages_total and cisco_smartlic_callhome_failures_total."""
    messages = CounterMetricFamily("cisco_smartlic_syslog_messages",
                                   "Licensing and call-home syslog messages by Smart Agent message name",
                                   labels=["device", "mnemonic", "severity"])
    for key, count in sorted(tally.messages.items()):
        messages.add_metric(list(key), count)
    failures = CounterMetricFamily("cisco_smartlic_callhome_failures",
                                   "Syslog messages reporting a failed communication with Cisco, by cause",
                                   labels=["device", "reason"])
    for key, count in sorted(tally.failures.items()):
        failures.add_metric(list(key), count)
    last = GaugeMetricFamily("cisco_smartlic_callhome_last_failure_timestamp_seconds",
                             "Time of the newest failed-communication message, from the line itself", labels=["device"])
    for device, when in sorted(tally.last_failure.items()):
        last.add_metric([device], when.timestamp())
    return [messages, failures, last]


def _add_device(f: _Families, view: DeviceView, now: datetime | None) -> None:
    d = view.device
    if view.info is not None and view.info.mode is not None:
        account = view.info.account
        f.info.add_metric([d, view.info.mode.value, (account and account.smart_account) or "",
                           (account and account.virtual_account) or "", transport_label(view.info)], 1)
    if view.registration is not None:
        _one_hot(f.registration, [d], RegistrationState, view.registration.state)
    if view.authorization is not None:
        _one_hot(f.authorization, [d], AuthorizationState, view.authorization.state)
    for name, when in view.deadlines().items():
        f.deadline.add_metric([d, name], when.timestamp())
        if now is not None:  # the text cache adds the day counts when scraped
            f.deadline_days.add_metric([d, name], (when.timestamp() - now.timestamp()) / SECONDS_PER_DAY)
    _add_attempts(f, view)
    _add_entitlements(f, d, view.entitlements or ())
    if view.callhome is not None and view.callhome.enabled is not None:
        f.callhome.add_metric([d], 1 if view.callhome.enabled else 0)
    for command, when in sorted(view.sources.items()):
        f.source.add_metric([d, command], when.timestamp())


def _add_attempts(f: _Families, view: DeviceView) -> None:
    d, reg, auth, usage = view.device, view.registration, view.authorization, view.usage_reporting
    nexts = {
        "registration_renewal": reg.next_renewal if reg else None,
        "authorization_renewal": auth.next_communication if auth else None,
        "report_push": usage.next_report_push if usage else None,
    }
    for name, when in nexts.items():
        if when is not None:
            f.next_attempt.add_metric([d, name], when.timestamp())
    lasts = {
        "initial_registration": reg.initial if reg else None,
        "registration_renewal": reg.last_renewal if reg else None,
        "authorization_renewal": auth.last_communication if auth else None,
    }
    for name, attempt in lasts.items():
        if attempt is None:
            continue
        if attempt.at is not None:
            f.last_attempt.add_metric([d, name], attempt.at.timestamp())
        if attempt.result is not AttemptResult.UNKNOWN:
            f.last_success.add_metric([d, name], 1 if attempt.result is AttemptResult.SUCCEEDED else 0)
    if usage is not None and usage.last_report_push is not None:
        f.last_attempt.add_metric([d, "report_push"], usage.last_report_push.timestamp())


def _add_entitlements(f: _Families, device: str, entitlements: Iterable[Entitlement]) -> None:
    """One series set per tag. A tag listed twice (stack members, truncated summary names)
    keeps the first state and adds up the counts, so no series is ever duplicated."""
    states: dict[str, EntitlementState] = {}
    counts: dict[str, int] = {}
    for item in entitlements:
        states.setdefault(item.tag, item.state)
        if item.count is not None:
            counts[item.tag] = counts.get(item.tag, 0) + item.count
    for tag, state in states.items():
        _one_hot(f.entitlement, [device, tag], EntitlementState, state)
        if tag in counts:
            f.licenses.add_metric([device, tag], counts[tag])


def _one_hot(family: GaugeMetricFamily, labels: list[str], vocabulary, current) -> None:
    for state in vocabulary:
        family.add_metric([*labels, state.value], 1 if state is current else 0)


class SnapshotCollector:
    """A prometheus_client custom collector over a fixed list of families."""

    def __init__(self, families: list[Metric]):
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def render_text(families: list[Metric]) -> bytes:
    """The Prometheus text exposition format of these families."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(families))
    return generate_latest(registry)
