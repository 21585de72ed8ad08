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
from typing import TextIO

import textfsm
from textfsm import clitable

SIGNATURE_LINES = 200  # content recognition looks at this many lines of an output
# Syslog lines come with no command, so no index row names their template.
SYSLOG_TEMPLATE = "cisco_syslog_licensing.textfsm"


def templates_dir() -> Path:
    """Templates ship inside the wheel as lic_exporter/templates; a source checkout has them
    at the top level."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "index").is_file():
            return candidate
    raise FileNotFoundError(f"no templates/index beside {package}")


class FastFSM(textfsm.TextFSM):
    """TextFSM with the same template language and semantics, and a leaner line loop.

    textfsm's own loop calls three Python functions per rule tried and looks each captured
    value up by a linear scan of all values. This loop matches the compiled regex directly and
    finds values in a dict, which roughly halves parse time on licence outputs (see bench/).
    The actions (Next/Continue/Error, Record/Clear, state changes) are textfsm's own code.
    """

    _cur_state: list[textfsm.TextFSMRule]  # set by textfsm, which declares no type for it

    def __init__(self, template: TextIO) -> None:
        super().__init__(template)
        self._by_name = {value.name: value for value in self.values}
        self._header = tuple(self.header)
        # Values without options (most of them) need no per-record option callbacks.
        self._plain = tuple(value for value in self.values if not value.options)
        self._optioned = tuple(value for value in self.values if value.options)

    def _ClearRecord(self) -> None:  # noqa: N802
        for value in self._plain:
            value.value = None
        for value in self._optioned:
            value.ClearVar()

    def _ClearAllRecord(self) -> None:  # noqa: N802
        if not hasattr(self, "_plain"):  # textfsm's __init__ resets before we are set up
            super()._ClearAllRecord()
            return
        for value in self._plain:
            value.value = None
        for value in self._optioned:
            value.ClearAllVar()

    def _AppendRecord(self) -> None:  # noqa: N802
        """textfsm's rule: options may veto the record; an all-empty record is dropped;
        None becomes ''."""
        try:
            for value in self._optioned:
                value.OnSaveRecord()
        except textfsm.parser.SkipRecord:
            self._ClearRecord()
            return
        record = [value.value for value in self.values]
        if all(item is None or item == [] for item in record):
            return
        self._result.append(["" if item is None else item for item in record])
        self._ClearRecord()

    def rows(self, text: str) -> list[dict[str, object]]:
        """Parse `text` from a fresh start; one dict per record."""
        self.Reset()
        return [dict(zip(self._header, row, strict=True)) for row in self.ParseText(text)]

    def _CheckLine(self, line: str) -> None:  # noqa: N802 (textfsm's name)
        for rule in self._cur_state:
            matched = rule.regex_obj.regex.match(line)
            if matched is None:
                continue
            for name, text in matched.groupdict().items():
                value = self._by_name.get(name)
                if value is None:
                    continue
                if value.options:
                    value.AssignVar(text)
                else:
                    value.value = text
            if self._Operations(rule, line):
                if rule.new_state:
                    if rule.new_state not in ("End", "EOF"):
                        self._cur_state = self.states[rule.new_state]
                    self._cur_state_name = rule.new_state
                break


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
    fsms: dict[str, FastFSM] = field(default_factory=dict)
    _by_command: dict[str, tuple[IndexRow, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None = None) -> TemplateIndex:
        directory = directory or templates_dir()
        table = clitable.IndexTable(file_path=str(directory / "index"), precompile=lambda *_: None)
        rows = tuple(_index_row(row) for row in table.index)
        index = cls(directory, rows)
        for name in sorted({t for row in rows for t in row.templates} | {SYSLOG_TEMPLATE}):
            with open(directory / name, encoding="utf-8") as handle:
                index.fsms[name] = FastFSM(handle)
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
        if stem[:2].lower() != "sh":  # every command starts with `show`
            return ()
        return tuple(row for row in self.rows if row.file_name_re.fullmatch(stem.lower()))

    def choose(self, candidates: tuple[IndexRow, ...], head: str) -> tuple[IndexRow | None, bool]:
        """Among rows for one command, the first whose signature fits the output, else the
        last (the general form); without candidates, recognise the output by content alone.
        Returns the row and whether its signature matched."""
        for row in candidates or self.rows:
            if row.signature.search(head):
                return row, True
        return (candidates[-1], False) if candidates else (None, False)

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
