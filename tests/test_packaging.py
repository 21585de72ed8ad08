"""The release path: `python -m build` makes an sdist and a wheel carrying the templates, the
dashboards data and the source revision; a wheel built from the unpacked sdist (no .git) still
knows the revision; the wheel installs into a fresh virtual environment outside the checkout and
runs there; `lic-exporter --version` names the revision from a wheel, from a checkout, and says
`unknown` where there is neither. Slow (builds, installs dependencies): the builds and the one
install are shared by the module. Builds use `--no-isolation` with build and hatchling from the
`test` extra, so they download nothing."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import CORPUS, PROJECT

REVISION_FILE = "lic_exporter/model/revision.txt"
# What an installed user needs besides the code: checkout folder -> where it lands in the package.
PACKAGE_DATA = {"templates": "lic_exporter/templates",
                "dashboards/grafana": "lic_exporter/dashboards/grafana",
                "dashboards/prometheus": "lic_exporter/dashboards/prometheus",
                "dashboards/alertmanager": "lic_exporter/dashboards/alertmanager",
                "examples/systemd": "lic_exporter/systemd"}


def head() -> str:
    """The checkout's HEAD as the build records it (12 hex digits)."""
    if not (PROJECT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: there is no revision to compare with")
    return subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "--short=12", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def build(source: Path, out: Path, *kinds: str, revision: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "LIC_EXPORTER_REVISION"}
    if revision is not None:
        env["LIC_EXPORTER_REVISION"] = revision
    return subprocess.run([sys.executable, "-m", "build", "--no-isolation", *kinds, "--outdir", str(out), str(source)],
                          capture_output=True, text=True, env=env, cwd=out.parent, timeout=300)


def built(source: Path, out: Path, kind: str, pattern: str, revision: str | None = None) -> Path:
    done = build(source, out, kind, revision=revision)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n(needs build and hatchling: pip install -e '.[test]')"
    [artefact] = out.glob(pattern)
    return artefact


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    return built(PROJECT, tmp_path_factory.mktemp("sdist") / "dist", "--sdist", "lic_exporter-*.tar.gz")


@pytest.fixture(scope="module")
def unpacked(sdist: Path, tmp_path_factory) -> Path:
    """The sdist unpacked where no git repository is: what a distribution's packager starts from."""
    folder = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(sdist) as archive:
        archive.extractall(folder, filter="data")
    [root] = folder.iterdir()
    return root


@pytest.fixture(scope="module")
def wheel(unpacked: Path) -> Path:
    return built(unpacked, unpacked.parent / "dist", "--wheel", "lic_exporter-*.whl")


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory) -> Path:
    """A fresh virtual environment, outside the checkout, with the wheel (and its dependencies) installed."""
    folder = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    subprocess.run([folder / "bin" / "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True)
    return folder


def test_sdist_carries_licence_docs_templates_and_revision(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        prefix = archive.getnames()[0].split("/")[0]
        names = {name.removeprefix(prefix + "/") for name in archive.getnames()}
        member = archive.extractfile(f"{prefix}/{REVISION_FILE}")
        assert member is not None
        recorded = member.read().decode().strip()
    expected = {"LICENSE", "README.md", "pyproject.toml", "hatch_build.py", "templates/index", REVISION_FILE,
                "docs/install.md", "dashboards/prometheus/lic_exporter.rules.yml",
                "examples/systemd/lic-exporter.service"}
    assert expected <= names, expected - names
    assert {f"docs/{path.name}" for path in (PROJECT / "docs").glob("*.md")} <= names
    assert not any(name == ".git" or name.startswith(".git/") for name in names)
    assert recorded == head()


def test_wheel_built_from_the_sdist_carries_data_and_revision(unpacked: Path, wheel: Path) -> None:
    assert not (unpacked / ".git").exists()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for folder, landing in PACKAGE_DATA.items():
            files = [path for path in (PROJECT / folder).rglob("*") if path.is_file()]
            assert files, folder
            for path in files:
                inside = f"{landing}/{path.relative_to(PROJECT / folder).as_posix()}"
                assert archive.read(inside) == path.read_bytes(), inside
        assert archive.read(REVISION_FILE).decode().strip() == head()
    assert "lic_exporter/templates/cisco_smart_agent_status.textfsm" in names
    assert [name for name in names if name.endswith("revision.txt")] == [REVISION_FILE]  # the hook's copy only


def test_packager_sets_the_revision(unpacked: Path) -> None:
    out = unpacked.parent / "override"
    wheel = built(unpacked, out, "--wheel", "lic_exporter-*.whl", revision="0.1.0-2.fc41")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(REVISION_FILE).decode().strip() == "0.1.0-2.fc41"
    refused = build(unpacked, unpacked.parent / "refused", "--wheel", revision="abc def")
    assert refused.returncode != 0 and "LIC_EXPORTER_REVISION='abc def'" in refused.stdout + refused.stderr


def test_installed_wheel_parses_finds_its_data_and_names_its_revision(venv: Path, tmp_path: Path) -> None:
    # Run from elsewhere, so that nothing in the checkout can be picked up by accident.
    target = CORPUS if CORPUS.is_dir() else PROJECT / "examples"
    out = subprocess.run([venv / "bin" / "lic-exporter", "parse", "--format", "json", str(target)],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    assert '"device"' in out.stdout
    probe = ("import pathlib, lic_exporter.parsing.templates as t; print(t.templates_dir()); "
             "print(pathlib.Path(t.__file__).parent.parent)")
    module = subprocess.run([venv / "bin" / "python", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            check=True)
    templates, package = (Path(line) for line in module.stdout.splitlines())
    assert templates.is_relative_to(venv) and package.is_relative_to(venv)
    assert (package / "dashboards" / "grafana" / "fleet-overview.json").is_file()
    assert (package / "systemd" / "lic-exporter.service").is_file()
    version = subprocess.run([venv / "bin" / "lic-exporter", "--version"], cwd=tmp_path, capture_output=True,
                             text=True, check=True, env={"PATH": "/nonexistent"})  # no git to ask: the file says it
    assert version.stdout.strip() == (f"lic-exporter {_version()} (revision {head()}, "
                                      f"Python {_python_version(venv)})")


def test_checkout_asks_git_for_the_revision(tmp_path: Path) -> None:
    """An editable install records nothing: the checkout's HEAD is read at run time."""
    _skip_unless_editable()
    script = Path(sys.executable).parent / "lic-exporter"
    version = subprocess.run([script, "--version"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert f"(revision {head()}, Python" in version.stdout


def test_without_git_or_a_recorded_revision_it_is_unknown(tmp_path: Path) -> None:
    _skip_unless_editable()
    script = Path(sys.executable).parent / "lic-exporter"
    no_git = subprocess.run([script, "--version"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": str(tmp_path)})  # a PATH without git
    assert no_git.returncode == 0 and no_git.stderr == ""
    assert "(revision unknown, Python" in no_git.stdout
    # A copy of the package outside any repository, with git at hand: git says "not a repository".
    shutil.copytree(PROJECT / "lic_exporter", tmp_path / "lic_exporter",
                    ignore=shutil.ignore_patterns("__pycache__", "revision.txt"))
    copy = subprocess.run([sys.executable, "-c", "import lic_exporter.model.release as r; print(r.__file__); "
                           "print(r.version_line())"], cwd=tmp_path, capture_output=True, text=True, check=True)
    where, line = copy.stdout.splitlines()
    assert Path(where).is_relative_to(tmp_path) and "(revision unknown, Python" in line


def test_suite_runs_against_the_installed_package() -> None:
    """The guard of the installed-package run (.ci/install_check sets LIC_EXPORTER_EXPECT_INSTALLED=1):
    the end-to-end tests there must exercise the wheel in a virtual environment, not a checkout."""
    if os.environ.get("LIC_EXPORTER_EXPECT_INSTALLED") != "1":
        pytest.skip("only in the installed-package run (LIC_EXPORTER_EXPECT_INSTALLED=1)")
    import lic_exporter

    here = Path(lic_exporter.__file__).resolve().parent
    assert sys.prefix != sys.base_prefix, "not in a virtual environment"
    assert here.parent == Path(sysconfig.get_paths()["purelib"]).resolve(), here
    assert not (PROJECT / "lic_exporter").exists(), "the suite's folder holds a package that would shadow the wheel"
    assert (here / "model" / "revision.txt").is_file() and (here / "templates" / "index").is_file()
    direct = importlib.metadata.distribution("lic-exporter").read_text("direct_url.json")
    assert not (direct and json.loads(direct).get("dir_info", {}).get("editable")), "an editable install"
    # What the end-to-end tests start (`sys.executable -m lic_exporter`) imports the same package.
    child = subprocess.run([sys.executable, "-m", "lic_exporter", "--version"], capture_output=True, text=True,
                           check=True, cwd=PROJECT)
    probe = subprocess.run([sys.executable, "-c", "import lic_exporter; print(lic_exporter.__file__)"],
                           capture_output=True, text=True, check=True, cwd=PROJECT)
    assert Path(probe.stdout.strip()).resolve().parent == here
    assert "(revision unknown" not in child.stdout


def _skip_unless_editable() -> None:
    import lic_exporter

    if Path(lic_exporter.__file__).resolve().parent != PROJECT / "lic_exporter":
        pytest.skip("lic_exporter is not imported from this checkout (an installed-package run)")


def _version() -> str:
    import lic_exporter

    return lic_exporter.__version__


def _python_version(venv: Path) -> str:
    return subprocess.run([venv / "bin" / "python", "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()
