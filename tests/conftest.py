"""Shared pytest fixtures: the real-output corpus (or a skip without it) and one parser per session.
Paths and helpers are modules of tests/support/, imported by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from lic_exporter.parsing.files import Parser
from tests.support.paths import CORPUS, corpus_required


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
