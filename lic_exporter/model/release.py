"""What this installation is: its version, the source revision it was built from, and the Python
running it (for `--version`, lic_exporter_build_info and the landing page)."""

from __future__ import annotations

import functools
import platform
import re
import subprocess
from pathlib import Path

from lic_exporter import __version__

UNKNOWN_REVISION = "unknown"
# Written by the build hook (hatch_build.py) into the sdist and the wheel; absent from a checkout.
REVISION_FILE = Path(__file__).with_name("revision.txt")
# The checkout this module sits in, when it sits in one (an editable install): lic_exporter/model/..
CHECKOUT = Path(__file__).resolve().parent.parent.parent
_PLAIN = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}")
# `git rev-parse` answers in milliseconds; a hung one (a network file system) must not hold up --version.
_GIT_TIMEOUT_SECONDS = 2


@functools.cache
def revision() -> str:
    """The source revision the package was built from (the commit id in 12 hex digits, or what a
    packager set in LIC_EXPORTER_REVISION at build time); in a git checkout without a recorded one
    (an editable install), HEAD's; else UNKNOWN_REVISION. Never raises: a missing, slow or broken
    git means UNKNOWN_REVISION. Cached: asked once a process."""
    try:
        recorded = REVISION_FILE.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        recorded = ""
    if _PLAIN.fullmatch(recorded):
        return recorded
    return _checkout_head() or UNKNOWN_REVISION


def _checkout_head() -> str | None:
    """HEAD's abbreviated commit id if the package's parent folder is the top of a git work tree (so that a
    copy installed into a virtual environment that lives inside some repository is not taken for
    that repository's code)."""
    try:
        done = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "--show-toplevel", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=_GIT_TIMEOUT_SECONDS, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2:
        return None
    try:
        if Path(lines[0]).resolve() != CHECKOUT:
            return None
    except OSError:
        return None
    return lines[1] if _PLAIN.fullmatch(lines[1]) else None


def python_version() -> str:
    return platform.python_version()


def version_line() -> str:
    """`lic-exporter 0.1.0 (revision 5103619e1c2f, Python 3.11.7)`."""
    return f"lic-exporter {__version__} (revision {revision()}, Python {python_version()})"
