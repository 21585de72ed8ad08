"""Golden tests: every authored fixture and every real sample against its expected records
(tests/golden/, laid out as tests/support/golden.py says)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lic_exporter.parsing.files import Parser
from tests.support import golden
from tests.support.paths import CORPUS


@pytest.mark.parametrize("raw", golden.fixture_samples(), ids=lambda p: p.name)
def test_authored_fixture(raw: Path, parser: Parser) -> None:
    expected = golden.load(golden.expectation_of(raw))
    assert expected["derived_from"] and not expected["derived_from"].startswith("TODO")
    assert golden.parsed(expected["input"], parser) == {k: expected[k] for k in ("records", "errors")}


def _corpus_ids() -> list[Path]:
    return golden.corpus_samples(CORPUS) if CORPUS.is_dir() else []


@pytest.mark.parametrize("relative", [p.relative_to(CORPUS) for p in _corpus_ids()], ids=str)
def test_real_sample(relative: Path, corpus: Path, parser: Parser) -> None:
    expected = golden.load(golden.expectation_of(corpus / relative))
    assert golden.parsed(expected["input"], parser) == {k: expected[k] for k in ("records", "errors")}


def test_every_real_sample_has_an_expectation(corpus: Path) -> None:
    """A sample added to the corpus without an expectation here must not pass unnoticed,
    and an expectation whose sample vanished is stale."""
    samples = {golden.input_name(p) for p in golden.corpus_samples(corpus)}
    written = {name for name in golden.expectations() if name.startswith("corpus/")}
    assert samples - written == set(), "samples without expectations"
    assert written - samples == set(), "expectations without samples"


def test_every_fixture_has_an_expectation() -> None:
    written = {name for name in golden.expectations() if name.startswith("fixtures/")}
    assert written == {golden.input_name(p) for p in golden.fixture_samples()}


def test_every_expectation_follows_the_one_layout() -> None:
    """<platform>/<command>/<name> or syslog/<name>, named after its input; a corpus sample's
    at the sample's own path; each naming an input of a known kind."""
    found = golden.expectations()
    assert found, "no expectations found"
    assert {name.split("/", 1)[0] for name in found} <= set(golden.roots())
    problems = [golden.layout_problem(path, name) for name, path in found.items()]
    assert [problem for problem in problems if problem] == []
