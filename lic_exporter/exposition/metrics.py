"""Views, findings and counts -> the Prometheus metrics text: every family the exporter exposes.

Pure: the same records, syslog tally and `now` give the same bytes, so the one-shot
`parse --format prometheus` and the daemon share this unchanged. A device's series are written
to text once (device_text; the daemon keeps it until the device's files change); a page is
assembled from that text (page_heads, the chunks in column order, page_tail), with only the
findings (and, opted in, the day counts) computed for its `now`. The process_* families are
not here: the daemon adds them at each scrape (daemon/scrape.py), and textfile output has
node_exporter's own.

Names, labels and vocabularies are the public contract (README, "Metrics"; the names in
model/vocabulary.py). A value the output does not state is an absent series, never a sentinel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from lic_exporter import __version__
from lic_exporter.analysis.deadlines import days_until
from lic_exporter.analysis.diagnose import Finding
from lic_exporter.analysis.views import DeviceView, device_views
from lic_exporter.exposition.account_metrics import AccountPollStatus, account_poll_text, account_text
from lic_exporter.exposition.text import TextFamily, one_hot
from lic_exporter.model.release import python_version, revision
from lic_exporter.model.states import AttemptResult, AuthorizationState, EntitlementState, RegistrationState
from lic_exporter.model.vocabulary import COLLECT_REASONS, Attempt, Deadline, MetricName
from lic_exporter.parsing.syslog_tally import Tally

if TYPE_CHECKING:  # the record models (pydantic) load only where records are built
    from lic_exporter.model.accounts import AccountRecord
    from lic_exporter.model.records import Entitlement, LicenseRecord, Record


@dataclass(frozen=True)
class ExporterStats:
    """The exporter's own counts, rendered as lic_exporter_* families."""

    files_ok: int = 0
    files_error: int = 0
    # folders and files under the watched folders, or named by --syslog, that exist but
    # cannot be read right now (their devices are not known: an error, never "healthy")
    unreadable_paths: int = 0
    parse_errors: int = 0
    syslog_lines: int = 0
    syslog_unparsed: int = 0
    syslog_undecodable: int = 0
    syslog_nul: int = 0
    syslog_device_limited: int = 0
    # (whether the last load of --config.file succeeded, when it last did, Unix time); None
    # without --config.file
    config_reload: tuple[bool, float] | None = None


class CollectStatus(Protocol):
    """One device's collection, as lic_exporter.collect reports it (DeviceStatus)."""

    device: str
    success: bool | None
    seconds: float | None
    last_success: float | None
    next_due: float | None
    interval: float | None

    @property
    def failures(self) -> Mapping[str, int]: ...  # read-only: a Counter satisfies it


def transport_label(record: LicenseRecord) -> str:
    """`Transport Off` -> off, `Callhome` -> callhome, `cslu` -> cslu."""
    if record.transport is None or record.transport.type is None:
        return ""
    words = record.transport.type.lower().replace("transport", "").split()
    return "_".join(words) or "off"


class _DeviceFamilies:
    """The device families in page order, created once per device and filled from its view
    (and once per page, for their headers)."""

    def __init__(self) -> None:
        self.info = TextFamily(MetricName.INFO, "Smart Licensing mode and accounts, one series per device",
                               ["device", "mode", "smart_account", "virtual_account", "transport"])
        self.registration = TextFamily(MetricName.REGISTRATION_STATE,
                                       "Classic Smart Licensing registration state (1 for the current state)",
                                       ["device", "state"])
        self.authorization = TextFamily(MetricName.AUTHORIZATION_STATE,
                                        "License authorization state (1 for the current state)", ["device", "state"])
        self.deadline = TextFamily(MetricName.DEADLINE_TIMESTAMP, "When a licensing deadline passes (days left: "
                                   "(this - time()) / 86400)", ["device", "deadline"])
        # Left empty per device: the day counts depend on the time of the page (_add_day_counts),
        # and are on it only when asked for (serve --metrics.deadline-days).
        self.deadline_days = TextFamily(MetricName.DEADLINE_DAYS, "Days from the page's time until the deadline; "
                                        "negative once passed (opt-in: serve --metrics.deadline-days)",
                                        ["device", "deadline"])
        self.next_attempt = TextFamily(MetricName.NEXT_ATTEMPT_TIMESTAMP, "When the device will next try to reach "
                                       "Cisco", ["device", "attempt"])
        self.last_attempt = TextFamily(MetricName.LAST_ATTEMPT_TIMESTAMP, "When the device last tried to reach Cisco",
                                       ["device", "attempt"])
        self.last_success = TextFamily(MetricName.LAST_ATTEMPT_SUCCESS,
                                       "Whether the last attempt succeeded (1) or failed (0)", ["device", "attempt"])
        self.entitlement = TextFamily(MetricName.ENTITLEMENT_STATE, "Per-licence state (1 for the current state)",
                                      ["device", "entitlement", "state"])
        self.licenses = TextFamily(MetricName.ENTITLEMENT_LICENSES, "Licences in use per entitlement tag",
                                   ["device", "entitlement"])
        self.callhome = TextFamily(MetricName.CALLHOME_ENABLED, "Whether call-home is enabled", ["device"])
        self.source = TextFamily(MetricName.SOURCE_TIMESTAMP, "When the parsed output was captured",
                                 ["device", "command"])

    def all(self) -> list[TextFamily]:
        return list(vars(self).values())


