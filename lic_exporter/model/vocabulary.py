"""The public vocabulary in one place: label values, failure reasons, severities, deadline names.

Everything that prints, exports, colours or alerts on these words reads them from here (the
exposition, the diagnose rules, the command line's table and `dashboards/build_*.py`), so that
none of them can drift from another. The names are the public contract (CONTRACT, README).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    DNS = "dns"
    TLS = "tls"
    HTTP_SEND = "http_send"
    RESPONSE = "response"
    TIMEOUT = "timeout"
    PROXY = "proxy"
    TRANSPORT_DISABLED = "transport_disabled"
    OTHER = "other"


# lic_exporter_collect_failures_total{reason}: why a collection failed.
COLLECT_REASONS = ("auth", "hostkey", "connect", "timeout", "session_limit", "disconnect", "command", "other")
