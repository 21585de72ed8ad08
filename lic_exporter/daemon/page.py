"""Assemble one rendering of /metrics, its gzip and the status page at /, from the per-device
text (packed) and facts.

A page is built whole and then swapped in whole: a scrape only hands out the current page, so
it never sees half an update and never waits for parsing. Assembling costs no parsing: the
device text is ready, only the day counts and the findings are computed for `now`, once, for
both /metrics and the status page (which therefore never disagree). The text is compressed as
it is assembled, one device unpacked at a time, and only its gzip is kept: a fleet's page is
never held as text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from lic_exporter.analysis.accounts import account_findings
from lic_exporter.analysis.diagnose import Facts, Finding, diagnose, with_syslog
from lic_exporter.daemon.digest import PackedText
from lic_exporter.daemon.gzip_head import Columns, GzipHead
from lic_exporter.exposition.account_metrics import AccountPollStatus
from lic_exporter.exposition.landing import StatusHeader, status_page
from lic_exporter.exposition.metrics import CollectStatus, ExporterStats, page_heads, page_tail
from lic_exporter.model.accounts import AccountRecord
from lic_exporter.parsing.syslog_tally import Tally

log = logging.getLogger("lic_exporter")


@dataclass(frozen=True)
class Page:
    """One rendering of /metrics, swapped in whole, kept as its gzip only (GzipHead: the text
    compressed once, in the thread that rendered it)."""

    gzip: GzipHead
    rendered_at: float  # time.monotonic()
    html: bytes = b""  # the status page at /, rendered with it (empty: the plain landing page)

    @property
    def text(self) -> bytes:
        """The text whole (inflated: the scrape sends it in pieces)."""
        return b"".join(self.gzip.text_pieces())

    @property
    def gzipped(self) -> bytes:
        """The text alone as one gzip member."""
        return self.gzip.prefix + self.gzip.finish(b"")


EMPTY_PAGE = Page(GzipHead.of(b""), 0.0)


def assemble(devices: Sequence[PackedText], facts: Sequence[Facts], stats: ExporterStats, tally: Tally,
             now: datetime, collect: Iterable[CollectStatus] | None, deadline_days: bool = False,
             header: StatusHeader | None = None, accounts: Sequence[AccountRecord] = (),
             account_polls: Iterable[AccountPollStatus] | None = None) -> Page:
    """The page for these devices (in page order) and their facts (in the same order: the day
    counts read the deadlines there), syslog totals, collection statuses, account records (one
    per source) and account polls, with the day counts and the diagnose findings (the accounts'
    among them) computed for `now`; with `header`, the status page too."""
    fleet = with_syslog(facts, tally)
    findings = diagnose(fleet, now) + account_findings(accounts, fleet, now)
    heads = page_heads(facts, now, deadline_days)
    columns = Columns(len(heads) + 1)  # the device families, then the tail
    for position, head in enumerate(heads):
        columns.add(position, head)
    for device in devices:
        for position, chunk in enumerate(device.chunks):
            columns.add(position, chunk)
    columns.add(len(heads), page_tail(tally, stats, findings, collect, accounts, account_polls))
    html = _status_html(fleet, findings, header, now) if header is not None else b""
    return Page(columns.head(), time.monotonic(), html)


def _status_html(fleet: list[Facts], findings: list[Finding], header: StatusHeader, now: datetime) -> bytes:
    """The status page; should it fail, /metrics is still served new (and / the plain landing
    page): the status page is for people, the metrics feed the alerts."""
    try:
        return status_page(fleet, findings, header, now)
    except Exception:
        log.exception("rendering the status page failed; / serves the plain landing page")
        return b""
