"""One parsed file as the daemon keeps it (a digest, made by state.digest): its records packed
into a few hundred bytes, and each device it names drawn from it alone (the device's text,
packed too, and the facts diagnose looks at).

The initial scan makes digests in its worker processes, so what crosses back is bytes and
finished text, not records to be rebuilt in the daemon; a device that one file alone names
(the usual fleet: one capture per switch) is then never drawn in the daemon at all. The packed
records are opened only to draw a device that several files name, or whose file broke.

Packing: a pickle compressed with a preset dictionary (the pickle of a typical record), so the
class paths, field names and structure every record repeats cost next to nothing (about 120
bytes for a `show license status`, against some 9 KB as live objects). A dictionary that
differs between the process that packed and the one that opens is refused by zlib, never
misread.

A device's text (some 2.4 KB, most of a fleet's memory) is packed the same way, with a typical
device's text as the dictionary: about 200 bytes. The page is assembled by unpacking each
device's text once (daemon.page).
"""

from __future__ import annotations

import pickle
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from lic_exporter.analysis.diagnose import Facts
from lic_exporter.analysis.views import device_views
from lic_exporter.exposition.metrics import DeviceText, device_text
from lic_exporter.model.records import LicenseRecord, Record
from lic_exporter.parsing.results import FileResult

_PICKLE_PROTOCOL = 5
_LEVEL = 1  # with the dictionary, level 1 packs as small as level 9 and faster
_TEXT_LEVEL = 6  # text: 185 bytes a device against 250 at level 1, for 4 us more
_SAMPLE = {
    "device": "n9k-000000", "command": "show license status", "source": "/var/lib/lic/n9k/show_license_status.txt",
    "line": 1, "captured_at": "2026-12-03T06:32:45.065484+00:00", "captured_at_from": "file_mtime",
    "kind": "license", "mode": "smart", "smart_licensing_enabled": True,
    "account": {"smart_account": "Account", "virtual_account": "VA"},
    "registration": {"state": "registered", "state_text": "REGISTERED", "export_controlled": True,
                     "initial": {"result": "succeeded", "result_text": "SUCCEEDED", "at": "2026-06-17T19:42:00+00:00"},
                     "next_renewal": "2026-12-14T19:42:00+00:00", "expires": "2027-06-17T19:42:00+00:00"},
    "authorization": {"state": "authorized", "state_text": "AUTHORIZED", "since": "2026-06-17T19:42:00+00:00",
                      "last_communication": {"result": "succeeded", "result_text": "SUCCEEDED",
                                             "at": "2026-07-17T19:42:00+00:00"},
                      "next_communication": "2026-08-16T19:42:00+00:00",
                      "communication_deadline": "2026-10-15T19:42:00+00:00"},
    "conversion": {"automatic": False, "status": "Not started"}, "unknown_lines": 0,
}


@cache
def _sample() -> LicenseRecord:
    return LicenseRecord.model_validate(_SAMPLE)


@cache
def _dictionary() -> bytes:
    return pickle.dumps((_sample(),), protocol=_PICKLE_PROTOCOL)


def pack(records: tuple[Record, ...]) -> bytes:
    """The records, small; b"" for none."""
    if not records:
        return b""
    return _deflate(pickle.dumps(records, protocol=_PICKLE_PROTOCOL), _LEVEL, _dictionary())


def unpack(packed: bytes) -> tuple[Record, ...]:
    """The records `pack` was given (they were validated when parsed: not again)."""
    if not packed:
        return ()
    records: tuple[Record, ...] = pickle.loads(_inflate(packed, _dictionary()))
    return records


@cache
def _text_dictionary() -> bytes:
    """A typical device's text: what every device's text mostly repeats."""
    return b"".join(device_text(device_views([_sample()])[0]).chunks)


@dataclass(frozen=True, slots=True)
class PackedText:
    """A device's text (DeviceText.chunks) packed: the chunks' lengths and their text, compressed
    (its deadlines are in its Facts, where the day counts read them)."""

    device: str
    packed: bytes

    @property
    def chunks(self) -> tuple[bytes, ...]:
        """DeviceText.chunks, unpacked."""
        data = _inflate(self.packed, _text_dictionary())
        count = data[0]
        lengths = struct.unpack_from(f"<{count}I", data, 1)
        chunks, start = [], 1 + 4 * count
        for length in lengths:
            chunks.append(data[start:start + length])
            start += length
        return tuple(chunks)


def pack_text(text: DeviceText) -> PackedText:
    lengths = struct.pack(f"<B{len(text.chunks)}I", len(text.chunks), *map(len, text.chunks))
    return PackedText(text.device, _deflate(lengths + b"".join(text.chunks), _TEXT_LEVEL, _text_dictionary()))


def _deflate(data: bytes, level: int, dictionary: bytes) -> bytes:
    compressor = zlib.compressobj(level, zdict=dictionary)
    return compressor.compress(data) + compressor.flush()


def _inflate(packed: bytes, dictionary: bytes) -> bytes:
    """What _deflate packed with this `dictionary` (zlib refuses any other)."""
    return zlib.decompressobj(zdict=dictionary).decompress(packed)


@dataclass(frozen=True)
class Drawing:
    """One device, ready for the page: its text (packed) and what diagnose looks at."""

    text: PackedText
    facts: Facts


@dataclass(frozen=True)
class Digest:
    """A parsed file: its result without the records, the records packed, the devices they
    name, and each of those devices drawn from this file alone."""

    result: FileResult
    packed: bytes
    records: int  # how many were packed
    devices: tuple[str, ...]  # sorted
    drawings: Mapping[str, Drawing]
    # what went wrong drawing them (a bug, not the file's fault): applying the digest raises it,
    # so that it costs that file only, as any failure while applying one does
    error: Exception | None = None
