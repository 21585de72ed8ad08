"""Shared test setup: where the real-output corpus is, and the golden-file helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lic_exporter.parsing.files import Parser

TESTS = Path(__file__).resolve().parent
PROJECT = TESTS.parent
FIXTURES = TESTS / "fixtures"
SHOW_FIXTURES = FIXTURES / "show"
SYSLOG_FIXTURES = FIXTURES / "syslog"
CORPUS = Path(os.environ.get("LIC_EXPORTER_CORPUS", PROJECT.parent / "shared" / "corpus" / "real"))
CORPUS_EXPECTED = TESTS / "corpus_expected"


def corpus_required() -> bool:
    return os.environ.get("LIC_EXPORTER_REQUIRE_CORPUS") == "1"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus/real, read in place (never copied into the project). Tests that need it
    skip where ../shared does not exist, except under LIC_EXPORTER_REQUIRE_CORPUS=1 (CI)."""
    if not CORPUS.is_dir():
        if corpus_required():
            pytest.fail(f"corpus missing at {CORPUS} and LIC_EXPORTER_REQUIRE_CORPUS=1")
        pytest.skip(f"no corpus at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def parser() -> Parser:
    return Parser()
