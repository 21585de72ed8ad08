"""Where the test data is: the checkout, the authored fixtures, the golden files, the shared corpus."""

from __future__ import annotations

import os
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
PROJECT = TESTS.parent
FIXTURES = TESTS / "fixtures"
SHOW_FIXTURES = FIXTURES / "show"
SYSLOG_FIXTURES = FIXTURES / "syslog"
GOLDEN = TESTS / "golden"
CORPUS = Path(os.environ.get("LIC_EXPORTER_CORPUS", PROJECT.parent / "shared" / "corpus" / "real"))


def corpus_required() -> bool:
    """Under LIC_EXPORTER_REQUIRE_CORPUS=1 (CI) a missing corpus fails instead of skipping."""
    return os.environ.get("LIC_EXPORTER_REQUIRE_CORPUS") == "1"
