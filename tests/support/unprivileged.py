"""Running `python -m lic_exporter` as a user file permissions bind, for tests of what cannot be
read: as `nobody` (setpriv) when that user can run this checkout's Python and import the package,
else as root with every capability dropped (a checkout in a private folder, as CI's fresh clone
is), under which file modes bind root as they bind anyone. A user who is not root runs it
directly. Where no such run is possible the test skips; under LIC_EXPORTER_REQUIRE_PROMETHEUS=1
(CI, where every component is required) it fails instead.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import lic_exporter
from tests.support.paths import PROJECT

NOBODY = 65534


class Unprivileged:
    """How to run `python -m lic_exporter` so that file permissions bind it."""

    def __init__(self, prefix: list[str], python: str, env: dict[str, str], who: str):
        self.prefix, self.python, self.env, self.who = prefix, python, env, who

    def command(self, *args: str) -> list[str]:
        return [*self.prefix, self.python, "-m", "lic_exporter", *args]

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), capture_output=True, text=True, env=self.env, cwd=cwd,
                              timeout=120)


def _unavailable(why: str) -> None:
    if os.environ.get("LIC_EXPORTER_REQUIRE_PROMETHEUS") == "1":
        pytest.fail(f"cannot run the commands unprivileged, and CI requires it: {why}")
    pytest.skip(why)


def _binds(prefix: list[str], python: str, env: dict[str, str], scratch: Path) -> bool:
    """Whether, run so, this very package imports (not another checkout's) and a mode-000 file
    cannot be read."""
    secret = scratch / "probe-000"
    secret.write_text("x")
    secret.chmod(0)
    probe = ("import os, sys, lic_exporter.cli.main, watchdog, prometheus_client\n"
             f"if os.path.realpath(lic_exporter.__file__) != {os.path.realpath(lic_exporter.__file__)!r}:\n"
             "    sys.exit(4)\n"
             f"try:\n    open({str(secret)!r}).read()\nexcept PermissionError:\n    sys.exit(0)\nsys.exit(3)\n")
    try:
        done = subprocess.run([*prefix, python, "-c", probe], capture_output=True, env=env, cwd=scratch, timeout=60)
    except OSError:
        return False
    finally:
        secret.unlink()
    return done.returncode == 0


def _python_path() -> str:
    """What this interpreter imports from (the checkout, the environment's site-packages), for
    another interpreter of the same version."""
    entries = [str(PROJECT), *site.getsitepackages(), *[p for p in sys.path if p.endswith("site-packages")]]
    return os.pathsep.join(dict.fromkeys(entries))


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A folder every user may enter (pytest's tmp_path is private to root), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="lic-unreadable-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


def find_unprivileged(scratch: Path) -> Unprivileged:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if os.geteuid() != 0:
        if not _binds([], sys.executable, env, scratch):
            _unavailable("a mode-000 file is readable here though this is not root")
        return Unprivileged([], sys.executable, env, "this user")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        _unavailable("setpriv (util-linux) not installed: cannot drop root's privileges")
    as_nobody = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    nobody_env = {**env, "PYTHONPATH": _python_path(), "HOME": str(scratch)}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in dict.fromkeys([sys.executable, shutil.which(version) or sys.executable, f"/usr/bin/{version}"]):
        if Path(python).exists() and _binds(as_nobody, python, nobody_env, scratch):
            return Unprivileged(as_nobody, python, nobody_env, "nobody")
    no_capabilities = [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--"]
    root_env = {**env, "PYTHONPATH": _python_path()}
    if _binds(no_capabilities, sys.executable, root_env, scratch):
        return Unprivileged(no_capabilities, sys.executable, root_env, "root without capabilities")
    _unavailable("neither nobody nor root without capabilities can run this checkout's Python here")
    raise AssertionError("unreachable")
