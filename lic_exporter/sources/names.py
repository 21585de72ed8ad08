"""Device names: the contract's rule for the `device` label, shared by the parser (prompts,
file names, syslog hosts) and the collector (target names), so the two always agree."""

from __future__ import annotations

import ipaddress
import re

from lic_exporter.sources.privacy import clean_controls

_NOT_IN_A_NAME = re.compile(r"[^a-z0-9_.:-]")


def device_name(host: str) -> str:
    """Short lower-case host name; an IP address stays whole. Characters no host name holds
    (escape sequences, control characters) are dropped: the name becomes a label and reaches
    terminals. "" when nothing is left."""
    host = _NOT_IN_A_NAME.sub("", clean_controls(host).strip().lower())
    if ":" in host or host.replace(".", "").isdigit():  # looks like an address: check it
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
    return host.split(".", 1)[0]


