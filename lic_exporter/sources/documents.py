"""Reading the collection's files (the configuration, inventories, secret files) as text, YAML or
JSON, within bounds, with errors that say why a file cannot be used and never quote what is in it.

Shared by the configuration loader, the inventory readers and the credentials, so that a
password in any of those files cannot leak through a parse error, and so that every file a
configuration names meets the same limits: a regular file (a FIFO, a device such as /dev/zero
or a folder is refused before anything is read) of at most MAX_DOCUMENT_BYTES, nested at most
MAX_DEPTH levels, and whose YAML aliases expand to at most MAX_NODES values (an alias bomb is
a few lines that expand to billions). The limits are checked on YAML's event stream before a
node is built, so that nothing recursive ever meets a document past them.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from yaml import events

from lic_exporter.sources.printable import printable as one_line

MAX_DOCUMENT_BYTES = 32 << 20  # a 20,000-target configuration is about 1 MB
MAX_DEPTH = 64  # levels of nesting, aliases expanded; a configuration needs about six
MAX_NODES = 3_000_000  # values, aliases expanded: a 20,000-target configuration has about 150,000
SECRET_READ_SECONDS = 5.0  # a secret on a hung network mount fails the load (or the session), never hangs it
_MERGE = "tag:yaml.org,2002:merge"
_TOKEN_NAME = re.compile(r"<[a-z ]{1,30}>")
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))
# libyaml when PyYAML has it (five times faster: a 20,000-target file in about 2 s, not 10 s).
_FAST = getattr(yaml, "CSafeLoader", None)
T = TypeVar("T")


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
    """A name from a file, safe to put in a message: the one rule for text from outside
    (sources/printable.py: one line, controls shown as escapes, length capped)."""
    return one_line(str(text))


def within(seconds: float, work: Callable[[], T], what: str) -> T:
    """`work()`, given at most `seconds`: a file on a hung network mount must not hang a load
    (or the reload behind it) for ever. TimeoutError names `what` when it takes longer; its
    thread is left to finish on its own."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # handed to the caller
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="read-file", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise TimeoutError(f"{what}: not read within {seconds:g} s")
    done, value = outcome[0]
    if not done:
        raise value
    return value


# ---------------------------------------------------------------- text

def read_text(path: Path) -> str:
    """The text of `path`: a regular file (links followed) of at most MAX_DOCUMENT_BYTES,
    UTF-8. Opened without blocking, so that a FIFO is refused, not waited on."""
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise DocumentError("no such file") from None
    except OSError as error:
        raise DocumentError(f"cannot read it ({(error.strerror or 'error').lower()})") from None
    try:
        data = _read_regular(descriptor)
    finally:
        os.close(descriptor)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentError("not UTF-8 text") from None


