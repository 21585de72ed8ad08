"""Polling sources: one poll of one source (its client, its token, its requests, its snapshot),
never two polls of one source at once, each poll's result recorded in the source's status.

`AccountsPoller` is what both `lic-exporter accounts` and the daemon's loop use. A source's
token is kept between polls for as long as its configuration (id, secret, URLs) stays the
same. A failed poll writes nothing: the previous snapshot stays.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from lic_exporter.accounts.client import MAX_ANSWER_BYTES, ApiClient
from lic_exporter.accounts.cssm import poll_cssm
from lic_exporter.accounts.failures import FORBIDDEN_EXPLANATION, AccountsError
from lic_exporter.accounts.onprem import poll_onprem
from lic_exporter.accounts.results import AccountStatus, PollResult
from lic_exporter.accounts.settings import AccountsConfig, AccountSource
from lic_exporter.accounts.snapshot import snapshot, snapshot_path, snapshot_text, write_snapshot
from lic_exporter.accounts.tokens import TokenKeeper

log = logging.getLogger("lic_exporter.accounts")
SnapshotCheck = Callable[[bytes, str], "str | None"]  # (the snapshot's bytes, its path) -> a problem, or None


class AccountsPoller:
    """Polls the sources of a configuration into `out_dir`, and keeps each source's status."""

    def __init__(self, config: AccountsConfig, out_dir: Path, on_result: Callable[[PollResult], None] | None = None,
                 retry_base: float = 1.0, max_answer_bytes: int = MAX_ANSWER_BYTES,
                 transport: httpx.AsyncBaseTransport | None = None, check: SnapshotCheck | None = None):
        self.config = config
        # The reader's judgement of a snapshot before it replaces the last good one (the daemon and
        # the command pass the parser's; this package may not import it): a problem fails the poll.
        self.check = check
        self.out_dir = out_dir
        self.on_result = on_result
        self.retry_base = retry_base  # the backoff without Retry-After; tests make it short
        self.max_answer_bytes = max_answer_bytes
        self.transport = transport  # tests only: httpx's own transports stand in for the network
        self.status: dict[str, AccountStatus] = {source.name: AccountStatus(source.name) for source in config.sources}
        self.lock = threading.Lock()  # the statuses: updated here as polls end, copied by the daemon's scrapes
        self._keepers: dict[str, TokenKeeper] = {}
        self._running: set[str] = set()

    def reconfigure(self, config: AccountsConfig) -> None:
        """A new configuration: statuses of sources that stay are kept; a token only while
        its source's credential and URLs stay the same."""
        self.config = config
        for source in config.sources:
            self.status.setdefault(source.name, AccountStatus(source.name))
            keeper = self._keepers.get(source.name)
            if keeper is not None and keeper.source.identity != source.identity:
                del self._keepers[source.name]
        names = {source.name for source in config.sources}
        for name in list(self._keepers):
            if name not in names:
                del self._keepers[name]

    async def poll_all(self) -> list[PollResult]:
        """Every source once, at the same time (each its own host or account); results in order."""
        results = await asyncio.gather(*(self.poll(source) for source in self.config.sources))
        return [result for result in results if result is not None]

    async def poll(self, source: AccountSource) -> PollResult | None:
        """One poll of one source; None when that source is being polled already."""
        if source.name in self._running:
            return None
        self._running.add(source.name)
        try:
            result = await self._poll(source)
        finally:
            self._running.discard(source.name)
        self._record(result)
        return result

    def _keeper(self, source: AccountSource) -> TokenKeeper:
        keeper = self._keepers.get(source.name)
        if keeper is None or keeper.source.identity != source.identity:
            keeper = self._keepers[source.name] = TokenKeeper(source)
        return keeper

    async def _poll(self, source: AccountSource) -> PollResult:
        when, begun = time.time(), time.monotonic()
        requests = 0
        try:
            async with ApiClient(source, retry_base=self.retry_base, max_answer_bytes=self.max_answer_bytes,
                                 transport=self.transport) as client:
                try:
                    keeper = self._keeper(source)
                    poll = poll_cssm if source.type == "cssm" else poll_onprem
                    answers = await poll(client, keeper)
                    text = snapshot_text(snapshot(source, answers, client.secrets))
                finally:
                    requests = client.requests
            self._judge(source, text)
            path = await asyncio.to_thread(self._save, source.name, text)
        except AccountsError as error:
            return PollResult(source.name, False, error.reason, error.message, when, time.monotonic() - begun, requests)
        except OSError as error:
            return PollResult(source.name, False, "other", f"cannot write the snapshot: {error.strerror}", when,
                              time.monotonic() - begun, requests)
        except Exception as error:  # a bug or a surprise costs this poll of this source, never the others
            log.debug("%s: poll failed unexpectedly", source.name, exc_info=True)
            return PollResult(source.name, False, "other", f"unexpected {type(error).__name__}", when,
                              time.monotonic() - begun, requests)
        return PollResult(source.name, True, None, "polled", when, time.monotonic() - begun, requests, path)

    def _judge(self, source: AccountSource, text: str) -> None:
        """AccountsError (`response`) when the reader would refuse this snapshot: an answer of a
        shape the parser does not read must not replace the last good data."""
        if self.check is None:
            return
        problem = self.check(text.encode(), str(snapshot_path(self.out_dir, source.name)))
        if problem is not None:
            raise AccountsError("response", f"the answers make a snapshot the parser refuses, kept the previous "
                                            f"one: {problem}")

    def _save(self, name: str, text: str) -> Path:
        """Write the snapshot; a folder deleted meanwhile is created again (logged)."""
        try:
            return write_snapshot(self.out_dir, name, text)
        except FileNotFoundError:
            if self.out_dir.is_dir():
                raise
        self.out_dir.mkdir(parents=True, exist_ok=True)
        log.warning("accounts folder %s was gone: created it again", self.out_dir)
        return write_snapshot(self.out_dir, name, text)

    def _record(self, result: PollResult) -> None:
        with self.lock:
            status = self.status.setdefault(result.source, AccountStatus(result.source))
            status.success, status.message = result.ok, result.message
            if result.ok:
                status.last_success = result.when + result.seconds
            else:
                status.failures[result.reason or "other"] += 1
        if result.ok:
            log.debug("%s: polled in %.1f s, %d requests", result.source, result.seconds, result.requests)
        else:
            hint = f" ({FORBIDDEN_EXPLANATION})" if result.reason == "forbidden" and \
                FORBIDDEN_EXPLANATION not in result.message else ""
            log.warning("%s: account poll failed (%s): %s%s", result.source, result.reason, result.message, hint)
        if self.on_result is not None:
            self.on_result(result)
