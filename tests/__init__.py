"""The test suite, a package so that its support modules (tests/support/) are imported by name,
from tests and benchmarks alike, without editing sys.path."""
