"""The syslog follower on real files, driven by the real watchdog observer."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from lic_exporter.daemon.follower import COPY_WINDOW_SECONDS, SyslogFollower, watch
from lic_exporter.parsing.files import Parser
from tests.support.daemon import wait_for

FAIL = ("2026 Nov 20 10:00:{s:02d} leaf{n} %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the "
        "Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname/domain name\n")
NOISE = "2026 Nov 20 10:00:00 leaf1 %ETHPORT-5-IF_UP: Interface Ethernet1/1 is up in mode access\n"


def fail(second: int, leaf: int = 1) -> str:
    return FAIL.format(s=second, n=leaf)


@pytest.fixture
def follow(tmp_path: Path):
    started = []

    def start(*patterns: str) -> SyslogFollower:
        follower = SyslogFollower([str(tmp_path / p) for p in patterns], Parser().syslog_lines)
        follower.poll()
        observer = watch(follower)
        observer.start()
        started.append((follower, observer))
        return follower

    yield start
    for follower, observer in started:
        observer.stop()
        observer.join(5)
        follower.close()


def failures(follower: SyslogFollower) -> int:
    return sum(follower.snapshot().failures.values())


def test_reads_existing_lines_then_follows_appends(tmp_path: Path, follow) -> None:
    log = tmp_path / "switch.log"
    log.write_text(NOISE + fail(1) + NOISE)
    follower = follow("*.log")
    assert failures(follower) == 1 and follower.snapshot().lines == 3
    with open(log, "a") as handle:
        handle.write(fail(2) + fail(3))
    wait_for(lambda: failures(follower) == 3)
    assert follower.snapshot().lines == 5


def test_partial_line_waits_for_its_newline(tmp_path: Path, follow) -> None:
    log = tmp_path / "switch.log"
    log.write_text(fail(1))
    follower = follow("*.log")
    line = fail(2)
    with open(log, "a") as handle:
        handle.write(line[:40])
    time.sleep(0.5)
    assert failures(follower) == 1 and follower.snapshot().lines == 1
    with open(log, "a") as handle:
        handle.write(line[40:])
    wait_for(lambda: failures(follower) == 2)
    time.sleep(0.3)
    assert failures(follower) == 2 and follower.snapshot().lines == 2


def test_rotation_by_rename_counts_nothing_twice(tmp_path: Path, follow) -> None:
    log = tmp_path / "switch.log"
    log.write_text(fail(1) + fail(2))
    follower = follow("switch.log*")  # the rotated name matches too
    with open(log, "a") as handle:
        handle.write(fail(3))
    wait_for(lambda: failures(follower) == 3)
    log.rename(tmp_path / "switch.log.1")
    log.write_text(fail(4))
    wait_for(lambda: failures(follower) == 4)
    with open(log, "a") as handle:
        handle.write(fail(5))
    wait_for(lambda: failures(follower) == 5)
    time.sleep(0.3)
    assert failures(follower) == 5 and follower.snapshot().lines == 5


def test_copy_truncate_rotation(tmp_path: Path, follow) -> None:
    log = tmp_path / "switch.log"
    log.write_text(fail(1) + fail(2))
    follower = follow("switch.log")
    shutil.copy(log, tmp_path / "switch.log.1")  # not matched: the copy is not followed
    with open(log, "r+") as handle:
        handle.truncate(0)
    with open(log, "a") as handle:
        handle.write(fail(3))
    wait_for(lambda: failures(follower) == 3)
    assert follower.snapshot().lines == 3


def test_truncated_and_refilled_past_the_old_size(tmp_path: Path) -> None:
    """A copy-truncate whose new content outgrows the old offset before the follower looks
    again (same inode, larger size) is noticed by the changed first bytes."""
    log = tmp_path / "switch.log"
    log.write_text(fail(1, leaf=1))
    follower = SyslogFollower([str(log)], Parser().syslog_lines)
    follower.poll()
    with open(log, "r+") as handle:  # same inode, rewritten in place
        handle.truncate(0)
        handle.write(fail(2, leaf=2) + fail(3, leaf=2) + fail(4, leaf=2))
    follower.poll()
    assert sum(follower.snapshot().failures.values()) == 4
    assert {device for device, _ in follower.snapshot().failures} == {"leaf1", "leaf2"}
    follower.close()


def test_deleted_file_keeps_its_counts_and_a_new_one_is_picked_up(tmp_path: Path, follow) -> None:
    log = tmp_path / "switch.log"
    log.write_text(fail(1) + fail(2))
    follower = follow("*.log")
    log.unlink()
    time.sleep(0.5)
    assert failures(follower) == 2
    (tmp_path / "other.log").write_text(fail(3, leaf=7))
    wait_for(lambda: failures(follower) == 3)
    assert ("leaf7", "dns") in follower.snapshot().failures


def test_restart_counts_afresh_from_the_files_as_they_are(tmp_path: Path) -> None:
    log = tmp_path / "switch.log"
    log.write_text(fail(1) + NOISE + fail(2))
    first = SyslogFollower([str(log)], Parser().syslog_lines)
    first.poll()
    first.poll()  # polling again reads nothing new
    second = SyslogFollower([str(log)], Parser().syslog_lines)
    second.poll()
    assert first.snapshot().failures == second.snapshot().failures
    assert first.snapshot().lines == second.snapshot().lines == 3
    first.close()
    second.close()


def test_undecodable_and_junk_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "switch.log"
    log.write_bytes(fail(1).encode() + b"\xff\xfe junk SMART_LIC junk\n" + b"binary \x00\x01 CALLHOME\n")
    follower = SyslogFollower([str(log)], Parser().syslog_lines)
    follower.poll()
    totals = follower.snapshot()
    assert totals.lines == 3 and sum(totals.failures.values()) == 1
    assert totals.unparsed == 2 and totals.undecodable == 1
    follower.close()


def test_copy_truncate_whose_copy_matches_the_pattern(tmp_path: Path) -> None:
    log = tmp_path / "switch.log"
    log.write_text(NOISE * 4 + fail(1) + fail(2))  # longer than the fingerprint
    follower = SyslogFollower([str(tmp_path / "switch.log*")], Parser().syslog_lines)
    follower.poll()
    shutil.copy(log, tmp_path / "switch.log.1")
    with open(log, "r+") as handle:
        handle.truncate(0)
    with open(log, "a") as handle:
        handle.write(fail(3))
    follower.poll()
    assert failures(follower) == 3
    follower.close()


def test_writer_that_goes_on_after_a_rename_is_still_read(tmp_path: Path) -> None:
    log = tmp_path / "switch.log"
    writer = open(log, "a")  # noqa: SIM115 (a syslog daemon keeps its file open)
    writer.write(fail(1))
    writer.flush()
    follower = SyslogFollower([str(tmp_path / "*.log")], Parser().syslog_lines)
    follower.poll()
    log.rename(tmp_path / "switch.log.1")  # no longer matched
    follower.poll()
    writer.write(fail(2))  # until it is told to reopen, the daemon writes to the old file
    writer.close()
    log.write_text(fail(3))
    follower.poll()
    assert failures(follower) == 3
    follower.close()


def test_pattern_in_a_folder_that_does_not_exist_yet(tmp_path: Path, follow) -> None:
    """Nothing above the missing folder is watched (never a recursive watch of an ancestor);
    the daemon's periodic poll finds the folder once it exists."""
    from lic_exporter.daemon.follower import _watch_points

    assert _watch_points([str(tmp_path / "later" / "*.log")]) == set()
    follower = follow("later/*.log")
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "switch.log").write_text(fail(1))
    follower.poll()
    assert failures(follower) == 1


