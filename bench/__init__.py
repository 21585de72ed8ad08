"""Benchmarks, run from the repository root as modules: `python -m bench.parse_bench` (see each
module's docstring). They reach the test support as `tests.support.*`, without editing sys.path."""


def compiled_as_installed() -> None:
    """Byte-compile the package, as installing a wheel does: a checkout run with
    PYTHONDONTWRITEBYTECODE set would otherwise compile every module from source on each
    start, a cost no installed exporter pays (the bare TextFSM baseline's textfsm is installed)."""
    import compileall
    from pathlib import Path

    import lic_exporter

    compileall.compile_dir(str(Path(lic_exporter.__file__).parent), quiet=1)
