"""What a scrape of the daemon's /metrics is sent: the page rendered in advance, then the process_*
families read at that moment (prometheus_client's ProcessCollector), as plain text or as one gzip
member (the page's GzipHead, compressed once when it was rendered, finished with the process
text); and the reload that POST /-/reload asks for.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from lic_exporter.daemon.endpoints import Body
from lic_exporter.daemon.page import Page

log = logging.getLogger("lic_exporter")


class ProcessText:
    """The process_* families of this process, as exposition text, read anew at each call."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self._registry)

    def __call__(self) -> bytes:
        return generate_latest(self._registry)


class Pages(Protocol):
    """The folder watcher, as far as a scrape needs it."""

    def page(self) -> Page: ...

    def is_ready(self) -> bool: ...


class DaemonSource:
    """The daemon's page source (daemon.endpoints.LiveSource): `pages` (the folder watcher) gives
    the rendered page with its gzip head; this adds the process text to each /metrics answer,
    and reloads through `lifecycle` (None: --web.enable-lifecycle not given)."""

    def __init__(self, pages: Pages, lifecycle: Callable[[str], str | None] | None = None,
                 process_text: Callable[[], bytes] | None = None):
        self._pages = pages
        self._lifecycle = lifecycle
        self._process_text = process_text or ProcessText()

    def page(self) -> Page:
        return self._pages.page()

    def is_ready(self) -> bool:
        return self._pages.is_ready()

    def metrics(self, gzipped: bool) -> Body:
        """The /metrics body, in pieces sent one after the other (the page is not copied; without
        gzip, it is inflated as it is sent)."""
        tail = self._process_text()
        head = self._pages.page().gzip
        if not gzipped:
            return Body(itertools.chain(head.text_pieces(), (tail,)), head.length + len(tail))
        finished = head.finish(tail)
        return Body((head.prefix, finished), len(head.prefix) + len(finished))

    @property
    def lifecycle_enabled(self) -> bool:
        return self._lifecycle is not None

    def reload(self) -> str | None:
        """What POST /-/reload does (the same as SIGHUP): None once done, else why the
        configuration was not reloaded (the old one runs on)."""
        if self._lifecycle is None:
            raise RuntimeError("lifecycle API not enabled")
        return self._lifecycle("POST /-/reload")
