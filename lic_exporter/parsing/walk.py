"""The files below the paths given, parsed in walk order, by worker processes when many."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from lic_exporter.parsing.results import FileResult, RecordStream
from lic_exporter.sources.capture import WHOLE_FILE_BYTES

if TYPE_CHECKING:
    from lic_exporter.parsing.files import Parser

log = logging.getLogger(__name__)
PARALLEL_MIN_FILES = 400  # below this, starting workers costs more than it saves
_CHUNK = 250
_WORKER_PARSER: Parser | None = None


def parse_paths(parser: Parser, paths: Iterable[Path], jobs: int = 1, as_json: bool = False,
                stream: RecordStream | None = None, syslog_events: bool | None = None) -> Iterator[FileResult]:
    """Results for every file below `paths`, in walk order; with `as_json`, records come
    serialised (FileResult.records_json), and syslog files' records go to `stream` as they
    are read. With jobs > 1 and enough files, worker processes share the files in chunks;
    then files over WHOLE_FILE_BYTES are parsed here, after the others, so that their
    records stream instead of piling up in a worker."""
    files = list(walk(paths))
    # JSON output lists each syslog message; the other formats need only the tally.
    events = as_json if syslog_events is None else syslog_events
    if jobs > 1 and len(files) >= PARALLEL_MIN_FILES:
        big = [item for item in files if stream is not None and _size(item[0]) > WHOLE_FILE_BYTES]
        small = [item for item in files if item not in big] if big else files
        chunks = [small[i:i + _CHUNK] for i in range(0, len(small), _CHUNK)]
        global _WORKER_PARSER
        _WORKER_PARSER = replace(parser, jobs=1)  # forked workers inherit it; no pools inside
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            for results in pool.map(partial(_parse_in_worker, as_json=as_json, events=events), chunks):
                yield from results
        yield from _parse_chunk(big, as_json, parser, stream, events)
        return
    yield from _parse_chunk(files, as_json, parser, stream, events)


def _parse_chunk(files: list[tuple[Path, bool]], as_json: bool, parser: Parser | None = None,
                 stream: RecordStream | None = None, events: bool | None = None) -> Iterator[FileResult]:
    parser = parser or _WORKER_PARSER
    assert parser is not None, "a worker parses only after the pool's initializer set its parser"
    for path, explicit in files:
        result = parser.parse_file(path, explicit, syslog_events=as_json if events is None else events, stream=stream)
        if result.recognised or result.issues:
            yield result.as_json() if as_json else result


def _parse_in_worker(files: list[tuple[Path, bool]], as_json: bool, events: bool) -> list[FileResult]:
    return list(_parse_chunk(files, as_json, events=events))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def walk(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """Files named on the command line (explicit) and files found below folders, in order."""
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path, onerror=_unreadable_folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name, False
        else:
            yield path, True


def _unreadable_folder(error: OSError) -> None:
    log.error("%s: cannot read folder: %s; its files are not parsed", error.filename, error.strerror)
