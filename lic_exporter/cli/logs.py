"""Log lines on stderr as the Prometheus exporters write them: one logfmt (or JSON) object per
line, `ts` in RFC 3339 UTC with milliseconds, lower-case levels (`debug`, `info`, `warn`, `error`).

    ts=2026-12-02T06:14:07.326Z level=info logger=lic_exporter msg="scan done" files_ok=1200

Everything a line holds is escaped so that it stays one line and carries no terminal control:
a switch's name, a file name or a syslog text may hold a newline (which would start a forged
log line) or an escape sequence (which would rewrite the operator's terminal). logfmt values
with a space, `=`, `"`, a backslash or any character that is not printable are quoted, and
inside the quotes `\\` and `"` are escaped, `\\n` `\\r` `\\t` written as such and every other
non-printable character as `\\xHH` (C0, DEL) or `\\uHHHH` (C1, line separators, bidi controls,
lone surrogates of undecodable file names). JSON lines are written with ensure_ascii (and DEL
escaped too).

Fields passed as `extra` (`log.info("scan done", extra={"files_ok": 3})`) follow `msg` as key
value pairs. An exception (`exc_info`) goes in one field, `err`: its one-line summary
(`ValueError: ...`) at every level but `debug`, where the whole traceback goes there instead,
escaped onto the same line.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
FORMATS = ("logfmt", "json")
THIRD_PARTY_LEVEL = logging.WARNING  # watchdog and asyncssh: only what goes wrong
_FIXED = ("ts", "level", "logger", "msg", "err")
# What every LogRecord carries: anything else on a record came from `extra`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def level_name(levelno: int) -> str:
    """The four level names of the Prometheus exporters; CRITICAL counts as error."""
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    return "info" if levelno >= logging.INFO else "debug"


def timestamp(created: float) -> str:
    """RFC 3339 in UTC with milliseconds: 2026-12-02T06:14:07.326Z."""
    moment = datetime.fromtimestamp(created, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _escaped(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def logfmt_value(value: object) -> str:
    """One logfmt value, quoted where it needs to be."""
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text and text.isprintable() and not any(char in text for char in ' ="\\'):
        return text
    return '"' + "".join(_escaped(char) for char in text) + '"'


def _logfmt_key(key: str) -> str:
    """A key as logfmt can carry it: no space, `=`, `"` or non-printable character."""
    cleaned = "".join(char if char.isprintable() and char not in ' ="\\' else "_" for char in key)
    return cleaned or "_"


class _Fields:
    """What one record says, as ordered key -> value pairs (the formatters write them)."""

    def __init__(self, traceback_in_err: bool):
        self.traceback_in_err = traceback_in_err

    def __call__(self, record: logging.LogRecord) -> list[tuple[str, object]]:
        fields: list[tuple[str, object]] = [
            ("ts", timestamp(record.created)), ("level", level_name(record.levelno)),
            ("logger", record.name), ("msg", record.getMessage())]
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                fields.append((f"extra_{key}" if key in _FIXED else key, value))
        error = self._error(record)
        if error is not None:
            fields.append(("err", error))
        return fields

    def _error(self, record: logging.LogRecord) -> str | None:
        if record.exc_info and record.exc_info[1] is not None:
            kind, exc, trace = record.exc_info
            if self.traceback_in_err:
                return "".join(traceback.format_exception(kind, exc, trace)).rstrip("\n")
            return "".join(traceback.format_exception_only(kind, exc)).strip()
        if record.exc_text:
            return record.exc_text
        return None


class LogfmtFormatter(logging.Formatter):
    def __init__(self, traceback_in_err: bool = False):
        super().__init__()
        self._fields = _Fields(traceback_in_err)

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{_logfmt_key(key)}={logfmt_value(value)}" for key, value in self._fields(record))


class JsonFormatter(logging.Formatter):
    def __init__(self, traceback_in_err: bool = False):
        super().__init__()
        self._fields = _Fields(traceback_in_err)

    def format(self, record: logging.LogRecord) -> str:
        document = {key: _json_value(value) for key, value in self._fields(record)}
        # ensure_ascii escapes every control character but DEL, which is ASCII.
        return json.dumps(document, ensure_ascii=True).replace("\x7f", "\\u007f")


def _json_value(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (tests swap it), one line per
    record."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str, log_format: str) -> None:
    """Send lic_exporter's log lines at `level` and above, and third-party lines at warn and
    above, to stderr in `log_format` (logfmt or json). Calling it again replaces what an
    earlier call set up (main() runs many times in one test process)."""
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r}: expected {', '.join(LEVELS)}")
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: expected {', '.join(FORMATS)}")
    root = logging.getLogger()
    for handler in [handler for handler in root.handlers if isinstance(handler, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    debug = level == "debug"
    handler.setFormatter(JsonFormatter(debug) if log_format == "json" else LogfmtFormatter(debug))
    root.addHandler(handler)
    # The root's level is what third-party loggers inherit; lic_exporter sets its own.
    root.setLevel(max(THIRD_PARTY_LEVEL, LEVELS[level]))
    for name in ("watchdog", "asyncssh"):
        logging.getLogger(name).setLevel(max(THIRD_PARTY_LEVEL, LEVELS[level]))
    logging.getLogger("lic_exporter").setLevel(LEVELS[level])
