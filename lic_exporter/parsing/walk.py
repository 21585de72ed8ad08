"""The files below the paths given, parsed in walk order, by worker processes when many; and the
folders below them that could not be listed, each an error of its own.

A caller may have each result prepared where it was parsed (prepare_found: the daemon's digest),
so that what crosses back from a worker is what the caller keeps, not records to be rebuilt; and
may fork the workers before it grows (worker_pool: the daemon, before its folders are watched),
since a forked worker's memory is what it inherits."""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lic_exporter.parsing.results import FileResult, RecordStream, read_issue
from lic_exporter.sources.capture import WHOLE_FILE_BYTES

if TYPE_CHECKING:
    from lic_exporter.parsing.files import Parser

PARALLEL_MIN_FILES = 400  # below this, starting workers costs more than it saves
_CHUNK = 250
_WORKER_PARSER: Parser | None = None
T = TypeVar("T")


@dataclass(frozen=True)
class Found:
    """A file to parse, or (with `error`) a folder that could not be listed."""

    path: Path
    root: Path | None  # the folder given that it was found below; None: named itself (explicit)
    error: OSError | None = None

    @property
    def explicit(self) -> bool:
        """Named by the user: content this tool does not know is an error, not skipped."""
        return self.root is None


def parse_paths(parser: Parser, paths: Iterable[Path], jobs: int = 1, as_json: bool = False,
                stream: RecordStream | None = None, syslog_events: bool | None = None) -> Iterator[FileResult]:
    """Results for every file below `paths`, in walk order, after one result for each folder
    that could not be listed (see parse_found)."""
    return parse_found(parser, list(walk(paths)), jobs, as_json, stream, syslog_events)


def parse_found(parser: Parser, found: list[Found], jobs: int = 1, as_json: bool = False,
                stream: RecordStream | None = None, syslog_events: bool | None = None) -> Iterator[FileResult]:
    """Results for what a walk found: first a `cannot read` error for each folder that could
    not be listed, then every file in walk order. With `as_json`, records come serialised
    (FileResult.records_json), and syslog files' records go to `stream` as they are read.
    With jobs > 1 and enough files, worker processes share the files in chunks; then files
    over WHOLE_FILE_BYTES are parsed here, after the others, so that their records stream
    instead of piling up in a worker."""
    return _found(parser, found, jobs, as_json, stream, syslog_events, None)


def prepare_found(parser: Parser, found: list[Found], prepare: Callable[[FileResult], T], jobs: int = 1,
                  syslog_events: bool | None = None, pool: ProcessPoolExecutor | None = None) -> Iterator[T]:
    """As parse_found (records as objects), each result passed through `prepare` in the process
    that parsed it; `prepare` must be a module-level function (it is handed to the workers).
    `pool`: worker_pool's for `parser` (else, when they are needed, workers are forked here)."""
    return _found(parser, found, jobs, False, None, syslog_events, prepare, pool)


@contextmanager
def worker_pool(parser: Parser, jobs: int) -> Iterator[ProcessPoolExecutor | None]:
    """`jobs` worker processes for `parser`, forked now (None for one job). The daemon forks them
    before it watches its folders: what a forked worker inherits counts in its memory, and the
    watches of 100,000 folders are some 80 MB."""
    if jobs <= 1:
        yield None
        return
    global _WORKER_PARSER
    _WORKER_PARSER = replace(parser, jobs=1)  # forked workers inherit it; no pools inside
    from lic_exporter.model.records import build_validators  # pydantic: loaded here, not for a log alone

    build_validators()  # built once here, shared by every worker
    # A forked worker's collector would visit every object it inherited and so copy the
    # parent's heap page by page: frozen first, they stay shared.
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=gc.freeze) as pool:
        pool.submit(int).result()  # a fork pool starts all its workers at its first task
        yield pool


def _found(parser: Parser, found: list[Found], jobs: int, as_json: bool, stream: RecordStream | None,
           syslog_events: bool | None, prepare: Callable[[FileResult], Any] | None,
           pool: ProcessPoolExecutor | None = None) -> Iterator[Any]:
    for folder in found:
        if folder.error is not None:
            unlisted = FileResult(str(folder.path), issues=(read_issue(str(folder.path), folder.error, folder=True),))
            yield unlisted if prepare is None else prepare(unlisted)
    files = [item for item in found if item.error is None]
    # JSON output lists each syslog message; the other formats need only the tally.
    events = as_json if syslog_events is None else syslog_events
    if jobs > 1 and len(files) >= PARALLEL_MIN_FILES:
        big = [item for item in files if stream is not None and _size(item.path) > WHOLE_FILE_BYTES]
        small = [item for item in files if item not in big] if big else files
        chunks = [small[i:i + _CHUNK] for i in range(0, len(small), _CHUNK)]
        with nullcontext(pool) if pool is not None else worker_pool(parser, jobs) as workers:
            assert workers is not None
            for results in workers.map(partial(_parse_in_worker, as_json=as_json, events=events, prepare=prepare),
                                       chunks):
                yield from results
        yield from _parse_chunk(big, as_json, parser, stream, events, prepare)
        return
    yield from _parse_chunk(files, as_json, parser, stream, events, prepare)


def _parse_chunk(files: list[Found], as_json: bool, parser: Parser | None = None,
                 stream: RecordStream | None = None, events: bool | None = None,
                 prepare: Callable[[FileResult], Any] | None = None) -> Iterator[Any]:
    parser = parser or _WORKER_PARSER
    assert parser is not None, "a worker parses only after the pool's initializer set its parser"
    for item in files:
        result = parser.parse_file(item.path, item.explicit, syslog_events=as_json if events is None else events,
                                   stream=stream, root=item.root)
        if result.recognised or result.issues:
            result = result.as_json() if as_json else result
            yield result if prepare is None else prepare(result)


def _parse_in_worker(files: list[Found], as_json: bool, events: bool,
                     prepare: Callable[[FileResult], Any] | None) -> list[Any]:
    return list(_parse_chunk(files, as_json, events=events, prepare=prepare))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def walk(paths: Iterable[Path]) -> Iterator[Found]:
    """Files named on the command line (explicit) and files found below folders, in order, and
    each folder below them that could not be listed (its `error`), where it was met. A path
    that cannot even be looked at (below a folder without search permission) is taken for a
    file: opening it then says why it cannot be read."""
    for path in paths:
        if not os.path.isdir(path):
            yield Found(path, None)
            continue
        unlisted: list[OSError] = []  # os.walk reports a folder it cannot list here, and goes on
        for folder, dirs, files in os.walk(path, onerror=unlisted.append):
            yield from _unlisted(unlisted, path)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith("."):
                    yield Found(Path(folder) / name, path)
        yield from _unlisted(unlisted, path)


def _unlisted(errors: list[OSError], root: Path) -> Iterator[Found]:
    while errors:
        error = errors.pop(0)
        yield Found(Path(error.filename if error.filename is not None else root), root, error)
