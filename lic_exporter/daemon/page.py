"""Assemble one rendering of /metrics, and its gzip, from the per-device text.

A page is built whole and then swapped in whole: a scrape only hands out the current page, so
it never sees half an update and never waits for parsing. Assembling costs no parsing: the
device text is ready, only the day counts and the findings are computed for `now`.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from lic_exporter.analysis.diagnose import Facts, diagnose, with_syslog
from lic_exporter.exposition.metrics import CollectStatus, DeviceText, ExporterStats, exposition
from lic_exporter.parsing.syslog_tally import Tally


@dataclass(frozen=True)
class Page:
    """One rendering of /metrics, swapped in whole."""

    text: bytes
    gzipped: bytes
    rendered_at: float  # time.monotonic()
    html: bytes = b""  # the status page at /, rendered with it (empty: the plain landing page)


EMPTY_PAGE = Page(b"", b"", 0.0)


def assemble(devices: list[DeviceText], facts: Iterable[Facts], stats: ExporterStats, tally: Tally,
             now: datetime, collect: Iterable[CollectStatus] | None, deadline_days: bool = True) -> Page:
    """The page for these devices (in page order), syslog totals and collection statuses, with
    the day counts and the diagnose findings computed for `now`."""
    findings = diagnose(with_syslog(facts, tally), now)
    text = exposition(devices, tally, stats, now, findings, collect, deadline_days=deadline_days)
    return Page(text, gzip.compress(text, compresslevel=6), time.monotonic())
