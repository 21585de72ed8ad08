"""Syslog bytes -> a tally and events, chunk by chunk; a large file shared among processes.

Most of a switch log is about anything but licensing, so lines are pre-filtered on raw bytes
(a scan for LICMGR, SMART_LIC, CALLHOME, CALL_HOME over whole chunks, in C); only the
survivors are decoded and handed, one batch per chunk, to TextFSM, which stays the parser of
record for the lines that count. Memory is bounded by the chunk size, not the file size.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from itertools import pairwise
from typing import BinaryIO, NamedTuple

from lic_exporter.parsing.syslog_lines import Event, LineParser
from lic_exporter.parsing.syslog_tally import Tally

CHUNK_BYTES = 1 << 20
_FIND_KEYWORDS = (b"LIC", b"CALL")  # LICMGR or SMART_LIC; CALLHOME or CALL_HOME: checked at each hit
_NEWLINE = ord("\n")
Buffer = bytes | bytearray  # a block read into a reused buffer is a bytearray


def scan(data: Buffer, first_line: int, end: int | None = None) -> tuple[int, list[tuple[int, Buffer]]]:
    """Complete lines in `data[:end]` -> (how many, [(line number, raw line)] that may count).
    They must end at a line boundary (or at the end of the file). The keywords are found
    with bytes.find (a C scan per keyword, far faster than a regex alternation): `LIC` for
    LICMGR and SMART_LIC in one pass, `CALL` for CALLHOME and CALL_HOME, each hit checked."""
    end = len(data) if end is None else end
    starts = set()
    for keyword in _FIND_KEYWORDS:
        found = data.find(keyword, 0, end)
        while found >= 0:
            after = found + len(keyword)
            if _is_keyword(data, keyword, found, end):
                starts.add(data.rfind(b"\n", 0, found) + 1)
                after = data.find(b"\n", found, end) + 1  # the line is in: its rest need not be searched
                if not after:
                    break
            found = data.find(keyword, after, end)
    survivors: list[tuple[int, Buffer]] = []
    line_no, counted_to = first_line, 0
    for start in sorted(starts):
        line_no += data.count(b"\n", counted_to, start)
        counted_to = start
        stop = data.find(b"\n", start, end)
        survivors.append((line_no, data[start:stop if stop >= 0 else end]))
    line_no += data.count(b"\n", counted_to, end)  # the rest: every line is counted, once
    lines = line_no - first_line + (0 if not end or data[end - 1] == _NEWLINE else 1)
    return lines, survivors


def _is_keyword(data: Buffer, keyword: bytes, found: int, end: int) -> bool:
    if keyword == b"LIC":
        return data.startswith(b"MGR", found + 3, end) or data.endswith(b"SMART_", 0, found)
    return data.startswith((b"HOME", b"_HOME"), found + 4, end)


def nul_lines(data: Buffer, first_line: int, end: int | None = None) -> list[int]:
    """Line numbers of the lines of `data[:end]` holding a NUL byte (a C scan when there is none)."""
    end = len(data) if end is None else end
    found: list[int] = []
    position = data.find(b"\x00", 0, end)
    line, counted_to = first_line, 0
    while position >= 0:
        line += data.count(b"\n", counted_to, position)
        counted_to = position
        found.append(line)
        stop = data.find(b"\n", position, end)
        if stop < 0:
            break
        position = data.find(b"\x00", stop, end)
    return found


def read_block(data: Buffer, first_line: int, parser: LineParser, fallback_device: str, reference: datetime,
               tally: Tally, end: int | None = None) -> tuple[int, list[Event]]:
    """Count the complete lines of `data[:end]`, the first being line `first_line` of its
    file, into `tally`; returns how many lines and their licensing events. The one path of
    every syslog reader: files, the follower, `show logging` in sessions."""
    end = len(data) if end is None else end
    lines, survivors = scan(data, first_line, end)
    if data.find(b"\x00", 0, end) >= 0:
        tally.nul_at(nul_lines(data, first_line, end))
    events = list(parser.events(survivors, fallback_device, reference, tally))
    for event in events:
        tally.add(event)
    tally.lines += lines
    return lines, events


class Block(NamedTuple):
    """Complete lines, `data[:end]`; a reused buffer may hold more past `end`."""

    data: Buffer
    end: int

    @classmethod
    def of(cls, data: Buffer) -> Block:
        return cls(data, len(data))


def read_chunks(handle: BinaryIO, size: int = CHUNK_BYTES, length: int | None = None) -> Iterator[Block]:
    """Whole lines of `handle` (of its next `length` bytes), about `size` bytes at a time;
    the last may lack its newline. They are read into one buffer that is used again: a block
    is valid until the next is asked for (copying each megabyte to cut it at a line end cost
    more than the keyword scan of one keyword)."""
    buffer = bytearray(size)
    kept = 0  # the start of a line that the block before did not end
    left = sys.maxsize if length is None else length
    while left > 0:
        if kept == len(buffer):  # one line longer than the buffer: it grows, as the line needs
            buffer.extend(bytes(len(buffer)))
        with memoryview(buffer) as view:
            # every binary file object has readinto; typing.BinaryIO does not declare it
            got = handle.readinto(view[kept:kept + min(len(buffer) - kept, left)])  # type: ignore[attr-defined]
        if not got:
            break
        left -= got
        filled = kept + got
        cut = buffer.rfind(b"\n", 0, filled) + 1
        if cut:
            yield Block(buffer, cut)
            buffer[:filled - cut] = buffer[cut:filled]
        kept = filled - cut
    if kept:
        yield Block(buffer, kept)


def tally_stream(chunks: Iterable[Block], parser: LineParser, fallback_device: str, reference: datetime,
                 on_event: Callable[[Event], object] | None = None) -> Tally:
    """Scan, parse and add up a whole stream; each event is also handed to `on_event` as it
    is read (kept in a list, or written out at once: memory stays bounded by a chunk)."""
    tally = Tally()
    for data, end in chunks:
        _, events = read_block(data, tally.lines + 1, parser, fallback_device, reference, tally, end)
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
        return tally_stream(read_chunks(handle, length=end - start), _RANGE_PARSER, fallback, reference)
