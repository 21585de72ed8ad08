"""The public vocabulary in one place: metric names, label values, severities, deadline thresholds.

Everything that prints, exports, colours or alerts on these words reads them from here (the
exposition, the diagnose rules, the command line's table and `dashboards/build_*.py`), so that
none of them can drift from another. The names are the public contract (CONTRACT, README); the
state vocabularies are the enums of `model/states.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MetricName(StrEnum):
    """Every family the exporter exposes, by its exposed name (counters with their `_total`)."""

    # One device's licensing state (label `device`).
    INFO = "cisco_smartlic_info"
    REGISTRATION_STATE = "cisco_smartlic_registration_state"
    AUTHORIZATION_STATE = "cisco_smartlic_authorization_state"
    DEADLINE_TIMESTAMP = "cisco_smartlic_deadline_timestamp_seconds"
    DEADLINE_DAYS = "cisco_smartlic_deadline_days"
    NEXT_ATTEMPT_TIMESTAMP = "cisco_smartlic_next_attempt_timestamp_seconds"
    LAST_ATTEMPT_TIMESTAMP = "cisco_smartlic_last_attempt_timestamp_seconds"
    LAST_ATTEMPT_SUCCESS = "cisco_smartlic_last_attempt_success"
    ENTITLEMENT_STATE = "cisco_smartlic_entitlement_state"
    ENTITLEMENT_LICENSES = "cisco_smartlic_entitlement_licenses"
    CALLHOME_ENABLED = "cisco_smartlic_callhome_enabled"
    SOURCE_TIMESTAMP = "cisco_smartlic_source_timestamp_seconds"
    PROBLEM = "cisco_smartlic_problem"
    # What the device's syslog lines say.
    SYSLOG_MESSAGES = "cisco_smartlic_syslog_messages_total"
    CALLHOME_FAILURES = "cisco_smartlic_callhome_failures_total"
    CALLHOME_LAST_FAILURE = "cisco_smartlic_callhome_last_failure_timestamp_seconds"
    # Collection over SSH (label `device`).
    COLLECT_SUCCESS = "lic_exporter_collect_success"
    COLLECT_DURATION = "lic_exporter_collect_duration_seconds"
    COLLECT_LAST_SUCCESS = "lic_exporter_collect_last_success_timestamp_seconds"
    COLLECT_NEXT = "lic_exporter_collect_next_timestamp_seconds"
    COLLECT_INTERVAL = "lic_exporter_collect_interval_seconds"
    COLLECT_FAILURES = "lic_exporter_collect_failures_total"
    # What a Smart Account says (labels `source`, `smart_account`, `virtual_account`, `license`).
    ACCOUNT_LICENSE_QUANTITY = "cisco_smartlic_account_license_quantity"
    ACCOUNT_LICENSE_IN_USE = "cisco_smartlic_account_license_in_use"
    ACCOUNT_LICENSE_AVAILABLE = "cisco_smartlic_account_license_available"
    ACCOUNT_LICENSE_STATUS = "cisco_smartlic_account_license_status"
    ACCOUNT_LICENSE_TERM_END = "cisco_smartlic_account_license_term_end_timestamp_seconds"
    ACCOUNT_ALERTS = "cisco_smartlic_account_alerts"  # labels `source`, `smart_account`, `severity`
    # Polling the account sources (label `source`).
    ACCOUNTS_POLL_SUCCESS = "lic_exporter_accounts_poll_success"
    ACCOUNTS_LAST_SUCCESS = "lic_exporter_accounts_last_success_timestamp_seconds"
    ACCOUNTS_POLL_FAILURES = "lic_exporter_accounts_poll_failures_total"
    ACCOUNTS_POLL_INTERVAL = "lic_exporter_accounts_poll_interval_seconds"  # added: what "late" means
    # The exporter itself (no `device` label).
    BUILD_INFO = "lic_exporter_build_info"
    FILES = "lic_exporter_files"
    UNREADABLE_PATHS = "lic_exporter_unreadable_paths"
    PARSE_ERRORS = "lic_exporter_parse_errors_total"
    SYSLOG_LINES = "lic_exporter_syslog_lines_total"
    SYSLOG_SKIPPED_LINES = "lic_exporter_syslog_skipped_lines_total"
    # Loading --config.file, at the start and on each reload (SIGHUP, POST /-/reload).
    CONFIG_RELOAD_SUCCESS = "lic_exporter_config_last_reload_successful"
    CONFIG_RELOAD_TIMESTAMP = "lic_exporter_config_last_reload_success_timestamp_seconds"


class Reason(StrEnum):
    """Why a communication with Cisco failed: label `reason` of CALLHOME_FAILURES."""

    DNS = "dns"
    TLS = "tls"
    HTTP_SEND = "http_send"
    RESPONSE = "response"
    TIMEOUT = "timeout"
    PROXY = "proxy"
    TRANSPORT_DISABLED = "transport_disabled"
    OTHER = "other"


# lic_exporter_collect_failures_total{reason}: why a collection failed. `auth_method` (added to
# the contract's list): the device offered no login method the credential could be sent by, so
# it says nothing about the credential and never counts towards suspending it.
COLLECT_REASONS = ("auth", "auth_method", "hostkey", "connect", "timeout", "session_limit", "disconnect", "command",
                   "other")
# Reasons added to the contract's list (which is kept whole): `auth_method`, a login refused
# before the credential could be offered (no password, keyboard-interactive or key method the
# target has), which says nothing about the credential and never suspends it.
COLLECT_REASONS_ADDED = frozenset({"auth_method"})


# lic_exporter_accounts_poll_failures_total{reason}: why a poll of an account source failed.
ACCOUNTS_REASONS = ("auth", "forbidden", "rate_limited", "connect", "timeout", "tls", "http", "response", "other")


class Severity(StrEnum):
    """How bad a finding or an alert is: label `severity` of PROBLEM and of the alert rules."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITIES = tuple(Severity)  # mildest first: a worse severity has a higher index