@dataclass(frozen=True)
class DeviceText:
    """One device's samples as exposition text, per family, without the day counts (they
    depend on the time of the scrape); `deadlines` feeds those."""

    device: str
    # one per family, in _DeviceFamilies order (b"" where none): bytes, so that a page refers to
    # them rather than copying them (page_pieces)
    chunks: tuple[bytes, ...]
    deadlines: Mapping[Deadline, datetime]


def device_text(view: DeviceView) -> DeviceText:
    families = _DeviceFamilies()
    _add_device(families, view)
    return DeviceText(view.device, tuple(family.samples().encode() for family in families.all()), view.deadlines())


def devices_text(records: Iterable[Record]) -> list[DeviceText]:
    return [device_text(view) for view in device_views(records)]


def exposition(devices: Iterable[DeviceText], tally: Tally, stats: ExporterStats, now: datetime,
               findings: Iterable[Finding] = (), collect: Iterable[CollectStatus] | None = None,
               deadline_days: bool = False, accounts: Iterable[AccountRecord] = (),
               account_polls: Iterable[AccountPollStatus] | None = None) -> bytes:
    """The whole /metrics page: device families, the active diagnose findings, then the syslog
    counters, the collection's families (when the daemon collects), what the Smart Accounts say
    and how polling them goes (when there are any) and the exporter's own metrics.
    `deadline_days` adds cisco_smartlic_deadline_days, computed for `now`: only the daemon does,
    when asked (a textfile's day counts would freeze when it was written, and promtool's lint
    wants seconds)."""
    return b"".join(page_pieces(devices, tally, stats, now, findings, collect, deadline_days=deadline_days,
                                accounts=accounts, account_polls=account_polls))


def page_pieces(devices: Iterable[DeviceText], tally: Tally, stats: ExporterStats, now: datetime,
                findings: Iterable[Finding] = (), collect: Iterable[CollectStatus] | None = None,
                deadline_days: bool = False, accounts: Iterable[AccountRecord] = (),
                account_polls: Iterable[AccountPollStatus] | None = None) -> list[bytes]:
    """exposition() as the pieces it is joined from: the devices' own chunks, not copies (a
    fleet's page is some 2.4 KB a device)."""
    devices = list(devices)
    parts: list[bytes] = []
    for position, head in enumerate(page_heads(devices, now, deadline_days)):
        parts.append(head)
        parts.extend(chunk for device in devices if (chunk := device.chunks[position]))
    parts.append(page_tail(tally, stats, findings, collect, accounts, account_polls))
    return parts


class Dated(Protocol):
    """A device as its day counts need it: DeviceText, or its Facts (what the daemon keeps)."""

    @property
    def device(self) -> str: ...

    @property
    def deadlines(self) -> Mapping[Deadline, datetime]: ...


def page_heads(devices: Iterable[Dated], now: datetime, deadline_days: bool = False) -> list[bytes]:
    """What opens each device family on the page, in the order of a device's chunks: the
    family's header, followed on the page by each device's chunk at that position. The day
    counts have no chunks (they depend on `now`): theirs is the whole family, for these devices,
    or b"" unless asked for."""
    heads = _DeviceFamilies()
    opening: list[bytes] = []
    for family in heads.all():
        if family is heads.deadline_days:
            if deadline_days:
                _add_day_counts(family, devices, now)
            opening.append(family.text().encode() if deadline_days else b"")
        else:
            opening.append(family.header().encode())
    return opening


def page_tail(tally: Tally, stats: ExporterStats, findings: Iterable[Finding] = (),
              collect: Iterable[CollectStatus] | None = None, accounts: Iterable[AccountRecord] = (),
              account_polls: Iterable[AccountPollStatus] | None = None) -> bytes:
    """What follows the device families: the findings, the syslog counters, the collection's
    families (when the daemon collects), the accounts and their polls, the exporter's own."""
    tail = [problem_text(findings), syslog_text(tally)]
    if collect is not None:
        tail.append(collect_text(collect))
    tail.append(account_text(accounts))
    if account_polls is not None:
        tail.append(account_poll_text(account_polls))
    tail.append(exporter_text(stats))
    return "".join(tail).encode()


