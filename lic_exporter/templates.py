"""The template index: which TextFSM templates read which command, compiled once.

The index is clitable's format (`templates/index`, CSV with `sh[[ow]]` completion syntax),
read with textfsm's own IndexTable. Everything here is built once per process: commands are
matched through a cache, so parsing 20,000 files does 20,000 dictionary lookups, not 20,000
index scans, and each template is compiled exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import textfsm
from textfsm import clitable

SIGNATURE_LINES = 200  # content recognition looks at this many lines of an output


def templates_dir() -> Path:
    """Templates ship inside the wheel as lic_exporter/templates; a source checkout has them
    at the top level."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "index").is_file():
            return candidate
    raise FileNotFoundError(f"no templates/index beside {here}")


class TrackingFSM(textfsm.TextFSM):
    """TextFSM that remembers on which input line each value was set, so that an error in a
    value can name its line. Rows come with a {value name: line} map each."""

    def ParseWithLines(self, text: str) -> list[tuple[dict[str, object], dict[str, int]]]:
        self.Reset()
        self._line_no = 0
        self._value_lines: dict[str, int] = {}
        self._row_lines: list[dict[str, int]] = []
        rows = self.ParseText(text)
        return [(dict(zip(self.header, row)), lines) for row, lines in zip(rows, self._row_lines)]

    @property
    def line_no(self) -> int:
        return self._line_no

    def _CheckLine(self, line: str) -> None:  # noqa: N802 (textfsm's name)
        self._line_no += 1
        super()._CheckLine(line)

    def _AssignVar(self, matched: re.Match[str], value: str) -> None:  # noqa: N802
        if matched.group(value) is not None:
            self._value_lines[value] = self._line_no
        super()._AssignVar(matched, value)

    def _AppendRecord(self) -> None:  # noqa: N802
        before = len(self._result)
        super()._AppendRecord()
        if len(self._result) > before:
            self._row_lines.append(self._value_lines)
        self._value_lines = {}


@dataclass(frozen=True)
class IndexRow:
    command: str  # canonical command, e.g. "show license status"
    templates: tuple[str, ...]
    command_re: re.Pattern[str]
    file_name_re: re.Pattern[str]
    signature: re.Pattern[str]


@dataclass
class TemplateIndex:
    directory: Path
    rows: tuple[IndexRow, ...]
    fsms: dict[str, TrackingFSM] = field(default_factory=dict)
    _by_command: dict[str, tuple[IndexRow, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None = None) -> TemplateIndex:
        directory = directory or templates_dir()
        table = clitable.IndexTable(file_path=str(directory / "index"), precompile=lambda *_: None)
        rows = tuple(_index_row(row) for row in table.index)
        index = cls(directory, rows)
        for name in sorted({t for row in rows for t in row.templates}):
            with open(directory / name, encoding="utf-8") as handle:
                index.fsms[name] = TrackingFSM(handle)
        return index

    def rows_for_command(self, typed: str) -> tuple[IndexRow, ...]:
        """Index rows whose command matches what was typed (`sh lic stat`), cached."""
        key = normalise_command(typed)
        found = self._by_command.get(key)
        if found is None:
            found = tuple(row for row in self.rows if row.command_re.fullmatch(key))
            self._by_command[key] = found
        return found

    def rows_for_file_name(self, stem: str) -> tuple[IndexRow, ...]:
        """Rows whose command the file is named after (`show_license_status`, `show-license-all`)."""
        return tuple(row for row in self.rows if row.file_name_re.fullmatch(stem.lower()))

    def choose(self, candidates: tuple[IndexRow, ...], head: str) -> IndexRow | None:
        """Among rows for one command, the first whose signature fits the output, else the
        last (the general form). Without candidates: recognise the output by content alone."""
        if candidates:
            for row in candidates:
                if row.signature.search(head):
                    return row
            return candidates[-1]
        for row in self.rows:
            if row.signature.search(head):
                return row
        return None

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row.command for row in self.rows))


def normalise_command(typed: str) -> str:
    """`Show  License Status | no-more` -> `show license status`. Other pipes (include,
    begin, json) change the output, so they stay and the command is then not recognised."""
    command = " ".join(typed.lower().split())
    return _PAGER_OFF.sub("", command)


_PAGER_OFF = re.compile(r"\s*\|\s*no(?:-more)?$")


def _index_row(row: textfsm.texttable.Row) -> IndexRow:
    command_spec = row["Command"].strip()
    return IndexRow(
        command=re.sub(r"\[\[(.+?)\]\]", r"\1", command_spec),
        templates=tuple(t.strip() for t in row["Template"].split(":")),
        command_re=re.compile(_completion_regex(command_spec, word_gap=r"\s+")),
        file_name_re=re.compile(_completion_regex(command_spec, word_gap=r"[\s_-]+", hyphen=r"[-_ ]")),
        signature=re.compile(row["Signature"].strip(), re.MULTILINE),
    )


@cache
def _completion_regex(spec: str, word_gap: str, hyphen: str = "-") -> str:
    """clitable completion: `sh[[ow]]` accepts sh, sho, show."""
    words = []
    for word in spec.split():
        match = re.fullmatch(r"([^\[]+)(?:\[\[(.+?)\]\])?", word)
        if not match:
            raise ValueError(f"bad command in index: {spec!r}")
        required, optional = match.group(1), match.group(2) or ""
        regex = re.escape(required).replace(r"\-", hyphen)
        tail = ""
        for char in reversed(optional):
            piece = hyphen if char == "-" else re.escape(char)
            tail = f"(?:{piece}{tail})?"
        words.append(regex + tail)
    return word_gap.join(words)
