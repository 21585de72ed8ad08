"""One parsed file as the daemon keeps it (a digest, made by state.digest): its records packed
into a few hundred bytes, and each device it names drawn from it alone (the device's text and
the facts diagnose looks at).

The initial scan makes digests in its worker processes, so what crosses back is bytes and
finished text, not records to be rebuilt in the daemon; a device that one file alone names
(the usual fleet: one capture per switch) is then never drawn in the daemon at all. The packed
records are opened only to draw a device that several files name, or whose file broke.

Packing: a pickle compressed with a preset dictionary (the pickle of a typical record), so the
class paths, field names and structure every record repeats cost next to nothing (about 120
bytes for a `show license status`, against some 9 KB as live objects). A dictionary that
differs between the process that packed and the one that opens is refused by zlib, never
misread.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from lic_exporter.analysis.diagnose import Facts
from lic_exporter.exposition.metrics import DeviceText
from lic_exporter.model.records import LicenseRecord, Record
from lic_exporter.parsing.results import FileResult

_PICKLE_PROTOCOL = 5
_LEVEL = 1  # with the dictionary, level 1 packs as small as level 9 and faster
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
def _dictionary() -> bytes:
    return pickle.dumps((LicenseRecord.model_validate(_SAMPLE),), protocol=_PICKLE_PROTOCOL)


def pack(records: tuple[Record, ...]) -> bytes:
    """The records, small; b"" for none."""
    if not records:
        return b""
    compressor = zlib.compressobj(_LEVEL, zdict=_dictionary())
    return compressor.compress(pickle.dumps(records, protocol=_PICKLE_PROTOCOL)) + compressor.flush()


def unpack(packed: bytes) -> tuple[Record, ...]:
    """The records `pack` was given (they were validated when parsed: not again)."""
    if not packed:
        return ()
    records: tuple[Record, ...] = pickle.loads(zlib.decompressobj(zdict=_dictionary()).decompress(packed))
    return records


@dataclass(frozen=True)
class Drawing:
    """One device, ready for the page: its text and what diagnose looks at."""

    text: DeviceText
    facts: Facts


@dataclass(frozen=True)
class Digest:
    """A parsed file: its result without the records, the records packed, the devices they
    name, and each of those devices drawn from this file alone."""

    result: FileResult
    packed: bytes
    records: int  # how many were packed
    devices: frozenset[str]
    drawings: Mapping[str, Drawing]
    # what went wrong drawing them (a bug, not the file's fault): applying the digest raises it,
    # so that it costs that file only, as any failure while applying one does
    error: Exception | None = None
