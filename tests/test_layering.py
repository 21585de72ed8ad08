"""The package's shape: every import follows the direction of the stages, every module says what
it is for, and no module or class grows past the size one reader can hold.

Stages, each importing only its own and lower ones:
model(0) < sources(1) < parsing(2) < analysis(3) < exposition(4) < daemon(5) < cli(6).
Side packages (collect/, accounts/) are sources whose only output is files: they import only
model, sources and themselves, and only the stages that wire the program together import them.
`lic_exporter/__init__.py` (only __version__) may be imported by anyone and imports nothing;
`lic_exporter/__main__.py` is `python -m lic_exporter`, above everything.

Every import counts: at the top, inside functions (the lazy ones that keep --help fast), under
`if TYPE_CHECKING:`, relative ones (resolved against their package), `import_module("...")`.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import PROJECT

PACKAGE = PROJECT / "lic_exporter"
STAGES = ("model", "sources", "parsing", "analysis", "exposition", "daemon", "cli")
SIDE = ("collect", "accounts")
SIDE_MAY_IMPORT = {"model", "sources"}  # besides themselves
SIDE_IMPORTED_BY = {"daemon", "cli"}  # the collection loop runs in serve; `collect` is a command
ENTRY = "__main__"

MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 180
GUIDE_MODULE_LINES, GUIDE_CLASS_LINES = 400, 150  # the guideline: reported, not failed
# Modules ("lic_exporter/x/y.py") and classes ("lic_exporter/x/y.py:Name") allowed over the limits
# while the big modules are being split; empty when that is done (and an entry no longer over its
# limit fails, so that none outlives its reason). None left: daemon/http.py was the last.
OVERSIZE_ALLOWED: tuple[str, ...] = ()


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted module name, as far as it lies inside lic_exporter
    line: int

    def __str__(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.target}"


def modules() -> dict[str, Path]:
    """Every module under lic_exporter/, by dotted name (a package by its __init__)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PROJECT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative ones resolved against the package)."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports(module: str, path: Path, known: set[str]) -> list[Import]:
    """What one module imports of lic_exporter, wherever in the module the import is."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node)
            # `from lic_exporter import parsing` imports the package parsing, not lic_exporter.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            targets = [node.args[0].value]
        found += [Import(module, target, node.lineno) for target in targets
                  if target == "lic_exporter" or target.startswith("lic_exporter.")]
    return found


def part(module: str) -> str:
    """The stage, side package or top-level module a module belongs to ("" for lic_exporter)."""
    return module.split(".")[1] if "." in module else ""


def violation(found: Import) -> str | None:
    """Why an import goes against the layering (None: it does not)."""
    source, target = part(found.importer), part(found.target)
    if source == "":
        return f"{found}: lic_exporter/__init__.py holds only __version__ and imports nothing of the package"
    if target == "" or source in (target, ENTRY):  # "": the version, for anyone
        return None
    if target == ENTRY:
        return f"{found}: nothing imports the entry point"
    if source in SIDE:
        return None if target in SIDE_MAY_IMPORT else f"{found}: {source}/ may import only model, sources, itself"
    if target in SIDE:
        return None if source in SIDE_IMPORTED_BY else f"{found}: only {sorted(SIDE_IMPORTED_BY)} import {target}/"
    if source not in STAGES or target not in STAGES:
        unknown = source if source not in STAGES else target
        return f"{found}: lic_exporter.{unknown} is in no stage (stages: {STAGES}, side packages: {SIDE})"
    if STAGES.index(target) > STAGES.index(source):
        return f"{found}: {source} ({STAGES.index(source)}) may not import {target} ({STAGES.index(target)})"
    return None


def all_imports() -> list[Import]:
    known = modules()
    return [found for module, path in known.items() for found in imports(module, path, set(known))]


def test_imports_follow_the_stages() -> None:
    found = all_imports()
    assert len(found) > 50, "the walk found too few imports to be looking at the package"
    problems = [problem for problem in map(violation, found) if problem]
    assert not problems, "imports against the stages:\n" + "\n".join(problems)


@pytest.mark.parametrize(("importer", "target", "wrong"), [
    ("lic_exporter.model.records", "lic_exporter.sources.values", True),
    ("lic_exporter.parsing.files", "lic_exporter.analysis.views", True),
    ("lic_exporter.cli.main", "lic_exporter.model.records", False),
    ("lic_exporter.daemon.state", "lic_exporter.daemon.follower", False),
    ("lic_exporter.collect.session", "lic_exporter.parsing.files", True),
    ("lic_exporter.collect.session", "lic_exporter.sources.terminal", False),
    ("lic_exporter.accounts.fetch", "lic_exporter.daemon.state", True),
    ("lic_exporter.parsing.files", "lic_exporter.collect.run", True),
    ("lic_exporter.cli.serve", "lic_exporter.collect", False),
    ("lic_exporter.sources.capture", "lic_exporter", False),
    ("lic_exporter", "lic_exporter.cli.main", True),
    ("lic_exporter.cli.main", "lic_exporter.__main__", True),
    ("lic_exporter.__main__", "lic_exporter.cli.main", False),
    ("lic_exporter.helpers", "lic_exporter.model.records", True),
])
def test_the_rules_themselves(importer: str, target: str, wrong: bool) -> None:
    assert (violation(Import(importer, target, 1)) is not None) == wrong


def test_relative_imports_and_hidden_places_are_seen(tmp_path: Path) -> None:
    """Relative imports resolve against the package; imports in functions, under
    TYPE_CHECKING and through import_module count."""
    path = tmp_path / "files.py"
    path.write_text("from typing import TYPE_CHECKING\nfrom . import build\nfrom ..analysis import views\n"
                    "if TYPE_CHECKING:\n    from ..daemon.state import Exporter\n"
                    "def later():\n    import lic_exporter.cli.main\n"
                    "    importlib.import_module('lic_exporter.exposition.metrics')\n")
    known = {"lic_exporter.parsing.build"}
    targets = sorted(found.target for found in imports("lic_exporter.parsing.files", path, known))
    assert targets == ["lic_exporter.analysis", "lic_exporter.cli.main", "lic_exporter.daemon.state",
                       "lic_exporter.exposition.metrics", "lic_exporter.parsing.build"]
    package = tmp_path / "__init__.py"
    package.write_text("from .records import Record\n")
    [found] = imports("lic_exporter.model", package, set())
    assert found.target == "lic_exporter.model.records"


def test_every_module_says_what_it_is_for() -> None:
    missing = [str(path.relative_to(PROJECT)) for path in modules().values()
               if not ast.get_docstring(ast.parse(path.read_text()))]
    assert not missing, "modules without a docstring saying what they are for: " + ", ".join(missing)


def _sizes() -> dict[str, int]:
    """Lines of every module ("lic_exporter/x/y.py") and class ("lic_exporter/x/y.py:Name")."""
    sizes = {}
    for path in modules().values():
        name = str(path.relative_to(PROJECT))
        text = path.read_text()
        sizes[name] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                sizes[f"{name}:{node.name}"] = node.end_lineno - node.lineno + 1
    return sizes


def _limit(name: str, module_lines: int, class_lines: int) -> int:
    return class_lines if ":" in name else module_lines


def test_no_module_or_class_is_too_big() -> None:
    sizes = _sizes()
    over = {name: lines for name, lines in sizes.items() if lines > _limit(name, MAX_MODULE_LINES, MAX_CLASS_LINES)}
    too_big = [f"{name}: {lines} lines" for name, lines in over.items() if name not in OVERSIZE_ALLOWED]
    assert not too_big, f"over {MAX_MODULE_LINES} lines a module, {MAX_CLASS_LINES} a class:\n" + "\n".join(too_big)
    stale = [name for name in OVERSIZE_ALLOWED if name not in over]
    assert not stale, f"no longer too big, drop from OVERSIZE_ALLOWED: {stale}"
    for name, lines in sorted(sizes.items()):
        if name not in over and lines > _limit(name, GUIDE_MODULE_LINES, GUIDE_CLASS_LINES):
            warnings.warn(f"{name}: {lines} lines (guideline {_limit(name, GUIDE_MODULE_LINES, GUIDE_CLASS_LINES)})",
                          stacklevel=1)
