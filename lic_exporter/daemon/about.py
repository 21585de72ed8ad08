"""What the status page says about the exporter itself: version, revision, start time, what it
watches and follows, and what it was started with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lic_exporter import __version__
from lic_exporter.exposition.landing import StatusHeader
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

    def header(self, rendered: datetime, matched: Mapping[str, int] | None = None, files_ok: int = 0,
               files_error: int = 0, file_problems: Sequence[str] = ()) -> StatusHeader:
        """The status page's header at `rendered`; `matched`: the files each syslog pattern
        matches now (None: not known, the patterns are listed without counts)."""
        given = list(self.syslog_patterns)
        if matched is not None:
            given += [pattern for pattern in matched if pattern not in self.syslog_patterns]
        # A pattern the follower does not report is "not known", never "matches no file".
        patterns = tuple((pattern, matched.get(pattern) if matched is not None else None) for pattern in given)
        return StatusHeader(version=self.version, revision=self.revision, python=self.python,
                            started=self.started, rendered=rendered, watched=self.watched,
                            syslog_patterns=patterns, files_ok=files_ok, files_error=files_error,
                            file_problems=tuple(file_problems), lifecycle=self.lifecycle)
