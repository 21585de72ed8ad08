"""Benchmarks, run from the repository root as modules: `python -m bench.parse_bench` (see each
module's docstring). They reach the test support as `tests.support.*`, without editing sys.path."""