def _add_day_counts(family: TextFamily, devices: Iterable[Dated], now: datetime) -> None:
    """cisco_smartlic_deadline_days of these devices, for `now`."""
    for device in devices:
        for name, when in device.deadlines.items():
            family.add_metric([device.device, name.value], days_until(when, now))


def problem_text(findings: Iterable[Finding]) -> str:
    """cisco_smartlic_problem: one series per active diagnose finding of a device. A finding of
    an account (no device) has its own families and alerts (account_text): on this family it
    would give one series for every account's finding of a kind."""
    family = TextFamily(MetricName.PROBLEM, "One series per active diagnose finding (problem names: README)",
                        ["device", "problem", "severity"])
    for finding in findings:
        if finding.device:
            family.add_metric([finding.device, finding.problem, finding.severity], 1)
    return family.text()


def syslog_text(tally: Tally) -> str:
    """The syslog counters per device; only what the lines said (no zero series)."""
    messages = TextFamily(MetricName.SYSLOG_MESSAGES, "Licensing and call-home syslog messages by Smart Agent message "
                          "name", ["device", "mnemonic", "severity"], kind="counter")
    for (device, mnemonic, severity), count in sorted(tally.messages.items()):
        messages.add_metric([device, mnemonic, severity], count)
    failures = TextFamily(MetricName.CALLHOME_FAILURES, "Syslog messages reporting a failed communication with Cisco, "
                          "by cause", ["device", "reason"], kind="counter")
    for (device, reason), count in sorted(tally.failures.items()):
        failures.add_metric([device, reason], count)
    last = TextFamily(MetricName.CALLHOME_LAST_FAILURE, "Time of the newest failed-communication message, from the "
                      "line itself", ["device"])
    for device, when in sorted(tally.last_failure.items()):
        last.add_metric([device], when.timestamp())
    return messages.text() + failures.text() + last.text()


def collect_text(statuses: Iterable[CollectStatus]) -> str:
    """lic_exporter_collect_*: per device, whether and when collecting it worked. The failure
    counter has every reason from zero, so the first failure of a kind is an increase."""
    success = TextFamily(MetricName.COLLECT_SUCCESS, "Whether the last collection of the device succeeded", ["device"])
    duration = TextFamily(MetricName.COLLECT_DURATION, "How long the last collection took", ["device"])
    last = TextFamily(MetricName.COLLECT_LAST_SUCCESS, "When the device was last collected successfully", ["device"])
    due = TextFamily(MetricName.COLLECT_NEXT, "When the next collection is scheduled", ["device"])
    interval = TextFamily(MetricName.COLLECT_INTERVAL,
                          "How often the device is collected (LicCollectionFailing: two of these)", ["device"])
    failures = TextFamily(MetricName.COLLECT_FAILURES, "Failed collections by cause", ["device", "reason"],
                          kind="counter")
    for status in statuses:
        d = status.device
        for family, value in ((success, None if status.success is None else float(status.success)),
                              (duration, status.seconds), (last, status.last_success), (due, status.next_due),
                              (interval, status.interval)):
            if value is not None and value != float("inf"):
                family.add_metric([d], value)
        for reason in COLLECT_REASONS:
            failures.add_metric([d, reason], status.failures.get(reason, 0))
    return "".join(family.text() for family in (success, duration, last, due, interval, failures))


def exporter_text(stats: ExporterStats) -> str:
    """lic_exporter_build_info, lic_exporter_files, lic_exporter_unreadable_paths, the parse error
    and syslog line counters, and (with --config.file) whether its last load succeeded."""
    build = TextFamily(MetricName.BUILD_INFO, "A metric with a constant value 1, labelled by the version and source "
                       "revision lic_exporter was built from and the Python running it",
                       ["version", "revision", "pythonversion"])
    build.add_metric([__version__, revision(), python_version()], 1)
    files = TextFamily(MetricName.FILES, "Watched files by parse state", ["state"])
    files.add_metric(["ok"], stats.files_ok)
    files.add_metric(["error"], stats.files_error)
    unreadable = TextFamily(MetricName.UNREADABLE_PATHS, "Folders and files under the watched folders, or named by "
                            "--syslog, that exist but cannot be read right now")
    unreadable.add_metric([], stats.unreadable_paths)
    errors = TextFamily(MetricName.PARSE_ERRORS, "Problems met while parsing input files", kind="counter")
    errors.add_metric([], stats.parse_errors)
    lines = TextFamily(MetricName.SYSLOG_LINES, "Syslog lines read, every line", kind="counter")
    lines.add_metric([], stats.syslog_lines)
    skipped = TextFamily(MetricName.SYSLOG_SKIPPED_LINES,
                         "Syslog lines naming a licensing facility that were skipped or repaired", ["reason"],
                         kind="counter")
    skipped.add_metric(["unparsed"], stats.syslog_unparsed)
    skipped.add_metric(["undecodable"], stats.syslog_undecodable)
    skipped.add_metric(["nul"], stats.syslog_nul)
    skipped.add_metric(["device_limit"], stats.syslog_device_limited)
    return "".join(family.text() for family in (build, files, unreadable, errors, lines, skipped)) + _reload_text(stats)


