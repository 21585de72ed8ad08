"""Mutation fuzzing: damaged inputs never crash the CLI, never print an internal error or a
traceback, never let a planted secret through, and never take more than a few seconds.

The cases come from a fixed seed; LIC_EXPORTER_FUZZ_CASES sets how many (the default, 2000,
takes 60-75 s on two CPUs). A failure is reproduced with the line printed for it:
`python -m bench.fuzz --replay SEED --base NAME`.
"""

from __future__ import annotations

import json
import logging
import os
import random
from pathlib import Path

import pytest

from tests.support import fuzzing

SEED = 20260601
CASES = int(os.environ.get("LIC_EXPORTER_FUZZ_CASES", "2000"))


def test_mutated_inputs_never_crash_leak_or_hang() -> None:
    summary = fuzzing.run_cases(CASES, SEED)
    print(f"\nfuzz: {summary.cases} cases, {summary.runs} runs in {summary.seconds:.1f} s, "
          f"exit codes {dict(summary.exit_codes)}")
    assert summary.cases == CASES and summary.runs == CASES * len(fuzzing.COMMANDS)
    # Not vacuous: the parser read most inputs, and the inputs with secrets were among them.
    assert summary.exit_codes[0] > summary.runs // 10, summary.exit_codes
    assert sum(n for name, n in summary.bases.items() if name.startswith("planted/")) > CASES // 4
    assert not summary.failures, "\n" + summary.report(per_group=3)


# --- the harness itself: it must see what it is there to see ---------------------------------


def _call(stdout: str = "", stderr: str = "", logs: str = "", exit_code: object = 0, seconds: float = 0.01,
          exception: str | None = None) -> fuzzing.CallResult:
    return fuzzing.CallResult(["parse", "--format", "json"], exit_code, stdout, stderr, logs, exception, seconds)


def _kinds(call: fuzzing.CallResult) -> list[str]:
    return [problem.kind for problem in fuzzing.check(call)]


@pytest.mark.parametrize("secret", [*fuzzing.SECRETS, fuzzing.IDTOKEN[:24], "NOC.Licensing-JRivera"])
@pytest.mark.parametrize("stream", ["stdout", "stderr", "logs"])
def test_a_planted_secret_in_any_stream_is_a_leak(secret: str, stream: str) -> None:
    call = _call(**{stream: f'{{"message": "sent to {secret} today"}}'})
    [problem] = fuzzing.check(call)
    assert problem.kind == "leak" and stream in problem.signature and secret in problem.excerpt


def test_redacted_output_is_no_leak() -> None:
    text = ('{"message": "http://<redacted>@proxy.example.net:8080 idtoken <redacted> '
            'email-contact <redacted> <redacted-email>"}')
    assert fuzzing.check(_call(stdout=text, stderr="sw1.txt:3: not a timestamp")) == []


def test_a_traceback_is_reported_with_its_origin() -> None:
    trace = ('Traceback (most recent call last):\n  File "/x/lic_exporter/build.py", line 9, in license_record\n'
             '    raise OverflowError("date value out of range")\nOverflowError: date value out of range\n')
    [problem] = fuzzing.check(_call(stderr="sw1.txt: oops\n" + trace))
    assert problem.kind == "traceback"
    assert problem.signature == "stderr: OverflowError in lic_exporter/build.py:license_record"


def test_an_internal_error_is_reported_with_the_logged_traceback() -> None:
    trace = ('Traceback (most recent call last):\n  File "/x/lic_exporter/values.py", line 9, in parse_timestamp\n'
             'ValueError: day is out of range for month\n')
    call = _call(stderr="sw1.txt: internal error (ValueError: day is out of range); please report it\n",
                 logs="ERROR lic_exporter.parse: internal error while parsing sw1.txt\n" + trace, exit_code=1)
    [problem] = fuzzing.check(call)
    assert problem.kind == "internal-error"
    assert problem.signature == "ValueError in lic_exporter/values.py:parse_timestamp"
    assert "Traceback" in problem.detail


def test_slow_calls_and_exit_codes_outside_the_contract_are_reported() -> None:
    assert _kinds(_call(seconds=fuzzing.CALL_SECONDS + 1)) == ["slow"]
    assert _kinds(_call(exit_code=2)) == ["bad-exit"]
    assert _kinds(_call(exit_code=None)) == ["bad-exit"]
    assert _kinds(_call(exit_code=1)) == []


def test_an_exception_escaping_main_is_caught_and_reported() -> None:
    def main(argv: list[str]) -> int:
        raise RecursionError("maximum recursion depth exceeded")

    call = fuzzing.run_cli(["parse", "x"], main)
    assert call.exit_code is None and "RecursionError" in (call.exception or "")
    assert _kinds(call) == ["exception"]


