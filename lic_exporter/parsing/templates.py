"""The template index: which TextFSM templates read which command, compiled once.

The index is clitable's format (`templates/index`, CSV with `sh[[ow]]` completion syntax),
read with textfsm's own IndexTable. Everything here is built once per process: commands are
matched through a cache, so parsing 20,000 files does 20,000 dictionary lookups, not 20,000
index scans, and each template is compiled at most once, when a section first needs it (a
folder of status outputs never compiles the other templates' few hundred expressions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TextIO

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


# A rule as the loop uses it: its compiled match, text every line it matches holds (tested
# first: a substring test costs far less than a match that fails), its values (name, textfsm
# Value, whether the value has options), its action (below), its new state.
_Rule = tuple[Callable[[str], "re.Match[str] | None"], str, textfsm.TextFSMRule,
              tuple[tuple[str, Any, bool], ...], int, str]
# The actions the loop runs itself: the plain Next, and Next.Record (every rule of the syslog
# template); any other goes through textfsm's _Operations.
_NEXT, _RECORD, _OTHER = 0, 1, 2


def _parsed(regex: str) -> tuple[Any, Any]:
    """The standard library's own reading of an expression (its private parser, and the names
    of what it returns): callers fall back to no shortcut if either is not as expected."""
    from re import _constants, _parser  # type: ignore[attr-defined]

    return _constants, _parser.parse(regex)


def required_texts(regex: str) -> tuple[tuple[str, ...], ...]:
    """What text every match of `regex` holds, as alternatives: a match holds every run of one
    of them. A run is plain characters standing one after another at the top level of the
    expression (or of one of its top-level alternatives), outside any group, class or repeat,
    so no match can leave it out. () when some alternative holds no such run, or when it cannot
    be told: the expression is read with the standard library's own parser, and anything it
    does not hand over plainly (case-insensitive flags, a newer parser) gives no shortcut."""
    try:
        c, parsed = _parsed(regex)
        if parsed.state.flags & re.IGNORECASE:
            return ()
        items = list(parsed)
        if len(items) == 1 and items[0][0] is c.BRANCH:
            branches = [list(branch) for branch in items[0][1][1]]
        else:
            branches = [items]
        alternatives = []
        for branch in branches:
            runs, run = [], ""
            for op, argument in [*branch, (None, None)]:
                if op is c.LITERAL:
                    run += chr(argument)
                elif run:
                    runs.append(run)
                    run = ""
            if not runs:
                return ()
            alternatives.append(tuple(runs))
        return tuple(alternatives)
    except Exception:  # whatever another Python's parser does or lacks: no shortcut, same result
        return ()


def may_match(needs: tuple[tuple[str, ...], ...], text: str) -> bool:
    """False only when `text` holds none of the alternatives `required_texts` gave, so the
    expression cannot match in it; a few substring tests instead of a search that fails."""
    return not needs or any(all(run in text for run in runs) for runs in needs)


def _longest_run(regex: str) -> str:
    """The longest run every match holds, for a rule tried line by line ("" when none)."""
    needs = required_texts(regex)
    return max(needs[0], key=len) if len(needs) == 1 else ""


class FastFSM(textfsm.TextFSM):
    """TextFSM with the same template language and semantics, and a leaner line loop.

    textfsm's own loop calls three Python functions per rule tried and looks each captured
    value up by a linear scan of all values. This loop runs the lines of a text in one method,
    over rules prepared once per template (each rule's compiled match, its values, whether its
    action is the plain Next or Next.Record), so a line costs its regex matches and little else.
    Any other action (Continue, Error, Clear, a record with Continue) is textfsm's own code.
    """

    _cur_state: list[textfsm.TextFSMRule]  # set by textfsm, which declares no types for these
    _cur_state_name: str

    def __init__(self, template: TextIO) -> None:
        super().__init__(template)
        self._by_name = {value.name: value for value in self.values}
        self._header = tuple(self.header)
        # Values without options (most of them) need no per-record option callbacks.
        self._plain = tuple(value for value in self.values if not value.options)
        self._optioned = tuple(value for value in self.values if value.options)
        self._plans = {name: tuple(self._prepared(rule) for rule in rules) for name, rules in self.states.items()}

    def _prepared(self, rule: textfsm.TextFSMRule) -> _Rule:
        regex = rule.regex_obj.regex
        values = tuple((name, self._by_name[name], bool(self._by_name[name].options))
                       for name in regex.groupindex if name in self._by_name)
        action = _OTHER
        if rule.line_op in ("", "Next"):
            action = {"": _NEXT, "NoRecord": _NEXT, "Record": _RECORD}.get(rule.record_op, _OTHER)
        return regex.match, _longest_run(rule.regex), rule, values, action, rule.new_state

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
        if record.count(None) + record.count([]) == len(record):  # each None or [], counted in C
            return
        self._result.append(["" if item is None else item for item in record])
        self._ClearRecord()

    def rows(self, text: str) -> list[dict[str, object]]:
        """Parse `text` from a fresh start; one dict per record."""
        self.Reset()
        return [dict(zip(self._header, row, strict=True)) for row in self.ParseText(text)]

    def lists(self, text: str) -> list[list[Any]]:
        """Parse `text` from a fresh start; one list per record, in the header's order."""
        self.Reset()
        return self.ParseText(text)

    def ParseText(self, text: str, eof: bool = True) -> list[list[Any]]:  # noqa: N802 (textfsm's name)
        """textfsm's ParseText: each line through the current state's rules until one that is
        not Continue matches; End or EOF stops; without an EOF state the last record is kept."""
        plan = self._plans[self._cur_state_name]
        for line in text.splitlines() if text else ():
            for match, required, rule, values, action, new_state in plan:
                if required and required not in line:
                    continue
                matched = match(line)
                if matched is None:
                    continue
                if values:
                    found = matched.groupdict()
                    for name, value, optioned in values:
                        if optioned:
                            value.AssignVar(found[name])
                        else:
                            value.value = found[name]
                if action == _RECORD:  # Next.Record, as textfsm's _Operations does it
                    self._AppendRecord()
                elif action != _NEXT and not self._Operations(rule, line):
                    continue  # Continue: the next rule sees the same line
                if new_state:
                    self._cur_state_name = new_state
                    if new_state not in ("End", "EOF"):
                        self._cur_state = self.states[new_state]
                        plan = self._plans[new_state]
                break
            if self._cur_state_name in ("End", "EOF"):
                break
        if self._cur_state_name != "End" and "EOF" not in self.states and eof:
            self._AppendRecord()  # textfsm's implicit EOF: Next.Record
        return self._result


