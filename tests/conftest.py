"""Shared pytest fixtures: the real-output corpus (or a skip without it) and one parser per session.
Paths and helpers are modules of tests/support/, imported by name."""

from __future__ import annotations

import logging
from collections.abc import Iterator
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


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """The loggers' levels as they were before the test: main() run in this process sets them
    for the command it runs (configure_logging), and a later test's caplog would otherwise miss
    the debug records of a logger an earlier test left at info. (Handlers are pytest's to
    manage: configure_logging replaces its own on each call.)"""
    names = ("", "lic_exporter", "asyncssh", "watchdog")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
