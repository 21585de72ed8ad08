"""Build hook: record the source revision in the sdist and the wheel, so an installed package can say
what it was built from (`lic-exporter --version`, lic_exporter_build_info, the landing page).

The revision is the commit id abbreviated to 12 hex digits (`git rev-parse --short=12 HEAD`: longer
only if 12 were ambiguous), short enough for a one-line `--version` and unambiguous in practice.
Where it comes from, first found wins:
1. LIC_EXPORTER_REVISION in the environment (a packager building from a tarball of their own);
2. git, when the project root is the top of a git work tree (a build from the checkout);
3. the file an sdist carries (a wheel built from the sdist, which has no .git);
4. "unknown".

The file is written to a temporary place and force-included, never into the source tree, so a
checkout stays clean and an editable install (which records nothing) asks git at run time.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Where the package reads it (lic_exporter/model/release.py); the same path in the sdist and the wheel.
REVISION_FILE = "lic_exporter/model/revision.txt"
OVERRIDE = "LIC_EXPORTER_REVISION"
UNKNOWN = "unknown"
# A commit id, a tag or a distribution's version string: anything safe in a label and a log line.
_PLAIN = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}")


def _from_git(root: Path) -> str | None:
    """HEAD's abbreviated commit id when `root` is the top of a git work tree; None otherwise (an sdist
    unpacked inside some other repository must not take that repository's revision)."""
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != root.resolve():
        return None
    return lines[1]


def source_revision(root: Path) -> str:
    override = os.environ.get(OVERRIDE, "").strip()
    if override:
        if not _PLAIN.fullmatch(override):
            raise ValueError(f"{OVERRIDE}={override!r}: expected a commit id or version (letters, digits, ._+-)")
        return override
    found = _from_git(root)
    if found:
        return found
    recorded = root / REVISION_FILE
    if recorded.is_file():
        text = recorded.read_text(encoding="utf-8").strip()
        if _PLAIN.fullmatch(text):
            return text
    return UNKNOWN


class RevisionHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return  # the checkout itself is installed: release.py asks git, so the answer follows new commits
        revision = source_revision(Path(self.root))
        handle, name = tempfile.mkstemp(prefix="lic_exporter-revision-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(revision + "\n")
        self._written = name
        build_data["force_include"][name] = REVISION_FILE
        self.app.display_info(f"lic_exporter source revision: {revision}")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        written = getattr(self, "_written", None)
        if written:
            Path(written).unlink(missing_ok=True)