@dataclass(frozen=True)
class IndexRow:
    command: str  # canonical command, e.g. "show license status"
    templates: tuple[str, ...]
    command_re: re.Pattern[str]
    file_name_re: re.Pattern[str]
    signature: re.Pattern[str]
    # What text the signature needs (required_texts), where a substring test costs less than
    # its search: not for one that starts with its text (the search skips ahead to that text
    # at the same speed), but for one made of alternatives or starting at a line start
    signature_needs: tuple[tuple[str, ...], ...] = ()


class Templates(Mapping[str, FastFSM]):
    """The index's templates by file name, each compiled the first time it is asked for."""

    def __init__(self, directory: Path, names: tuple[str, ...] = ()):
        self.directory = directory
        self._names = names
        self._compiled: dict[str, FastFSM] = {}

    def __getitem__(self, name: str) -> FastFSM:
        fsm = self._compiled.get(name)
        if fsm is None:
            if name not in self._names:
                raise KeyError(name)
            with open(self.directory / name, encoding="utf-8") as handle:
                fsm = self._compiled[name] = FastFSM(handle)
        return fsm

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class TemplateIndex:
    directory: Path
    rows: tuple[IndexRow, ...]
    fsms: Mapping[str, FastFSM] = field(default_factory=dict)
    _by_command: dict[str, tuple[IndexRow, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None = None) -> TemplateIndex:
        directory = directory or templates_dir()
        table = clitable.IndexTable(file_path=str(directory / "index"), precompile=lambda *_: None)
        rows = tuple(_index_row(row) for row in table.index)
        names = tuple(sorted({t for row in rows for t in row.templates} | {SYSLOG_TEMPLATE}))
        return cls(directory, rows, Templates(directory, names))

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
            if may_match(row.signature_needs, head) and row.signature.search(head):
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
        signature_needs=_needs_unless_leading(row["Signature"].strip()),
    )


def _needs_unless_leading(signature: str) -> tuple[tuple[str, ...], ...]:
    needs = required_texts(signature)
    return () if len(needs) == 1 and signature.startswith(needs[0][0]) else needs


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
