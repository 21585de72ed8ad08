"""What the status page says about the exporter itself: version, revision, start time, what it
watches and follows, and what it was started with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from lic_exporter import __version__
from lic_exporter.model.release import python_version, revision


@dataclass(frozen=True)
class About:
    version: str = __version__
    revision: str = field(default_factory=revision)
    python: str = field(default_factory=python_version)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    watched: tuple[str, ...] = ()  # the --watch folders (and --collect.dir)
    syslog_patterns: tuple[str, ...] = ()  # the --syslog files and patterns, as given
    lifecycle: bool = False  # --web.enable-lifecycle
