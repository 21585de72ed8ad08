"""What this installation is: its version, the source revision it was built from, and the Python
running it (for `--version`, lic_exporter_build_info and the landing page)."""

from __future__ import annotations

import platform

from lic_exporter import __version__

UNKNOWN_REVISION = "unknown"


def revision() -> str:
    """The source revision the package was built from; UNKNOWN_REVISION if none was recorded."""
    return UNKNOWN_REVISION


def python_version() -> str:
    return platform.python_version()


def version_line() -> str:
    """`lic-exporter 0.1.0 (revision 1a2b3c4d5e6f, Python 3.11.7)`."""
    return f"lic-exporter {__version__} (revision {revision()}, Python {python_version()})"
