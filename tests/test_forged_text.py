"""Nothing a device or a file says is trusted as text: a forged log record (a line end, then
`ts=... level=error ... msg="FORGED..."`, with terminal escapes and carriage returns) sent
through every way text from outside reaches the daemon's output stays inside the one line of
the record that quotes it, and never drives the operator's terminal.

The ways in: an SSH disconnect reason, a refused session channel (two codes), a `% Invalid
command` line and a session-limit line from test switches; the name of a file in a watched
folder (one that fails to parse, one that parses); a value inside a file that becomes a label;
the host name of a syslog line; a target's name in the configuration. The real daemon runs
them all at once, in logfmt and in JSON, and its stderr, /metrics and status page are read."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import asyncssh
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.daemon import series, wait_for
from tests.support.paths import SHOW_FIXTURES
from tests.support.switches import SwitchFarm
from tests.test_logs import parse_logfmt
from tests.test_reload_storm import PASSWORD, ServeProcess, configuration, replace_file

FORGED_TS = "2026-12-02T06:14:07.326Z"
RECORD = f'ts={FORGED_TS} level=error logger=lic_exporter msg="FORGED record"'
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m"
FORGED = f"\n{RECORD}{ESCAPES}\r"  # ends a line, starts a record, rewrites the terminal
FORGED_IN_LINE = FORGED.replace("\n", "\r")  # the same inside one printed line
MARKUP = "<img src=x onerror=alert(1)>"
RAW_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # anything but \t and \n

SWITCHES = {
    "nx-disconnect": ({"after_login": "disconnect", "disconnect_reason": "Goodbye" + FORGED}, "disconnect"),
    "nx-refused": ({"session_limit": "channel",
                    "channel_refusal": (asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "No" + FORGED)}, "other"),
    "nx-shortage": ({"session_limit": "channel",
                     "channel_refusal": (asyncssh.OPEN_RESOURCE_SHORTAGE, "Maximum" + FORGED)}, "session_limit"),
    "nx-invalid": ({"reject": ("show license usage",), "invalid_text": "% Invalid command" + FORGED_IN_LINE},
                   "command"),
    "nx-limit": ({"session_limit": "text",
                  "session_limit_text": "% Maximum number of sessions reached" + FORGED_IN_LINE}, "session_limit"),
}


def status_without_prompts(**replaced: str) -> str:
    """A saved `show license status` without its prompt lines (its device comes from the file's
    name), with values replaced."""
    text = (SHOW_FIXTURES / "communication_failed.txt").read_text()
    text = "\n".join(line for line in text.splitlines() if "#" not in line) + "\n"
    for old, new in replaced.items():
        text = text.replace(old, new)
    return text


def hostile_files(root: Path) -> tuple[Path, Path]:
    """A watched folder and a syslog folder holding text that forges records."""
    fleet, logs = root / "fleet", root / "logs"
    fleet.mkdir()
    logs.mkdir()
    # Fails to parse: its name is in an error line and on the status page.
    (fleet / f"broken{FORGED}{MARKUP}.txt").write_text("Smart Licensing is ENABLED\n\nRegistration:\n"
                                                       "  Status: REGISTERED\n")
    # Parses: its name is the device's (up to the first dot) and in a debug line.
    (fleet / f"sw{ESCAPES}{MARKUP}.txt").write_text(status_without_prompts())
    # Values that become labels.
    (fleet / "labels.txt").write_text(status_without_prompts(**{
        "Example Networks Inc": f"ACME {MARKUP}{ESCAPES} Corp", "DC1-Fabric": f"DC1{FORGED_IN_LINE}"}))
    (logs / "switches.log").write_text(
        f"2026 Nov 20 10:00:01 evil{ESCAPES}host %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure "
        f"with the Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname/domain name{FORGED}\n"
        f"2026 Nov 20 10:00:02 evil{MARKUP}host2 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure "
        "with the Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname/domain name\n")
    return fleet, logs


@pytest.fixture(scope="module", params=["logfmt", "json"])
def forged(request, tmp_path_factory):
    """The daemon's stderr, /metrics and status page after every way in was tried."""
    root = tmp_path_factory.mktemp(f"forged-{request.param}")
    fleet, logs = hostile_files(root)
    with SwitchFarm() as farm:
        ports = {name: farm.add(password=PASSWORD, **behaviour).port for name, (behaviour, _) in SWITCHES.items()}
        config = root / "collect.yaml"
        text = configuration(ports, logins_per_second=50)
        # A target's name is file-supplied text too (it names a device and a transcript).
        yaml_escapes = ESCAPES.encode("unicode_escape").decode()  # YAML takes no raw control, even quoted
        text = text.replace("targets:\n", f'targets:\n  "nx-named{yaml_escapes}": {{host: 127.0.0.1, port: 1}}\n')
        replace_file(config, text)
        daemon = ServeProcess(root, "--watch", str(fleet), "--syslog", str(logs / "*.log"), "--config.file",
                              str(config), "--collect.dir", str(root / "out"), "--log.format", request.param,
                              level="debug")
        try:
            wait_for(daemon.ready, timeout=60)

            def every_target_failed() -> bool:
                samples = daemon.samples()
                return all(sum(series(samples, "lic_exporter_collect_failures_total", device=name, reason=reason))
                           for name, (_, reason) in SWITCHES.items())

            wait_for(every_target_failed, timeout=90)
            daemon.process.send_signal(signal.SIGHUP)  # a reload logs the warnings and file problems again
            wait_for(lambda: "scan=reload" in daemon.log() or '"scan": "reload"' in daemon.log(), timeout=30)
            metrics = daemon.get("/metrics")[1].decode()
            page = daemon.get("/")[1].decode()
        finally:
            assert daemon.stop() == 0
    return request.param, daemon.log_path.read_bytes().decode("utf-8", errors="strict"), metrics, page


