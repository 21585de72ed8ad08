"""When each source is polled: at its own stable place in `poll_interval` (a hash of its name)
plus a small jitter, so that sources sharing an API do not all ask at the top of the hour;
and not at a start when its snapshot is younger than the interval.

A slot closer than half an interval to the previous poll (or to the snapshot found at a start)
is skipped: a start just before a source's slot does not poll it twice within minutes, and
the data is never older than one and a half intervals plus the jitter.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from lic_exporter.accounts.snapshot import snapshot_path

JITTER = 0.02  # of the interval: at most 7 minutes of a 6-hour interval
MIN_GAP = 0.5  # of the interval, between the previous poll and the next


def offset_in_interval(name: str, interval: float) -> float:
    """A source's stable place in the interval, from a hash of its name."""
    digest = hashlib.sha256(b"accounts-offset:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10**9 / 10**9 * interval


def next_slot(name: str, interval: float, after: float) -> float:
    """The first of the source's slots at least MIN_GAP intervals after `after` (no jitter)."""
    base = offset_in_interval(name, interval)
    earliest = after + MIN_GAP * interval
    return earliest - (earliest - base) % interval + interval if (earliest - base) % interval else earliest


def next_poll(name: str, interval: float, after: float, rng: random.Random) -> float:
    """When to poll next after a poll (or a snapshot) at `after`: its next slot plus jitter."""
    return next_slot(name, interval, after) + rng.uniform(0, JITTER * interval)


def snapshot_time(out_dir: Path, source: str) -> float | None:
    """When DIR/<source>.accounts.json was last written (unix time), or None without one."""
    try:
        return snapshot_path(out_dir, source).stat().st_mtime
    except OSError:
        return None


def fresh_snapshot(out_dir: Path, source: str, interval: float, now: float) -> bool:
    """Whether DIR/<source>.accounts.json is younger than the interval (a start does not poll it)."""
    written = snapshot_time(out_dir, source)
    return written is not None and now - written < interval