def test_the_runner_captures_stdout_stderr_and_logs(tmp_path: Path) -> None:
    """End to end through run_case, with a stand-in main that misbehaves in every way."""
    import gc
    import sys

    def main(argv: list[str]) -> int:
        gc.disable()  # as the CLI does: run_cli turns it back on
        text = Path(argv[-1]).read_text(errors="replace")
        if argv[0] == "parse" and argv[2] == "json":
            print(text)  # the whole input, secrets and all
        elif argv[0] == "parse" and argv[2] == "table":
            try:
                int("x")
            except ValueError:
                logging.getLogger("lic_exporter.parse").exception("internal error while parsing %s", argv[-1])
            print(f"{argv[-1]}: internal error (ValueError); please report it", file=sys.stderr)
        elif argv[0] == "diagnose" and argv[2] == "text":
            logging.getLogger("lic_exporter.syslog").debug("message was %s", text[-400:])
        return 0

    base = next(b for b in fuzzing.load_bases() if b.name == "planted/syslog/nx-lab-05.log")
    calls, failures = fuzzing.run_case(fuzzing.Case(7, base, base.data, ()), tmp_path, main)
    assert gc.isenabled()
    assert [call.exit_code for call in calls] == [0] * len(fuzzing.COMMANDS)
    assert (tmp_path / "syslog" / "nx-lab-05.log").read_bytes() == base.data  # written under its own name
    found = {(f.kind, f.commands[0]) for f in failures}
    assert ("leak", "parse --format json") in found
    assert ("internal-error", "parse --format table") in found
    assert ("leak", "diagnose --format text") in found  # a debug record is captured too
    leak = next(f for f in failures if f.kind == "leak")
    assert leak.seed == 7 and leak.base == base.name and leak.secret_intact is True
    assert f"--replay 7 --base {base.name}" in leak.reproduce()


# --- the inputs and mutations ----------------------------------------------------------------


def test_planted_inputs_hold_every_secret_and_are_read(tmp_path: Path) -> None:
    planted = [b for b in fuzzing.load_bases() if b.planted]
    text = b"".join(b.data for b in planted).decode()
    for secret in fuzzing.SECRETS:
        assert secret in text
    assert "%0A" in fuzzing.IDTOKEN and len(fuzzing.IDTOKEN) >= 90
    for base in planted:  # each is an input the parser reads, so damage to it reaches real code
        path = tmp_path / base.file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base.data)
        call = fuzzing.run_cli(["parse", "--format", "json", "--jobs", "1", str(path)])
        assert call.exception is None and json.loads(call.stdout)["records"], (base.name, call.stderr)


def test_bases_include_fixtures_and_the_corpus_when_present() -> None:
    names = [b.name for b in fuzzing.load_bases()]
    assert "fixtures/show/communication_failed.txt" in names and "fixtures/syslog/layouts.log" in names
    assert not any(name.endswith((".md", ".expected.json", ".expected.yml")) for name in names)
    if fuzzing.CORPUS.is_dir():
        assert any(name.startswith("corpus/syslog/") for name in names)


def test_a_case_is_defined_by_its_seed() -> None:
    bases = fuzzing.load_bases()
    first, again = fuzzing.make_case(12345, bases), fuzzing.make_case(12345, bases)
    assert (first.base, first.data, first.mutations) == (again.base, again.data, again.mutations)
    # Pinned to its base, a case stays the same when other inputs come or go.
    others = [fuzzing.Base("fixtures/show/new.txt", "show/new.txt", b"x\n"), *reversed(bases)]
    pinned = fuzzing.make_case(12345, others, first.base.name)
    assert (pinned.base, pinned.data, pinned.mutations) == (first.base, first.data, first.mutations)
    with pytest.raises(ValueError):
        fuzzing.make_case(1, bases, "fixtures/no_such_file.txt")
    cases = [fuzzing.make_case(seed, bases) for seed in fuzzing.case_seeds(1, 300)]
    assert len({case.data for case in cases}) > 250
    assert all(1 <= len([m for m in c.mutations if not m.startswith("cap@")]) <= 3 for c in cases)
    assert all(len(case.data) <= fuzzing.MAX_BYTES for case in cases)


def test_word_damage_reaches_the_keywords_next_to_secrets() -> None:
    rng = random.Random(3)
    data = fuzzing.PLANTED["sessions/nx-lab-01.log"].encode() + fuzzing.PLANTED["syslog/nx-lab-05.log"].encode()
    damaged = set()
    for _ in range(2000):
        _, description = fuzzing.m_damage_word(rng, data)
        damaged.add(description.split(":", 1)[1].split("->")[0].strip("'"))
    for keyword in ("idtoken", "streetaddress", "phone-contact", "email-contact", "password"):
        assert keyword in damaged


@pytest.mark.parametrize("mutation", [m for m, _ in fuzzing.MUTATIONS], ids=lambda m: m.__name__)
def test_every_mutation_changes_a_planted_input(mutation) -> None:
    rng = random.Random(5)
    data = fuzzing.PLANTED["sessions/nx-lab-01.log"].encode()
    result = mutation(rng, data)
    assert result is not None and result[0] != data and result[1]