def _read_regular(descriptor: int) -> bytes:
    status = os.fstat(descriptor)
    kind = next((name for test, name in _KINDS if test(status.st_mode)), None)
    if kind is not None or not stat.S_ISREG(status.st_mode):
        raise DocumentError(f"not a regular file ({kind or 'not a file'})")
    if status.st_size > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"larger than {MAX_DOCUMENT_BYTES >> 20} MB")
    chunks, size = [], 0
    try:
        while size <= MAX_DOCUMENT_BYTES:  # a file that grows while it is read stops here too
            chunk = os.read(descriptor, min(1 << 20, MAX_DOCUMENT_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise DocumentError(f"cannot read it ({(error.strerror or 'error').lower()})") from None
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"larger than {MAX_DOCUMENT_BYTES >> 20} MB")
    return b"".join(chunks)


# ---------------------------------------------------------------- JSON

def read_json(path: Path) -> Any:
    """The JSON document in `path`, nested at most MAX_DEPTH levels."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentError(f"not valid JSON (line {error.lineno}: {error.msg})") from None
    except RecursionError:  # the decoder gives up long before 100,000 levels, as it should
        raise DocumentError(f"nested deeper than {MAX_DEPTH} levels") from None
    if _deeper_than(data, MAX_DEPTH):
        raise DocumentError(f"nested deeper than {MAX_DEPTH} levels")
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether lists and mappings in `data` nest more than `limit` levels (without recursing)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


# ---------------------------------------------------------------- YAML

class _Keys:
    """Noting keys given twice in one mapping (YAML keeps the last one silently, which would
    lose a target or a group without a word); mixed into both loaders."""

    twice: list[str]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue  # `<<: *defaults`: what it brings may be set again here, that is its purpose
            key = self.construct_object(key_node, deep=True)  # type: ignore[attr-defined]
            if not isinstance(key, str | int | float | bool):
                continue  # an unhashable key: construct_mapping reports it
            if key in seen:
                mark = key_node.start_mark
                self.twice.append(f"{mark.line + 1}:{mark.column + 1}: key {printable(key)!r} given twice")
            seen.add(key)
        return super().construct_mapping(node, deep)  # type: ignore[misc]


class _Loader(_Keys, yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.twice = []


_LOADERS: list[type] = [_Loader]
if _FAST is not None:
    class _FastLoader(_Keys, _FAST):  # type: ignore[valid-type,misc]
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.twice = []

    _LOADERS.insert(0, _FastLoader)


def read_yaml(path: Path) -> tuple[Any, list[str]]:
    """The document in `path` and the keys it gives twice (each `LINE:COL: message`). YAML's own
    messages lose any quoted part: it may be a piece of a password."""
    text = read_text(path)
    for loader_class in _LOADERS:
        try:
            return _load(loader_class, text)
        except yaml.YAMLError as error:
            if loader_class is _Loader:  # PyYAML's own words: the same with or without libyaml
                raise _yaml_problem(error, text) from None
    raise AssertionError("the last loader is _Loader")  # pragma: no cover


def _load(loader_class: type, text: str) -> tuple[Any, list[str]]:
    check_limits(yaml.parse(text, Loader=loader_class))
    loader = loader_class(text)
    try:
        return loader.get_single_data(), loader.twice
    finally:
        loader.dispose()


def _yaml_problem(error: yaml.YAMLError, text: str) -> DocumentError:
    if isinstance(error, yaml.reader.ReaderError):  # which character is not said: it may be a secret's
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        return DocumentError("not valid YAML: a control character (in double quotes, write it as an escape such "
                             "as \\t or \\x1b)", (line, column))
    mark = getattr(error, "problem_mark", None)
    problem = _unquoted(getattr(error, "problem", None) or "syntax error")
    return DocumentError(f"not valid YAML: {problem}", (mark.line + 1, mark.column + 1) if mark is not None else None)


def check_limits(stream: Iterable[events.Event]) -> None:
    """Raise DocumentError where YAML's events nest past MAX_DEPTH or expand past MAX_NODES
    values, aliases expanded. Each anchored node's expanded size and depth are noted when it
    ends, so an alias costs one lookup however much it stands for."""
    anchored: dict[str, tuple[int, int]] = {}  # anchor -> (values, levels) of its node, expanded
    open_nodes: list[list[Any]] = []  # collections not yet ended: [anchor, values, deepest child's levels]
    for event in stream:
        if isinstance(event, events.CollectionStartEvent):
            if len(open_nodes) >= MAX_DEPTH:
                raise _limit(f"nested deeper than {MAX_DEPTH} levels", event)
            open_nodes.append([event.anchor, 1, 0])
            continue
        if isinstance(event, events.CollectionEndEvent):
            anchor, values, levels = open_nodes.pop()
            size = (values, levels + 1)
        elif isinstance(event, events.ScalarEvent):
            anchor, size = event.anchor, (1, 1)
        elif isinstance(event, events.AliasEvent):
            anchor, size = None, anchored.get(event.anchor or "", (1, 1))  # undefined: the loader says so
            if any(node[0] == event.anchor for node in open_nodes):
                raise _limit("an alias inside the node it names (a loop)", event)
        else:
            continue  # stream and document start and end
        if anchor is not None:
            anchored[anchor] = size
        if open_nodes:
            parent = open_nodes[-1]
            parent[1] += size[0]
            parent[2] = max(parent[2], size[1])
            if len(open_nodes) + size[1] > MAX_DEPTH:
                raise _limit(f"nested deeper than {MAX_DEPTH} levels (aliases expanded)", event)
            if parent[1] > MAX_NODES:
                raise _limit(f"more than {MAX_NODES:,} values once its aliases are expanded", event)


def _limit(message: str, event: events.Event) -> DocumentError:
    mark = event.start_mark
    return DocumentError(message, (mark.line + 1, mark.column + 1) if mark is not None else None)


def _unquoted(text: str) -> str:
    """YAML quotes the character or token it stumbled on; that may belong to a secret, unless it
    is punctuation (',' '}') or a token's name ('<stream end>')."""
    parts = text.replace('"', "'").split("'")
    kept = [part if index % 2 == 0 else f"'{part}'" if _harmless(part) else "…" for index, part in enumerate(parts)]
    return "".join(kept).strip()


def _harmless(quoted: str) -> bool:
    return (len(quoted) == 1 and not quoted.isalnum()) or _TOKEN_NAME.fullmatch(quoted) is not None