def records(log_format: str, stderr: str) -> list[dict[str, object]]:
    """Every stderr line as the record it is; AssertionError for a line that is not one."""
    found: list[dict[str, object]] = []
    for line in stderr.splitlines():
        if log_format == "json":
            record = json.loads(line)
            assert isinstance(record, dict) and list(record)[:4] == ["ts", "level", "logger", "msg"], line
        else:
            record = dict(parse_logfmt(line))
        found.append(record)
    return found


def test_stderr_is_one_record_a_line_and_no_record_is_forged(forged):
    log_format, stderr, _, _ = forged
    assert not RAW_CONTROLS.search(stderr), "a raw control character reached stderr"
    found = records(log_format, stderr)
    assert found and all(record["ts"] != FORGED_TS for record in found)
    assert not [record for record in found if str(record["msg"]).startswith("FORGED")]
    assert not [line for line in stderr.splitlines() if line.lstrip().startswith(("ts=" + FORGED_TS, "FORGED"))]


def test_every_way_in_was_taken_and_said_on_the_exporters_own_line(forged):
    """The forged words are there (the text was not dropped), quoted inside a record the
    exporter wrote, for each switch and for the file that fails to parse."""
    log_format, stderr, _, _ = forged
    messages = [str(record["msg"]) for record in records(log_format, stderr)]
    for name in SWITCHES:
        said = [message for message in messages if message.startswith(f"{name}: collection failed")]
        assert said and all("FORGED record" in message for message in said), name
    assert any("/broken" in message and "FORGED record" in message and ".txt:4: " in message
               for message in messages)  # the file that fails to parse, named on its error's one line
    # The file that parses, named in a debug line: its escapes written as escapes.
    shown = [line for line in stderr.splitlines() if "parsed" in line and "onerror" in line]
    escaped = "\\u001b]0;owned\\u0007" if log_format == "json" else "\\x1b]0;owned\\x07"
    assert shown and all(escaped in line for line in shown)


def test_labels_carry_no_control_and_no_line_of_their_own(forged):
    _, _, metrics, _ = forged
    assert not RAW_CONTROLS.search(metrics)
    families = {family.name: family for family in text_string_to_metric_families(metrics)}  # the format holds
    assert "cisco_smartlic_info" in families
    for line in metrics.splitlines():
        assert line.startswith(("# HELP ", "# TYPE ", "cisco_smartlic_", "lic_exporter_", "process_",
                                "python_")), line
    devices = {sample.labels["device"] for family in families.values() for sample in family.samples
               if "device" in sample.labels}
    assert {"labels", *SWITCHES} <= devices
    for device in devices:
        assert device.isprintable() and "\x1b" not in device and "FORGED" not in device


def test_the_status_page_escapes_what_it_shows(forged):
    _, _, _, page = forged
    assert not RAW_CONTROLS.search(page)
    assert MARKUP not in page and "<img" not in page  # markup from a file name or a label is text on the page
    assert "FORGED record" in page  # the broken file is listed, its name escaped


def test_a_thread_that_dies_on_forged_words_is_one_record(capsys, monkeypatch):
    """serve logs a background thread's uncaught exception as one record (the default hook
    would print a raw traceback, the exception's words as they are, across several lines)."""
    import threading

    from lic_exporter.cli.logs import configure_logging
    from lic_exporter.cli.serve import _log_thread_death

    monkeypatch.setattr(threading, "excepthook", _log_thread_death)
    configure_logging("info", "logfmt")

    def dies() -> None:
        raise ValueError("device said" + FORGED)

    thread = threading.Thread(target=dies, name="settle")
    thread.start()
    thread.join()
    [line] = capsys.readouterr().err.splitlines()
    record = parse_logfmt(line)
    assert record["msg"] == "settle ended by an unexpected error" and "FORGED record" in record["err"]
    assert not RAW_CONTROLS.search(line)
