"""Log lines on the Prometheus conventions (lic_exporter/cli/logs.py): logfmt and JSON, RFC 3339
UTC timestamps, four lower-case levels, text a switch printed kept on one line and free of
terminal controls, and at info one summary line per scan or collection round, not one per file.

The logfmt lines are read back with a small parser written here to the logfmt rules (keys,
`=`, bare or double-quoted values with backslash escapes), so a line that a logfmt reader would
split or misread fails the test."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from pathlib import Path

import pytest

from lic_exporter.cli.logs import JsonFormatter, LogfmtFormatter, configure_logging, logfmt_value
from lic_exporter.collect.daemon_loop import CollectLoop
from lic_exporter.collect.targets import CollectConfig, CollectSettings, Credential, Secret, Target
from tests.support.daemon import Daemon, wait_for
from tests.support.paths import SHOW_FIXTURES

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
LEVELS = {"debug", "info", "warn", "error"}
FORGED = ('sw1\n ts=2026-12-02T00:00:00.000Z level=error logger=lic_exporter msg="FORGED"'
          '\x1b]0;owned\x07\x1b[2J\r\x9b\x7f\u2028"\\')
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


# ---------------------------------------------------------------- a logfmt reader, for the tests

def parse_logfmt(line: str) -> dict[str, str]:
    """One logfmt line -> its pairs; AssertionError for anything a logfmt reader would not take."""
    assert "\n" not in line and "\r" not in line, line
    pairs: dict[str, str] = {}
    at = 0
    while at < len(line):
        key = re.match(r"[^\s=\"]+", line[at:])
        assert key, f"no key at {at}: {line!r}"
        at += key.end()
        assert line[at:at + 1] == "=", f"no '=' after {key[0]!r}: {line!r}"
        at += 1
        if line[at:at + 1] == '"':
            value, at = _quoted(line, at + 1)
        else:
            bare = re.match(r"[^\s\"=]*", line[at:])
            assert bare is not None
            value, at = bare[0], at + bare.end()
        assert key[0] not in pairs, f"{key[0]} twice: {line!r}"
        pairs[key[0]] = value
        if at < len(line):
            assert line[at] == " ", f"no space after a value at {at}: {line!r}"
            at += 1
    return pairs


def _quoted(line: str, at: int) -> tuple[str, int]:
    out: list[str] = []
    while True:
        assert at < len(line), f"unterminated quote: {line!r}"
        char = line[at]
        if char == '"':
            return "".join(out), at + 1
        if char == "\\":
            code = line[at + 1]
            if code in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[code])
                at += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}[code]
            out.append(chr(int(line[at + 2:at + 2 + width], 16)))
            at += 2 + width
            continue
        assert char.isprintable(), f"raw control {char!r} in {line!r}"
        out.append(char)
        at += 1


def record(message: str, *args: object, level: int = logging.INFO, created: float = 1796191447.326,
           extra: dict | None = None, exc_info: object = None) -> logging.LogRecord:
    made = logging.LogRecord("lic_exporter.test", level, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]
    made.created = created
    for key, value in (extra or {}).items():
        setattr(made, key, value)
    return made


# ---------------------------------------------------------------- the formatters

def test_a_logfmt_line_has_ts_level_logger_msg_in_that_order():
    line = LogfmtFormatter().format(record("scan done"))
    assert line == 'ts=2026-12-02T06:04:07.326Z level=info logger=lic_exporter.test msg="scan done"'
    assert list(parse_logfmt(line)) == ["ts", "level", "logger", "msg"]


@pytest.mark.parametrize(("level", "name"), [(logging.DEBUG, "debug"), (logging.INFO, "info"),
                                             (logging.WARNING, "warn"), (logging.ERROR, "error"),
                                             (logging.CRITICAL, "error"), (5, "debug")])
def test_levels_are_the_four_lower_case_names(level, name):
    assert parse_logfmt(LogfmtFormatter().format(record("x", level=level)))["level"] == name
    assert json.loads(JsonFormatter().format(record("x", level=level)))["level"] == name


def test_timestamps_are_utc_with_milliseconds_whatever_the_local_zone(monkeypatch):
    import time
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        assert parse_logfmt(LogfmtFormatter().format(record("x", created=0.0015)))["ts"] == "1970-01-01T00:00:00.001Z"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize(("value", "written"), [
    ("plain", "plain"), ("two words", '"two words"'), ("a=b", '"a=b"'), ('say "hi"', '"say \\"hi\\""'),
    ("", '""'), (None, '""'), (3, "3"), (0.25, "0.25"), (True, "true"), ("back\\slash", '"back\\\\slash"'),
    ("line\nbreak", '"line\\nbreak"'), ("\x1b[2J", '"\\x1b[2J"'), ("\x9b", '"\\u009b"'), ("\x7f", '"\\x7f"'),
    ("\u2028", '"\\u2028"'), ("\udcff", '"\\udcff"'), ("tab\there", '"tab\\there"'), ("é", "é")])
def test_logfmt_values_are_quoted_and_escaped_where_needed(value, written):
    assert logfmt_value(value) == written


def test_forged_text_stays_on_one_line_and_reads_back_unchanged():
    line = LogfmtFormatter().format(record("%s: unexpected prompt", FORGED, level=logging.WARNING))
    pairs = parse_logfmt(line)
    assert pairs["msg"] == f"{FORGED}: unexpected prompt"
    assert list(pairs) == ["ts", "level", "logger", "msg"] and pairs["level"] == "warn"
    assert line.isprintable() and "\x1b" not in line
    document = JsonFormatter().format(record("%s", FORGED))
    assert document.isascii() and document.isprintable()
    assert json.loads(document)["msg"] == FORGED


def test_extra_fields_become_pairs_and_cannot_overwrite_the_fixed_ones():
    line = LogfmtFormatter().format(record("scan done", extra={
        "files_ok": 3, "seconds": 0.5, "scan": "initial", "ts": "forged", "level": "error", "odd key=": "v"}))
    pairs = parse_logfmt(line)
    assert pairs["ts"] != "forged" and pairs["level"] == "info"
    assert (pairs["files_ok"], pairs["seconds"], pairs["scan"]) == ("3", "0.5", "initial")
    assert (pairs["extra_ts"], pairs["extra_level"], pairs["odd_key_"]) == ("forged", "error", "v")
    document = json.loads(JsonFormatter().format(record("scan done", extra={"files_ok": 3, "ok": True})))
    assert document == {"ts": "2026-12-02T06:04:07.326Z", "level": "info", "logger": "lic_exporter.test",
                        "msg": "scan done", "files_ok": 3, "ok": True}


def _failure() -> tuple:
    try:
        raise ValueError("bad value\nsecond line")
    except ValueError:
        return sys.exc_info()


def test_an_exception_is_one_err_field_its_summary_unless_debug():
    short = parse_logfmt(LogfmtFormatter().format(record("failed", level=logging.ERROR, exc_info=_failure())))
    assert short["err"] == "ValueError: bad value\nsecond line"
    full = LogfmtFormatter(traceback_in_err=True).format(record("failed", level=logging.ERROR, exc_info=_failure()))
    err = parse_logfmt(full)["err"]
    assert err.startswith("Traceback (most recent call last):") and "in _failure" in err
    assert err.endswith("ValueError: bad value\nsecond line")
    document = json.loads(JsonFormatter(traceback_in_err=True).format(
        record("failed", level=logging.ERROR, exc_info=_failure())))
    assert document["err"].startswith("Traceback")


# ---------------------------------------------------------------- configure_logging

def test_configure_logging_is_idempotent_and_third_party_loggers_say_only_warnings(capsys):
    for _ in range(3):
        configure_logging("debug", "logfmt")
    logging.getLogger("lic_exporter.test").debug("once")
    logging.getLogger("watchdog.observers").info("chatter")
    logging.getLogger("asyncssh").debug("chatter")
    logging.getLogger("asyncssh").warning("a warning")
    lines = capsys.readouterr().err.splitlines()
    assert [parse_logfmt(line)["msg"] for line in lines] == ["once", "a warning"]
    configure_logging("warn", "json")
    logging.getLogger("lic_exporter.test").info("not at warn")
    logging.getLogger("lic_exporter.test").warning("at warn")
    assert [json.loads(line)["msg"] for line in capsys.readouterr().err.splitlines()] == ["at warn"]


# ---------------------------------------------------------------- the daemon's real stderr

def _fleet(folder: Path, count: int) -> Path:
    """`count` devices, one file each (the fixture's prompt renamed for each)."""
    folder.mkdir()
    text = (SHOW_FIXTURES / "communication_failed.txt").read_text()
    for number in range(count):
        (folder / f"nx-leaf{number:02d}.txt").write_text(text.replace("n9k-spine-01#", f"nx-leaf{number:02d}#"))
    return folder


def _serve_log(*args: str) -> str:
    daemon = Daemon(*args)
    try:
        daemon.wait_ready()
    finally:
        code, err = daemon.stop()
    assert code == 0, err
    return err


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
def test_every_line_the_daemon_writes_parses(tmp_path, log_format):
    fleet = _fleet(tmp_path / "fleet", 3)
    forged = fleet / "nx-leaf09\nts=2026-12-02T00:00:00.000Z level=error msg=forged\x1b[2J.txt"
    forged.write_text((fleet / "nx-leaf00.txt").read_text().replace("nx-leaf00#", "nx-leaf09#"))
    err = _serve_log("--watch", str(fleet), "--syslog", str(tmp_path / "logs" / "*.lgo"), "--log.format", log_format,
                     "--log.level", "debug")
    lines = err.splitlines()
    assert len(lines) >= 4, err
    read = parse_logfmt if log_format == "logfmt" else json.loads
    for line in lines:
        pairs = read(line)
        assert TS.fullmatch(pairs["ts"]) and pairs["level"] in LEVELS and pairs["msg"], line
        assert pairs["logger"].startswith("lic_exporter"), line
    messages = [read(line)["msg"] for line in lines]
    assert "scan done" in messages and "stopping" in messages
    assert any(str(forged) in message for message in messages)  # its name logged whole, on one line
    assert "\x1b" not in err and not any(line.startswith("ts=2026-12-02T00:00:00.000Z") for line in lines)


def test_at_info_a_scan_logs_one_summary_line_not_one_per_file(tmp_path):
    fleet = _fleet(tmp_path / "fleet", 6)
    lines = [parse_logfmt(line) for line in _serve_log("--watch", str(fleet), "--log.level", "info").splitlines()]
    summaries = [pairs for pairs in lines if pairs["msg"] == "scan done"]
    assert len(summaries) == 1
    summary = summaries[0]
    assert (summary["scan"], summary["files_ok"], summary["files_with_errors"], summary["devices"]) == (
        "initial", "6", "0", "6")
    assert float(summary["seconds"]) >= 0
    assert not [pairs for pairs in lines if "nx-leaf" in pairs["msg"]]  # no line per file at info
    assert len(lines) <= 4  # listening, scan done, stopping (and nothing per file)


def _read_until(daemon: Daemon, wanted: str, timeout: float = 30.0) -> str:
    """The daemon's stderr as it comes, up to and including a line holding `wanted` (read from
    the pipe's descriptor: the test must not block on a daemon that stays silent)."""
    import os
    import selectors
    import time

    stderr = daemon.process.stderr
    assert stderr is not None
    read = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stderr, selectors.EVENT_READ)
        while wanted.encode() not in read.rsplit(b"\n", 1)[0]:
            assert time.monotonic() < deadline, f"{wanted!r} not logged: {read.decode()}"
            if selector.select(timeout=1.0):
                chunk = os.read(stderr.fileno(), 65536)
                assert chunk, f"the daemon closed stderr: {read.decode()}"
                read += chunk
    return read.decode()