OLD_NXOS = ("Nov 20 10:00:13 n9k-old-01 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the "
            "Cisco Smart Software Manager (CSSM) : Fail to send out Call Home HTTP message\n")


def test_look_alike_files_are_different_files(tmp_path: Path, follow) -> None:
    """Identical lines (a switch retrying every 15 minutes, times to the second) in different
    files are different lines: a file that begins like another is no copy of it."""
    (tmp_path / "sw.log").write_text(OLD_NXOS * 5)
    (tmp_path / "sw.log.1").write_text(OLD_NXOS * 30)
    follower = follow("sw.log*")
    assert failures(follower) == 35 and follower.snapshot().lines == 35
    (tmp_path / "sw.log.2").write_text(OLD_NXOS * 30)  # appears later: it might be a copy ...
    rewritten = tmp_path / "sw.log.3"
    rewritten.write_text(OLD_NXOS * 30)
    follower.poll()
    with open(rewritten, "r+") as handle:  # ... and is read as it is once it is known to be none
        handle.truncate(0)
        handle.write(OLD_NXOS * 12)
    time.sleep(COPY_WINDOW_SECONDS + 0.3)  # no file it begins like was truncated in time
    follower.poll()
    assert failures(follower) == 77 and follower.snapshot().lines == 77


def test_copy_lacking_the_last_lines_read(tmp_path: Path) -> None:
    """logrotate copytruncate loses what is written between its copy and its truncation; the
    follower may have read those lines from the original: they count once, and the copy, which
    holds a little less than was read, is no new file."""
    log = tmp_path / "sw.log"
    log.write_text(OLD_NXOS * 10)
    follower = SyslogFollower([str(tmp_path / "sw.log*")], Parser().syslog_lines)
    follower.poll()
    shutil.copyfile(log, tmp_path / "sw.log.1")
    with open(log, "a") as handle:
        handle.write(OLD_NXOS * 2)
    follower.poll()
    os.truncate(log, 0)
    with open(log, "a") as handle:
        handle.write(OLD_NXOS)
    follower.poll()
    assert failures(follower) == 13
    time.sleep(COPY_WINDOW_SECONDS + 0.3)  # a shorter copy is taken for one only once it is late
    follower.poll()
    assert failures(follower) == 13 and follower.snapshot().lines == 13
    follower.close()