def _reload_text(stats: ExporterStats) -> str:
    """The --config.file load gauges, as Prometheus has them for its own configuration; nothing
    without --config.file."""
    if stats.config_reload is None:
        return ""
    successful, last_success = stats.config_reload
    success = TextFamily(MetricName.CONFIG_RELOAD_SUCCESS,
                         "Whether the last load of --config.file (at the start, SIGHUP or POST /-/reload) succeeded")
    success.add_metric([], 1 if successful else 0)
    when = TextFamily(MetricName.CONFIG_RELOAD_TIMESTAMP, "When --config.file was last loaded successfully")
    when.add_metric([], last_success)
    return success.text() + when.text()


def _add_device(f: _DeviceFamilies, view: DeviceView) -> None:
    d = view.device
    if view.info is not None and view.info.mode is not None:
        account = view.info.account
        f.info.add_metric([d, view.info.mode.value, (account and account.smart_account) or "",
                           (account and account.virtual_account) or "", transport_label(view.info)], 1)
    if view.registration is not None:
        one_hot(f.registration, [d], RegistrationState, view.registration.state)
    if view.authorization is not None:
        one_hot(f.authorization, [d], AuthorizationState, view.authorization.state)
    for name, when in view.deadlines().items():
        f.deadline.add_metric([d, name], when.timestamp())
    _add_attempts(f, view)
    _add_entitlements(f, d, view.entitlements or ())
    if view.callhome is not None and view.callhome.enabled is not None:
        f.callhome.add_metric([d], 1 if view.callhome.enabled else 0)
    for command, when in sorted(view.sources.items()):
        f.source.add_metric([d, command], when.timestamp())


def _add_attempts(f: _DeviceFamilies, view: DeviceView) -> None:
    d, reg, auth, usage = view.device, view.registration, view.authorization, view.usage_reporting
    nexts = {
        Attempt.REGISTRATION_RENEWAL: reg.next_renewal if reg else None,
        Attempt.AUTHORIZATION_RENEWAL: auth.next_communication if auth else None,
        Attempt.REPORT_PUSH: usage.next_report_push if usage else None,
    }
    for name, when in nexts.items():
        if when is not None:
            f.next_attempt.add_metric([d, name], when.timestamp())
    lasts = {
        Attempt.INITIAL_REGISTRATION: reg.initial if reg else None,
        Attempt.REGISTRATION_RENEWAL: reg.last_renewal if reg else None,
        Attempt.AUTHORIZATION_RENEWAL: auth.last_communication if auth else None,
    }
    for name, attempt in lasts.items():
        if attempt is None:
            continue
        if attempt.at is not None:
            f.last_attempt.add_metric([d, name], attempt.at.timestamp())
        if attempt.result is not AttemptResult.UNKNOWN:
            f.last_success.add_metric([d, name], 1 if attempt.result is AttemptResult.SUCCEEDED else 0)
    if usage is not None and usage.last_report_push is not None:
        f.last_attempt.add_metric([d, Attempt.REPORT_PUSH], usage.last_report_push.timestamp())


def _add_entitlements(f: _DeviceFamilies, device: str, entitlements: Iterable[Entitlement]) -> None:
    """One series set per tag. A tag listed twice (stack members, truncated summary names)
    keeps the first state and adds up the counts, so no series is ever duplicated."""
    states: dict[str, EntitlementState] = {}
    counts: dict[str, int] = {}
    for item in entitlements:
        states.setdefault(item.tag, item.state)
        if item.count is not None:
            counts[item.tag] = counts.get(item.tag, 0) + item.count
    for tag, state in states.items():
        one_hot(f.entitlement, [device, tag], EntitlementState, state)
        if tag in counts:
            f.licenses.add_metric([device, tag], counts[tag])