def test_a_reload_logs_its_own_summary(tmp_path):
    import signal

    fleet = _fleet(tmp_path / "fleet", 2)
    daemon = Daemon("--watch", str(fleet), "--log.level", "info")
    try:
        daemon.wait_ready()
        daemon.process.send_signal(signal.SIGHUP)
        err = _read_until(daemon, "scan=reload")
    finally:
        daemon.stop()
    scans = [pairs for pairs in map(parse_logfmt, err.splitlines()) if pairs["msg"] == "scan done"]
    assert [(pairs["scan"], pairs["files_ok"]) for pairs in scans] == [("initial", "2"), ("reload", "2")]


# ---------------------------------------------------------------- collection rounds

class _Session:
    """Stands in for the SSH session (the log lines of the loop are under test here; SSH has its
    own end-to-end tests): one device fails, the others return a transcript."""

    def __init__(self, failing: str):
        self.failing = failing

    async def __call__(self, target: Target, secret: Secret) -> str:
        from lic_exporter.collect.failures import CollectError

        await asyncio.sleep(0)
        if target.name == self.failing:
            raise CollectError("connect", "connection refused")
        return (SHOW_FIXTURES / "communication_failed.txt").read_text()


def test_a_collection_round_is_one_info_line_devices_are_debug_failures_warn(tmp_path, caplog):
    credential = Credential("licmon", password="not-a-real-password")
    targets = tuple(Target(name=f"sw{number}", host="127.0.0.1", credential=credential) for number in range(5))
    config = CollectConfig(targets, CollectSettings(logins_per_second=1000.0))
    caplog.set_level(logging.DEBUG, logger="lic_exporter")
    loop = CollectLoop(config, tmp_path, session=_Session(failing="sw3"), seed=1)
    loop.start()
    try:
        wait_for(lambda: any(r.getMessage() == "collection round done" for r in caplog.records), timeout=30)
    finally:
        loop.stop()
    mine = [r for r in caplog.records if r.name.startswith("lic_exporter.collect")]
    info = [r for r in mine if r.levelno == logging.INFO]
    assert [r.getMessage() for r in info] == ["collection round done"]
    summary = info[0]
    assert (summary.collected, summary.failed, summary.skipped) == (4, 1, 0)
    assert sorted(r.getMessage().split(":")[0] for r in mine if r.levelno == logging.DEBUG
                  and "collected in" in r.getMessage()) == ["sw0", "sw1", "sw2", "sw4"]
    assert [r.getMessage().split(":")[0] for r in mine if r.levelno == logging.WARNING] == ["sw3"]
    assert "not-a-real-password" not in caplog.text