class Deadline(StrEnum):
    """Label `deadline` of DEADLINE_TIMESTAMP and DEADLINE_DAYS, in the order shown to people."""

    REGISTRATION_EXPIRY = "registration_expiry"
    COMMUNICATION_DEADLINE = "communication_deadline"
    EVALUATION_EXPIRY = "evaluation_expiry"
    REPORT_ACK = "report_ack"


class Attempt(StrEnum):
    """Label `attempt` of the NEXT_ATTEMPT_*/LAST_ATTEMPT_* families: a try to reach Cisco."""

    INITIAL_REGISTRATION = "initial_registration"
    REGISTRATION_RENEWAL = "registration_renewal"
    AUTHORIZATION_RENEWAL = "authorization_renewal"
    REPORT_PUSH = "report_push"


@dataclass(frozen=True)
class DayThresholds:
    """Days left under which a deadline is a warning, and under which it is critical."""

    warning: float
    critical: float

    def severity(self, days_left: float) -> Severity | None:
        """CRITICAL or WARNING for this many days left, None while there is time."""
        if days_left < self.critical:
            return Severity.CRITICAL
        if days_left < self.warning:
            return Severity.WARNING
        return None


# The one table of how close each deadline may come. The alert rules (dashboards/build_alerting.py,
# Prometheus and Grafana-managed alike), the dashboards' colours (dashboards/build_dashboards.py,
# each deadline by its own row), the table's colours and the diagnose severities read it; a test
# fails where any of them holds a number of its own (tests/test_vocabulary.py).
# The values are the alert rules': the ID certificate (registration) is renewed every 6 months, so
# a month's notice; authorization and usage-report ACKs renew monthly, so two weeks.
DEADLINE_DAYS: dict[Deadline, DayThresholds] = {
    Deadline.REGISTRATION_EXPIRY: DayThresholds(warning=30, critical=7),
    Deadline.COMMUNICATION_DEADLINE: DayThresholds(warning=14, critical=3),
    # No alert escalates the evaluation period (LicEvaluationExpiring warns only); its critical
    # mark is the diagnose rule's (evaluation_mode is critical in its last week).
    Deadline.EVALUATION_EXPIRY: DayThresholds(warning=14, critical=7),
    Deadline.REPORT_ACK: DayThresholds(warning=14, critical=3),
}


# A term (or demo) licence ending in its Smart Account: LicTermLicenceExpiring (warning) and
# LicTermLicenceExpiringCritical, the accounts dashboard's term-end colours, diagnose's
# term_license_ending. A month's notice to buy or renew the subscription, a week's to escalate.
TERM_END_DAYS = DayThresholds(warning=30, critical=7)
# An account source's polls keep failing (LicAccountPollFailing): no success for this many of its
# poll intervals (one missed poll is retried at the next; two in a row are worth a look), and
# diagnose's account_data_stale for the account data a join relies on.
ACCOUNT_POLL_STALE_INTERVALS = 2
# The contract's default `accounts.poll_interval`: the account sources' schedule, and what diagnose
# judges a snapshot's age against (a snapshot does not say its source's interval).
ACCOUNT_POLL_INTERVAL_DEFAULT = 6 * 3600.0


