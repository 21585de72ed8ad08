"""Golden files in the ntc-templates manner: a raw output beside the records expected from it.

`<name>.expected.json` holds {"derived_from": ..., "records": [...], "errors": [...]}.
Values that depend on the checkout rather than the output (the file's modification time, its
absolute path) are normalised before comparing; the test checks them separately.

Regenerate after a deliberate change with `python tests/golden.py`, then review the diff.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

from lic_exporter.parsing.files import FileResult, Parser

MTIME = "<file mtime>"


def normalise(result: FileResult, base: Path) -> dict[str, object]:
    path = Path(result.path)
    mtime = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    records = []
    for record in result.records:
        data = record.model_dump(mode="json")
        data["source"] = path.relative_to(base).as_posix()
        if data.get("year_inferred"):  # year-less syslog line: its year comes from the file's mtime
            assert record.time.year in (mtime.year, mtime.year - 1)
            data["time"] = data["captured_at"] = "<year from mtime>" + data["time"][4:]
        if data["captured_at_from"] == "file_mtime":
            assert record.captured_at == mtime, "capture time must be the file's mtime"
            data["captured_at"] = MTIME
            auth = data.get("authorization") or {}
            if auth.get("evaluation_expires"):
                remaining = record.authorization.evaluation_remaining
                assert record.authorization.evaluation_expires == mtime + remaining
                auth["evaluation_expires"] = f"{MTIME} + {remaining / timedelta(seconds=1):.0f}s"
        records.append(data)
    errors = [{**issue.as_json(), "path": Path(issue.path).relative_to(base).as_posix()} for issue in result.issues]
    return {"records": records, "errors": errors}


def expected_path(raw: Path, raw_base: Path, expected_base: Path) -> Path:
    return expected_base / raw.relative_to(raw_base).with_suffix(".expected.json")


def write(raw: Path, raw_base: Path, expected_base: Path, parser: Parser, derived_from: str | None) -> None:
    target = expected_path(raw, raw_base, expected_base)
    old = json.loads(target.read_text()) if target.exists() else {}
    document = {"derived_from": derived_from or old.get("derived_from", "TODO: say how this was derived")}
    document.update(normalise(parser.parse_file(raw), raw_base))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import CORPUS, CORPUS_EXPECTED, FIXTURES
    from test_golden import corpus_samples, fixture_samples

    parser = Parser()
    for raw in fixture_samples():
        write(raw, FIXTURES, FIXTURES, parser, None)
    if CORPUS.is_dir():
        for raw in corpus_samples(CORPUS):
            write(raw, CORPUS, CORPUS_EXPECTED, parser, "real output, see ../shared/corpus/real/SOURCES.md")
    print("golden files written; review them with git diff")
