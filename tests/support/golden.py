"""Golden records: where the expected records of each input are, and the parse they are compared with.

One layout, for authored fixtures and real samples alike:

    tests/golden/<platform>/<command>/<name>.expected.json    one command's output, or a session
    tests/golden/syslog/<name>.expected.json                  a log (of no one platform or command)

<platform> is `nxos` or `iosxe`; <command> is the command with `_` for its spaces
(`show_license_status`, `show_running-config_callhome`), or `session` for a terminal session
holding several commands; <name> is the input's file name without its suffix. An expectation is
{"derived_from": how the input was made, "input": ..., "records": [...], "errors": [...]}.

The rule: an expectation names its input, and inputs are never copied here. `input` is
  * `corpus/<path>`: a real output, read in place from the shared corpus (paths.CORPUS). The
    corpus is laid out as above, so the expectation sits at that same <path> (checked);
  * `fixtures/<path>`: an authored output under tests/fixtures/. Fixtures stay there because
    other tests read their folders whole (the show outputs as one fleet, the syslog folder)
    and the fuzzer pins its cases to their names.
A record's `source` is its input's path below that root (`show/eval_mode.txt`). Values that
depend on the checkout rather than the output (the file's modification time, its absolute path)
are normalised before comparing, and checked separately here.

Regenerate after a deliberate change with `python -m tests.support.golden` from the repository
root, then review the diff: it rewrites every expectation from today's parse, and starts one for
a corpus sample that has none. A new fixture's expectation is started by hand, with its
`derived_from` and `input` (how an input was made only its author knows; where it goes follows
the layout above), and then filled in by the same command.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TypedDict

from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.results import FileResult
from tests.support.paths import CORPUS, FIXTURES, GOLDEN

MTIME = "<file mtime>"
SUFFIX = ".expected.json"
LOGS = "syslog"  # the folder of logs, in the corpus and here
SESSION = "session"  # the <command> of a terminal session holding several commands
CORPUS_DERIVATION = "real output, see ../shared/corpus/real/SOURCES.md"
# Corpus files that are notes or third-party expectations, not outputs.
_NOT_SAMPLES = (".md", ".expected.json", ".expected.yml")


class Records(TypedDict):
    records: list[dict[str, object]]
    errors: list[dict[str, object]]


class Expectation(Records):
    derived_from: str
    input: str


def fixture_samples() -> list[Path]:
    """The authored inputs (tests/fixtures/**/*.txt and *.log), each with an expectation."""
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".txt", ".log"))


def corpus_samples(corpus: Path = CORPUS) -> list[Path]:
    """The real outputs of the corpus, each with an expectation."""
    return sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.endswith(_NOT_SAMPLES))


def roots() -> dict[str, Path]:
    """Where each kind of input lives, by the first part of its name."""
    return {"fixtures": FIXTURES, "corpus": CORPUS}


def input_name(raw: Path) -> str:
    """`fixtures/<path>` or `corpus/<path>`: the name an expectation gives its input."""
    for kind, root in roots().items():
        if raw.is_relative_to(root):
            return f"{kind}/{raw.relative_to(root).as_posix()}"
    raise ValueError(f"{raw} is neither a fixture nor a corpus sample")


def input_path(name: str) -> tuple[Path, Path]:
    """The input file an expectation names, and the root its `source` is relative to."""
    kind, _, relative = name.partition("/")
    root = roots()[kind]
    return root / relative, root


@functools.cache
def expectations() -> dict[str, Path]:
    """Every expectation under tests/golden, by the input it names."""
    found: dict[str, Path] = {}
    for path in sorted(GOLDEN.rglob(f"*{SUFFIX}")):
        name = load(path)["input"]
        if name in found:
            raise ValueError(f"{name} has two expectations: {found[name]} and {path}")
        found[name] = path
    return found


def expectation_of(raw: Path) -> Path:
    """The expectation of an input (KeyError: it has none yet)."""
    name = input_name(raw)
    try:
        return expectations()[name]
    except KeyError:
        raise KeyError(f"{name} has no expectation under {GOLDEN}") from None


def layout_problem(path: Path, name: str) -> str | None:
    """What is wrong with where an expectation sits, given its input (None: nothing)."""
    parts = path.relative_to(GOLDEN).parts
    if path.name != PurePosixPath(name).stem + SUFFIX:
        return f"{path} is not named after its input {name}"
    if name.startswith("corpus/") and path != GOLDEN / Path(name.removeprefix("corpus/")).with_suffix(SUFFIX):
        return f"{path} is not at its corpus sample's path {name}"
    if not (len(parts) == 3 and parts[0] != LOGS) and not (len(parts) == 2 and parts[0] == LOGS):
        return f"{path} is neither <platform>/<command>/{path.name} nor {LOGS}/{path.name}"
    return None


def load(path: Path) -> Expectation:
    document: Expectation = json.loads(path.read_text())
    return document


def normalise(result: FileResult, base: Path) -> Records:
    """The records and errors of a parse as an expectation holds them."""
    path = Path(result.path)
    mtime = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    records: list[dict[str, object]] = []
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


def parsed(name: str, parser: Parser) -> Records:
    """Today's normalised parse of the input an expectation names."""
    raw, root = input_path(name)
    return normalise(parser.parse_file(raw), root)


def write(target: Path, name: str, parser: Parser, derived_from: str | None = None) -> None:
    """(Re)write one expectation from today's parse, keeping its `derived_from`."""
    kept = load(target)["derived_from"] if target.exists() else None
    document = {"derived_from": kept or derived_from, "input": name, **parsed(name, parser)}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2) + "\n")


def regenerate(parser: Parser) -> list[str]:
    """Rewrite every expectation; returns the fixtures that have none (to be started by hand)."""
    known = expectations()
    unplaced = []
    for raw in fixture_samples():
        name = input_name(raw)
        if name in known:
            write(known[name], name, parser)
        else:
            unplaced.append(name)
    if CORPUS.is_dir():
        for raw in corpus_samples():
            name = input_name(raw)
            target = known.get(name, GOLDEN / raw.relative_to(CORPUS).with_suffix(SUFFIX))
            write(target, name, parser, CORPUS_DERIVATION)
    return unplaced


def main() -> int:
    unplaced = regenerate(Parser())
    for name in unplaced:
        print(f"{name}: no expectation; start tests/golden/<platform>/<command>/{Path(name).stem}{SUFFIX} "
              f'with "derived_from" and "input": "{name}", then run this again')
    print("golden files written; review them with git diff")
    return 1 if unplaced else 0


if __name__ == "__main__":
    raise SystemExit(main())
