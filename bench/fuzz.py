"""Mutation fuzzing at scale: many damaged inputs through every `parse` and `diagnose` format.

Each case is one base input (fixture, corpus sample or planted input with secrets) damaged by
1-3 mutations, run in-process through main() with --jobs 1 (see tests/support/fuzzing.py). Case seeds
derive from --seed, so a run is the same with any --jobs. Prints runs, exit-code counts,
failures by kind and, grouped by cause, failures with the line that reproduces each; exits 1
if anything failed.

    python -m bench.fuzz [--cases 20000] [--seed 1] [--jobs 2] [--per-group 3 | --all] [--json FILE]
    python -m bench.fuzz --replay SEED [--base NAME] [--save FILE]    # one case, its outputs in full
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tests.support import fuzzing

CHUNK = 200  # cases per task handed to a worker


def _chunk(seeds: list[int]) -> fuzzing.Summary:
    return fuzzing.run_seeds(seeds)


def run(cases: int, seed: int, jobs: int) -> fuzzing.Summary:
    seeds = fuzzing.case_seeds(seed, cases)
    chunks = [seeds[i:i + CHUNK] for i in range(0, len(seeds), CHUNK)]
    summary = fuzzing.Summary()
    start = time.perf_counter()
    if jobs == 1:
        results = (_chunk(chunk) for chunk in chunks)
    else:
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
        results = (future.result() for future in as_completed(pool.submit(_chunk, chunk) for chunk in chunks))
    try:
        for done in results:
            summary.merge(done)
            print(f"\r{summary.cases}/{cases} cases, {len(summary.failures)} failure(s), "
                  f"{time.perf_counter() - start:.0f} s", end="", file=sys.stderr, flush=True)
    finally:
        if jobs != 1:
            pool.shutdown(cancel_futures=True)
    print(file=sys.stderr)
    summary.seconds = time.perf_counter() - start
    # Workers finish in any order: list failures in case order, as a --jobs 1 run would.
    order = {s: i for i, s in enumerate(seeds)}
    summary.failures.sort(key=lambda f: order[f.seed])
    return summary


def replay(seed: int, base: str | None, save: Path | None) -> int:
    case = fuzzing.make_case(seed, fuzzing.load_bases(), base)
    print(f"seed {seed}\nbase {case.base.name}\nmutations {list(case.mutations)}\nsize {len(case.data)} bytes")
    if save:
        save.write_bytes(case.data)
        print(f"mutated input saved to {save}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="lic-fuzz-replay-") as folder:
        calls, failures = fuzzing.run_case(case, Path(folder))
        for call in calls:
            print(f"\n=== {' '.join(call.argv)}\nexit {call.exit_code!r} in {call.seconds:.2f} s")
            for name in ("exception", "stderr", "logs", "stdout"):
                text = getattr(call, name) or ""
                if text:
                    cut = text if len(text) <= 4000 else text[:4000] + f"\n... ({len(text)} characters)"
                    print(f"--- {name}\n{cut.rstrip()}")
    for failure in failures:
        failed = True
        print("\n" + failure.describe())
        print(failure.detail)
    print(f"\n{len(failures)} failure(s)")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--per-group", type=int, default=3, help="failures listed per cause (default 3)")
    parser.add_argument("--all", action="store_true", help="list every failure")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the summary and every failure here")
    parser.add_argument("--replay", type=int, metavar="SEED", help="run one case and show its outputs")
    parser.add_argument("--base", metavar="NAME", help="with --replay: the base input the case was built on "
                        "(as reported: fixtures/..., corpus/..., planted/...)")
    parser.add_argument("--save", type=Path, metavar="FILE", help="with --replay: write the mutated input here")
    args = parser.parse_args(argv)
    if args.replay is not None:
        return replay(args.replay, args.base, args.save)
    if args.cases < 1 or args.jobs < 1:
        parser.error("--cases and --jobs must be at least 1")
    summary = run(args.cases, args.seed, args.jobs)
    import lic_exporter

    print(f"seed {args.seed}, {args.jobs} job(s), {summary.seconds:.1f} s, lic_exporter from "
          f"{Path(lic_exporter.__file__).parent}")
    print(summary.report(per_group=0 if args.all else args.per_group))
    if args.json:
        args.json.write_text(json.dumps({
            "seed": args.seed, "cases": summary.cases, "runs": summary.runs, "seconds": summary.seconds,
            "exit_codes": {str(code): n for code, n in summary.exit_codes.items()},
            "by_kind": summary.by_kind(), "bases": summary.bases,
            "failures": [dataclasses.asdict(failure) for failure in summary.failures],
        }, indent=1))
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
