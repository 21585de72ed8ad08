"""Assemble one rendering of /metrics, its gzip and the status page at /, from the per-device
text and facts.

A page is built whole and then swapped in whole: a scrape only hands out the current page, so
it never sees half an update and never waits for parsing. Assembling costs no parsing: the
device text is ready, only the day counts and the findings are computed for `now`, once, for
both /metrics and the status page (which therefore never disagree).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from lic_exporter.analysis.accounts import account_findings
from lic_exporter.analysis.diagnose import Facts, Finding, diagnose, with_syslog
from lic_exporter.daemon.gzip_head import GzipHead
from lic_exporter.exposition.account_metrics import AccountPollStatus
from lic_exporter.exposition.landing import StatusHeader, status_page
from lic_exporter.exposition.metrics import CollectStatus, DeviceText, ExporterStats
from lic_exporter.exposition.metrics import page_pieces as exposition  # the page's text, in pieces
from lic_exporter.model.accounts import AccountRecord
from lic_exporter.parsing.syslog_tally import Tally

log = logging.getLogger("lic_exporter")


@dataclass(frozen=True)
class Page:
    """One rendering of /metrics, swapped in whole. The text is kept as the pieces it was
    assembled from (mostly the devices' own chunks, shared with the state and with the page
    before): a fleet's page is never held twice, nor copied to be sent."""

    pieces: tuple[bytes, ...]
    gzip: GzipHead  # the text compressed once, in the thread that rendered it
    rendered_at: float  # time.monotonic()
    html: bytes = b""  # the status page at /, rendered with it (empty: the plain landing page)

    @property
    def text(self) -> bytes:
        """The text whole (a copy: the scrape sends the pieces)."""
        return b"".join(self.pieces)

    @property
    def gzipped(self) -> bytes:
        """The text alone as one gzip member."""
        return self.gzip.prefix + self.gzip.finish(b"")


EMPTY_PAGE = Page((), GzipHead(b""), 0.0)


def assemble(devices: list[DeviceText], facts: Iterable[Facts], stats: ExporterStats, tally: Tally,
             now: datetime, collect: Iterable[CollectStatus] | None, deadline_days: bool = False,
             header: StatusHeader | None = None, accounts: Sequence[AccountRecord] = (),
             account_polls: Iterable[AccountPollStatus] | None = None) -> Page:
    """The page for these devices (in page order), syslog totals, collection statuses, account
    records (one per source) and account polls, with the day counts and the diagnose findings
    (the accounts' among them) computed for `now`; with `header`, the status page too."""
    fleet = with_syslog(facts, tally)
    findings = diagnose(fleet, now) + account_findings(accounts, fleet, now)
    pieces = tuple(exposition(devices, tally, stats, now, findings, collect, deadline_days=deadline_days,
                              accounts=accounts, account_polls=account_polls))
    html = _status_html(fleet, findings, header, now) if header is not None else b""
    return Page(pieces, GzipHead(pieces), time.monotonic(), html)


def _status_html(fleet: list[Facts], findings: list[Finding], header: StatusHeader, now: datetime) -> bytes:
    """The status page; should it fail, /metrics is still served new (and / the plain landing
    page): the status page is for people, the metrics feed the alerts."""
    try:
        return status_page(fleet, findings, header, now)
    except Exception:
        log.exception("rendering the status page failed; / serves the plain landing page")
        return b""
