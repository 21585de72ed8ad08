"""A plain, non-editable `pip install .` in a fresh virtual environment finds its templates
and parses. Slow (builds a wheel, installs its dependencies), so it runs once, in one test."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.paths import CORPUS, PROJECT


def test_wheel_ships_templates_and_parses(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(PROJECT)],
                   check=True, capture_output=True)
    [wheel] = tmp_path.glob("lic_exporter-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "lic_exporter/templates/index" in names
    assert "lic_exporter/templates/cisco_smart_agent_status.textfsm" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True)
    # Run from elsewhere, so that nothing in the checkout can be picked up by accident.
    target = CORPUS if CORPUS.is_dir() else PROJECT / "examples"
    out = subprocess.run([venv / "bin" / "lic-exporter", "parse", "--format", "json", str(target)],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    assert '"device"' in out.stdout
    probe = "import lic_exporter.parsing.templates as t; print(t.templates_dir())"
    module = subprocess.run([venv / "bin" / "python", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            check=True)
    assert str(venv) in module.stdout