@dataclass(frozen=True)
class IntervalFactors:
    """How old a device's last successful collection may grow, in the device's own collection
    intervals (COLLECT_INTERVAL): late past `late` of them (a run missed, beyond the schedule's
    jitter), stale past `stale` (runs missed one after another)."""

    late: float
    stale: float

    def state(self, age_seconds: float, interval_seconds: float) -> Severity | None:
        """CRITICAL once stale, WARNING once late, None while on time."""
        if age_seconds > self.stale * interval_seconds:
            return Severity.CRITICAL
        if age_seconds > self.late * interval_seconds:
            return Severity.WARNING
        return None


# Judged per device against its own interval, so a 24 h schedule is not red all day and a 6 h one
# does not flicker with the schedule's jitter. LicCollectionFailing fires once stale; the fleet
# dashboard's collection table colours late and stale.
COLLECTION_AGE = IntervalFactors(late=1.5, stale=3)

# Outputs saved by another job (no interval known to the exporter): a capture older than this is
# stale (LicSourceDataStale, diagnose's stale_capture, the capture-age colours); a device the
# exporter collects itself is judged by COLLECTION_AGE instead, where that allows longer.
CAPTURE_STALE_DAYS = 2
# A next attempt this long before the capture that still names it did not happen
# (LicAttemptOverdue, diagnose's attempt_overdue).
ATTEMPT_OVERDUE_DAYS = 1


@dataclass(frozen=True)
class FailureCount:
    """At least `failures` failed communications with Cisco within `hours`."""

    failures: int
    hours: int


# One device failing again and again with one reason (LicCallhomeFailuresRepeating; the fleet
# dashboard's failures-per-device colours).
CALLHOME_REPEATING = FailureCount(failures=3, hours=6)


@dataclass(frozen=True)
class FleetShare:
    """A cause shared across the fleet: at least `percent` % of the devices, and at least
    `devices` of them, affected within `hours`. A whole percentage, so that the rule's
    `count * percent / 100` is exact where it should be (0.1 * 30 is not 3 in floating point)."""

    percent: int
    devices: int
    hours: int


# LicCallhomeFailingFleetwide: that many devices logged a call-home failure of the same reason in
# the last hour (a proxy change, DNS, Cisco's side down): one alert per reason instead of one per
# device, and the per-device call-home alerts of that reason are inhibited while it fires.
CALLHOME_FLEETWIDE = FleetShare(percent=10, devices=5, hours=1)

# Which alert carries each diagnose finding (label `problem` of PROBLEM, as diagnose's RULES name
# them; `<reason>` stands for every failure reason). LicProblem carries the findings that have no
# alert of their own and leaves out the others, so that one fault raises one alert. A new finding
# is added here (tests/test_alerting.py fails for a finding missing from this table).
PROBLEM_ALERT = "LicProblem"
FINDING_ALERTS: dict[str, str] = {
    "callhome_plain_http": PROBLEM_ALERT,
    "callhome_disabled": PROBLEM_ALERT,
    "callhome_no_vrf": PROBLEM_ALERT,
    "callhome_source_interface": PROBLEM_ALERT,
    "callhome_failing_<reason>": "LicCallhomeFailuresRepeating",
    "clock_changed": PROBLEM_ALERT,
    "evaluation_mode": "LicEvaluationExpiring",
    "evaluation_expired": PROBLEM_ALERT,
    "out_of_compliance": "LicOutOfCompliance",
    "authorization_expired": "LicAuthorizationExpired",
    "communication_deadline_passed": "LicCommunicationDeadlineCritical",
    "communication_deadline_near": "LicCommunicationDeadline",
    "registration_failed": PROBLEM_ALERT,
    "registration_failing": "LicRegistrationExpiring",
    "registration_expiry_passed": "LicRegistrationExpiringCritical",
    "registration_expiry_near": "LicRegistrationExpiring",
    "attempt_overdue": "LicAttemptOverdue",
    "report_ack_overdue": "LicReportAckDeadline",
    "report_ack_passed": "LicReportAckDeadlineCritical",
    "stale_capture": "LicSourceDataStale",
    # What a Smart Account says (findings of an account, not of a device: label `device` empty).
    "account_shortage": "LicAccountShortage",
    "term_license_ending": "LicTermLicenceExpiring",
    "term_license_ended": "LicTermLicenceExpiringCritical",
    "account_poll_failing": "LicAccountPollFailing",
    # The join: a device out of compliance, told what its virtual account says.
    "out_of_compliance_account_short": "LicOutOfCompliance",
    "out_of_compliance_account_unknown": "LicOutOfCompliance",
}
