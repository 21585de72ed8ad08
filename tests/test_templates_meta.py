"""Meta tests over the templates: every index row is exercised by a golden sample, every
Value of every template is filled by at least one sample, and every template has a role."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import textfsm

from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.section_record import TEMPLATE_ROLES
from lic_exporter.parsing.syslog_chunks import scan
from lic_exporter.parsing.templates import SIGNATURE_LINES, SYSLOG_TEMPLATE, TemplateIndex
from lic_exporter.sources.capture import read_capture
from tests.support.golden import corpus_samples, fixture_samples
from tests.support.paths import CORPUS, FIXTURES


def _samples():
    samples = fixture_samples()
    if CORPUS.is_dir():
        samples += corpus_samples(CORPUS)
    return samples


def _sections_by_row(parser: Parser):
    """(index row, section text) for every section of every golden sample."""
    index = parser.index
    for path in _samples():
        if path.suffix == ".log":  # syslog: its template is checked separately
            continue
        capture = read_capture(path)
        named = index.rows_for_file_name(path.name.split(".", 1)[0])
        for section in capture.sections:
            candidates = index.rows_for_command(section.command) if section.command else named
            if section.command and not candidates:
                continue
            row, _ = index.choose(candidates, "\n".join(section.lines[:SIGNATURE_LINES]))
            if row is not None and any(section.lines):
                yield row, "\n".join(section.lines)


def test_every_index_row_has_fixtures() -> None:
    parser = Parser()
    used = {id(row) for row, _ in _sections_by_row(parser)}
    missing = [(row.command, row.templates) for row in parser.index.rows if id(row) not in used]
    assert missing == []


def test_every_template_value_is_used() -> None:
    parser = Parser()
    filled: dict[str, set[str]] = defaultdict(set)
    for row, text in _sections_by_row(parser):
        for name in row.templates:
            for values in parser.index.fsms[name].rows(text):
                filled[name].update(key for key, value in values.items() if value)
    for path in _samples():
        if path.suffix == ".log":
            _, survivors = scan(path.read_bytes(), 1)
            text = "\n".join(raw.decode("utf-8", "replace") for _, raw in survivors)
            for values in parser.index.fsms[SYSLOG_TEMPLATE].rows(text):
                filled[SYSLOG_TEMPLATE].update(key for key, value in values.items() if value)
    unused = {name: set(fsm.header) - filled[name] for name, fsm in parser.index.fsms.items()}
    assert {name: sorted(values) for name, values in unused.items() if values} == {}


def test_every_template_has_a_role_and_exists() -> None:
    index = TemplateIndex.load()
    assert set(index.fsms) == set(TEMPLATE_ROLES)
    for name in index.fsms:
        assert (index.directory / name).is_file()


def test_every_template_says_how_it_treats_unknown_lines() -> None:
    index = TemplateIndex.load()
    for name in index.fsms:
        header = (index.directory / name).read_text().split("\nValue", 1)[0]
        assert "Unknown lines" in header, name


def test_abbreviated_commands_match() -> None:
    index = TemplateIndex.load()
    for typed, command in [("sh lic stat", "show license status"), ("show license all | no-more", "show license all"),
                           ("sh run callh", "show running-config callhome"), ("SHOW CALLHOME", "show callhome"),
                           ("sh lic summ", "show license summary")]:
        assert {row.command for row in index.rows_for_command(typed)} == {command}
    assert index.rows_for_command("show license status | include Status") == ()
    assert index.rows_for_command("show version") == ()
    assert {r.command for r in index.rows_for_file_name("show_running-config_callhome")} == {
        "show running-config callhome"}
    assert {r.command for r in index.rows_for_file_name("show-license-all")} == {"show license all"}
    assert FIXTURES.is_dir()


def test_fast_loop_gives_exactly_what_textfsm_gives() -> None:
    """FastFSM replaces textfsm's line loop; on every golden section and template it must
    produce the very rows textfsm.TextFSM produces."""
    parser = Parser()
    compared = 0
    for row, text in _sections_by_row(parser):
        for name in row.templates:
            with open(parser.index.directory / name) as handle:
                reference = textfsm.TextFSM(handle)
            try:
                expected = reference.ParseTextToDicts(text)
            except textfsm.TextFSMError as exc:
                with pytest.raises(textfsm.TextFSMError, match=re.escape(str(exc).split(" Rule Line")[0])):
                    parser.index.fsms[name].rows(text)
                continue
            assert parser.index.fsms[name].rows(text) == expected, name
            compared += 1
    assert compared > 50
