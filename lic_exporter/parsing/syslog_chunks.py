"""Syslog bytes -> a tally and events, chunk by chunk; a large file shared among processes.

Most of a switch log is about anything but licensing, so lines are pre-filtered on raw bytes
(a regex scan for LICMGR, SMART_LIC, CALLHOME, CALL_HOME over whole chunks, in C); only the
survivors are decoded and handed, one batch per chunk, to TextFSM, which stays the parser of
record for the lines that count. Memory is bounded by the chunk size, not the file size.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from itertools import pairwise
from typing import BinaryIO

from lic_exporter.parsing.syslog_lines import Event, LineParser
from lic_exporter.parsing.syslog_tally import Tally

CHUNK_BYTES = 1 << 20
_FIND_KEYWORDS = (b"LICMGR", b"SMART_LIC", b"CALL")  # CALL: CALLHOME or CALL_HOME, checked


def scan(data: bytes, first_line: int) -> tuple[int, list[tuple[int, bytes]]]:
    """Complete lines in `data` -> (how many, [(line number, raw line)] that may count).
    `data` must end at a line boundary (or at the end of the file). The keywords are found
    with bytes.find (a C scan per keyword, far faster than a regex alternation); a `CALL`
    hit must read CALLHOME or CALL_HOME."""
    starts = set()
    for keyword in _FIND_KEYWORDS:
        found = data.find(keyword)
        while found >= 0:
            if keyword != b"CALL" or data.startswith((b"HOME", b"_HOME"), found + 4):
                starts.add(data.rfind(b"\n", 0, found) + 1)
            found = data.find(keyword, found + len(keyword))
    survivors: list[tuple[int, bytes]] = []
    line_no, counted_to = first_line, 0
    for start in sorted(starts):
        line_no += data.count(b"\n", counted_to, start)
        counted_to = start
        end = data.find(b"\n", start)
        survivors.append((line_no, data[start:end if end >= 0 else len(data)]))
    line_no += data.count(b"\n", counted_to)  # the rest: every line is counted, once
    lines = line_no - first_line + (0 if not data or data.endswith(b"\n") else 1)
    return lines, survivors


def nul_lines(data: bytes, first_line: int) -> list[int]:
    """Line numbers of the lines of `data` holding a NUL byte (a C scan when there is none)."""
    found: list[int] = []
    position = data.find(b"\x00")
    line, counted_to = first_line, 0
    while position >= 0:
        line += data.count(b"\n", counted_to, position)
        counted_to = position
        found.append(line)
        end = data.find(b"\n", position)
        if end < 0:
            break
        position = data.find(b"\x00", end)
    return found


def read_block(data: bytes, first_line: int, parser: LineParser, fallback_device: str, reference: datetime,
               tally: Tally) -> tuple[int, list[Event]]:
    """Count the complete lines of `data`, the first being line `first_line` of its file,
    into `tally`; returns how many lines and their licensing events. The one path of every
    syslog reader: files, the follower, `show logging` in sessions."""
    lines, survivors = scan(data, first_line)
    if b"\x00" in data:
        tally.nul_at(nul_lines(data, first_line))
    events = list(parser.events(survivors, fallback_device, reference, tally))
    for event in events:
        tally.add(event)
    tally.lines += lines
    return lines, events


def read_chunks(handle: BinaryIO, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Whole lines, about `size` bytes at a time; the last chunk may lack its newline."""
    return whole_lines(iter(lambda: handle.read(size), b""))


def whole_lines(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Blocks of bytes re-cut at line ends; what follows the last newline comes last."""
    partial = b""
    for block in blocks:
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            partial += block
            continue
        yield partial + block[:cut] if partial else block[:cut]
        partial = block[cut:]
    if partial:
        yield partial


def tally_stream(chunks: Iterable[bytes], parser: LineParser, fallback_device: str, reference: datetime,
                 on_event: Callable[[Event], object] | None = None) -> Tally:
    """Scan, parse and add up a whole stream; each event is also handed to `on_event` as it
    is read (kept in a list, or written out at once: memory stays bounded by a chunk)."""
    tally = Tally()
    for chunk in chunks:
        _, events = read_block(chunk, tally.lines + 1, parser, fallback_device, reference, tally)
        if on_event is not None:
            for event in events:
                on_event(event)
    return tally


PARALLEL_BYTES = 32 << 20  # a syslog file this large is shared among worker processes
_RANGE_PARSER: LineParser | None = None


def tally_parallel(path: str, size: int, parser: LineParser, fallback_device: str, reference: datetime,
                   jobs: int) -> Tally:
    """The tally of a large file, its line-aligned byte ranges counted by `jobs` processes.
    Events are not kept (their line numbers would need the ranges before them)."""
    global _RANGE_PARSER
    _RANGE_PARSER = parser  # forked workers inherit it, compiled template and all
    with open(path, "rb") as handle:
        ranges = _line_ranges(handle, size, jobs * 4)
    work = [(path, start, end, fallback_device, reference) for start, end in ranges]
    total = Tally()
    # initializer: what the workers inherit stays shared (parsing.walk says why)
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=gc.freeze) as pool:
        for tally in pool.map(_tally_range, work):
            tally.shift_lines(total.lines)  # range-relative -> file line numbers
            total.merge(tally)
    return total


def _line_ranges(handle: BinaryIO, size: int, parts: int) -> list[tuple[int, int]]:
    bounds = [0]
    for part in range(1, parts):
        handle.seek(size * part // parts)
        handle.readline()  # the range starts after the line that straddles the cut
        if bounds[-1] < handle.tell() < size:
            bounds.append(handle.tell())
    bounds.append(size)
    return list(pairwise(bounds))


def _tally_range(work: tuple[str, int, int, str, datetime]) -> Tally:
    path, start, end, fallback, reference = work
    assert _RANGE_PARSER is not None, "a worker reads only after the pool's initializer set its parser"
    with open(path, "rb") as handle:
        handle.seek(start)
        return tally_stream(whole_lines(_bounded(handle, end - start)), _RANGE_PARSER, fallback, reference)


def _bounded(handle: BinaryIO, length: int) -> Iterator[bytes]:
    while length > 0:
        block = handle.read(min(CHUNK_BYTES, length))
        if not block:
            return
        length -= len(block)
        yield block
