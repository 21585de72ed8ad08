"""Rotation storms: the follower, driven by a real watchdog observer, against a writer that
rotates `sw.log` 50 times in a few seconds while appending bursts of identical old NX-OS lines
(times to the second, no year). Every line written is on disk somewhere until a rotated file is
deleted; the totals must equal exactly the number of lines written."""

from __future__ import annotations

import os
import random
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lic_exporter.daemon.follower import COPY_WINDOW_SECONDS, SyslogFollower, watch
from lic_exporter.parsing.files import Parser

ROTATIONS = 50
KEPT = 5  # sw.log.1 .. sw.log.5; the next one is deleted
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def old_nxos_line() -> str:
    now = datetime.now(UTC)
    return (f"{MONTHS[now.month - 1]} {now.day:2d} {now:%H:%M:%S} n9k-old-01 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: "
            "Communications failure with the Cisco Smart Software Manager (CSSM) : Fail to send out Call Home "
            "HTTP message\n")


class TimedFollower(SyslogFollower):
    """Remembers when each of its looks began and ended: a rotated file is deleted only once
    the follower has had a look at it (as a real rotation, daily, always allows)."""

    looks: list[tuple[float, float]]

    def poll(self) -> None:
        began = time.monotonic()
        super().poll()
        self.looks.append((began, time.monotonic()))


class Storm:
    def __init__(self, folder: Path, follower: TimedFollower, seed: int):
        self.folder, self.follower = folder, follower
        self.log = folder / "sw.log"
        self.random = random.Random(seed)
        self.written = 0
        self.rotating: list[tuple[float, float]] = []  # while names changed
        self.named: dict[int, float] = {}  # rotated file number -> when the file there got that name

    def rotated(self, number: int) -> Path:
        return self.folder / f"sw.log.{number}"

    def bursts(self, write) -> None:
        """A burst of up to 40 lines, then up to 3 smaller ones."""
        for burst in range(self.random.randint(1, 4)):
            count = self.random.randint(1, 40 if burst == 0 else 10)
            write(old_nxos_line() * count)  # the same message, the same second
            self.written += count
            time.sleep(self.random.uniform(0.005, 0.03))

    def shift(self) -> None:
        """sw.log.5 is deleted (once the follower saw it), .4 -> .5, ..., .1 -> .2."""
        oldest = self.rotated(KEPT)
        if oldest.exists():
            self.seen_since(self.named[KEPT])
            oldest.unlink()
        for number in range(KEPT - 1, 0, -1):
            if self.rotated(number).exists():
                self.rotated(number).rename(self.rotated(number + 1))
                self.named[number + 1] = self.named[number]

    def seen_since(self, since: float, timeout: float = 3.0) -> None:
        """Wait (bounded) for a look that began after `since` while no name changed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(began > since and not any(a <= end and began <= b for a, b in self.rotating)
                   for began, end in list(self.follower.looks)):
                return
            time.sleep(0.005)

    def rotation(self, rotate) -> None:
        began = time.monotonic()
        rotate()
        self.named[1] = time.monotonic()
        self.rotating.append((began, self.named[1]))


@pytest.fixture
def storm(tmp_path: Path):
    observers = []

    def start(seed: int) -> Storm:
        follower = TimedFollower([str(tmp_path / "sw.log*")], Parser().syslog_lines)
        follower.looks = []
        follower.poll()
        observer = watch(follower)
        observer.start()
        observers.append((observer, follower))
        return Storm(tmp_path, follower, seed)

    yield start
    for observer, follower in observers:
        observer.stop()
        observer.join(5)
        follower.close()


def settled(storm: Storm) -> tuple[int, int]:
    """Once a new file may no longer be waiting to be told for a copy, one more look."""
    time.sleep(COPY_WINDOW_SECONDS + 0.5)
    storm.follower.poll()
    totals = storm.follower.snapshot()
    return totals.lines, sum(totals.failures.values())


def test_rotation_storm_by_rename(storm) -> None:
    storm = storm(seed=1)

    def write(text: str) -> None:
        with open(storm.log, "a") as handle:  # a writer that reopens its file for each burst
            handle.write(text)

    def rotate() -> None:
        storm.shift()
        storm.log.rename(storm.rotated(1))  # the next burst creates a new sw.log

    _rage(storm, write, rotate)


def _rage(storm, write, rotate) -> None:
    """ROTATIONS rotations between bursts of identical lines, then every line counted once."""
    started = time.monotonic()
    for _ in range(ROTATIONS):
        storm.bursts(write)
        storm.rotation(rotate)
    storm.bursts(write)
    assert time.monotonic() - started < 15
    assert len(list(storm.folder.glob("sw.log*"))) == KEPT + 1
    assert settled(storm) == (storm.written, storm.written)


def test_rotation_storm_by_copy_truncate(storm) -> None:
    storm = storm(seed=2)
    with open(storm.log, "a") as writer:  # a writer that keeps its file open, appending
        def write(text: str) -> None:
            writer.write(text)
            writer.flush()

        def rotate() -> None:
            storm.shift()
            shutil.copyfile(storm.log, storm.rotated(1))  # copytruncate: nothing written in between
            os.truncate(storm.log, 0)

        _rage(storm, write, rotate)
