"""Reading the collection's files (the configuration, inventories, secret files) as text or YAML,
with errors that say why a file cannot be used and never quote what is in it.

Shared by the configuration loader, the inventory readers and the credentials, so that a
password in any of those files cannot leak through a parse error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from lic_exporter.sources.privacy import clean_controls

_TOKEN_NAME = re.compile(r"<[a-z ]{1,30}>")


class DocumentError(Exception):
    """A file cannot be read or parsed; the message says why (not which file: the caller says
    that) and never quotes the file's content. `position` is (line, column), from 1, when the
    problem lies at one place in the file."""

    def __init__(self, message: str, position: tuple[int, int] | None = None):
        super().__init__(message)
        self.position = position

    def located(self) -> str:
        """`LINE:COL: message` (or the message alone): put after the file's name with a colon."""
        return f"{self.position[0]}:{self.position[1]}: {self}" if self.position else str(self)

    def at(self, path: Path) -> str:
        """`FILE:LINE:COL: message`, or `FILE: message`."""
        return f"{path}:{self.located()}" if self.position else f"{path}: {self}"


def printable(text: object) -> str:
    """A name from a file, safe to put in a message (no terminal controls)."""
    return clean_controls(str(text))


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, noting keys given twice in one mapping (YAML keeps the last one
    silently, which would lose a target or a group without a word)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.twice: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                continue  # an unhashable key: construct_mapping reports it
            if key in seen:
                mark = key_node.start_mark
                self.twice.append(f"{mark.line + 1}:{mark.column + 1}: key {printable(key)!r} given twice")
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError("no such file") from None
    except UnicodeDecodeError:
        raise DocumentError("not UTF-8 text") from None
    except OSError as error:
        raise DocumentError(f"cannot read it ({error.strerror or 'error'})") from None


def read_yaml(path: Path) -> tuple[Any, list[str]]:
    """The document in `path` and the keys it gives twice (each `LINE:COL: message`). YAML's own
    messages lose any quoted part: it may be a piece of a password."""
    loader = _Loader(read_text(path))
    try:
        return loader.get_single_data(), loader.twice
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = _unquoted(getattr(error, "problem", None) or "syntax error")
        raise DocumentError(f"not valid YAML: {problem}",
                            (mark.line + 1, mark.column + 1) if mark is not None else None) from None
    finally:
        loader.dispose()


def _unquoted(text: str) -> str:
    """YAML quotes the character or token it stumbled on; that may belong to a secret, unless it
    is punctuation (',' '}') or a token's name ('<stream end>')."""
    parts = text.replace('"', "'").split("'")
    kept = [part if index % 2 == 0 else f"'{part}'" if _harmless(part) else "…" for index, part in enumerate(parts)]
    return "".join(kept).strip()


def _harmless(quoted: str) -> bool:
    return (len(quoted) == 1 and not quoted.isalnum()) or _TOKEN_NAME.fullmatch(quoted) is not None
