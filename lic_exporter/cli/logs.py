"""Log lines on stderr as the Prometheus exporters write them: logfmt (or JSON), RFC 3339 UTC
timestamps with milliseconds, lower-case levels (placeholder: the formatters come next)."""

from __future__ import annotations

import logging
import sys

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def configure_logging(level: str, log_format: str) -> None:
    """Send lic_exporter's log lines at `level` and above to stderr in `log_format`."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='ts=%(asctime)s level=%(levelname)s logger=%(name)s msg="%(message)s"')
    logging.getLogger("lic_exporter").setLevel(LEVELS[level])  # not watchdog's own debug flood
