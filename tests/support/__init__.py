"""Test support shared by tests/ and bench/: paths, test switches, the fuzzer, golden files,
the daemon and Prometheus as processes. Import it as `tests.support.<module>` from the
repository root (pytest and `python -m bench.<name>` both run from there)."""
