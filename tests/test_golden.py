"""Golden tests: every authored fixture and every real sample against its expected records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CORPUS, CORPUS_EXPECTED, FIXTURES
from golden import expected_path, normalise

from lic_exporter.parsing.files import Parser

# Corpus files that are notes or third-party expectations, not outputs.
_NOT_SAMPLES = (".md", ".expected.json", ".expected.yml")


def fixture_samples() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".txt", ".log"))


def corpus_samples(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.endswith(_NOT_SAMPLES))


@pytest.mark.parametrize("raw", fixture_samples(), ids=lambda p: p.name)
def test_authored_fixture(raw: Path, parser: Parser) -> None:
    expected = json.loads(expected_path(raw, FIXTURES, FIXTURES).read_text())
    assert expected["derived_from"] and not expected["derived_from"].startswith("TODO")
    assert normalise(parser.parse_file(raw), FIXTURES) == {k: expected[k] for k in ("records", "errors")}


def _corpus_ids() -> list[Path]:
    return corpus_samples(CORPUS) if CORPUS.is_dir() else []


@pytest.mark.parametrize("relative", [p.relative_to(CORPUS) for p in _corpus_ids()], ids=str)
def test_real_sample(relative: Path, corpus: Path, parser: Parser) -> None:
    raw = corpus / relative
    expected = json.loads(expected_path(raw, corpus, CORPUS_EXPECTED).read_text())
    assert normalise(parser.parse_file(raw), corpus) == {k: expected[k] for k in ("records", "errors")}


def test_every_real_sample_has_an_expectation(corpus: Path) -> None:
    """A sample added to the corpus without an expectation here must not pass unnoticed,
    and an expectation whose sample vanished is stale."""
    samples = {expected_path(p, corpus, CORPUS_EXPECTED) for p in corpus_samples(corpus)}
    written = set(CORPUS_EXPECTED.rglob("*.expected.json"))
    assert samples - written == set(), "samples without expectations"
    assert written - samples == set(), "expectations without samples"


def test_every_fixture_has_an_expectation() -> None:
    expected = {str(p).removesuffix(".expected.json") for p in FIXTURES.rglob("*.expected.json")}
    assert expected == {str(p.with_suffix("")) for p in fixture_samples()}
