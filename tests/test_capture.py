"""Reading saved files: prompts, cleaning, device names, capture times."""

from pathlib import Path

import pytest

from lic_exporter.sources.capture import clean_line, device_name, read_capture


@pytest.mark.parametrize(("raw", "clean"), [
    ("  Status: REGISTERED   \r\n", "  Status: REGISTERED"),
    ("\x1b[1mLicense Authorization:\x1b[0m\n", "License Authorization:"),
    (" --More-- \x08\x08\x08\x08\x08\x08\x08\x08\x08\x08          \x08\x08\x08\x08\x08\x08\x08\x08\x08\x08  Count: 1",
     "  Count: 1"),
    ("--More--\r        \r  Version: 1.0\n", "  Version: 1.0"),
])
def test_clean_line(raw: str, clean: str) -> None:
    assert clean_line(raw) == clean


@pytest.mark.parametrize(("host", "device"), [
    ("NX-DC1-Leaf01.example.net", "nx-dc1-leaf01"),
    ("10.1.2.3", "10.1.2.3"),
    ("2001:db8::1", "2001:db8::1"),
    ("n9k", "n9k"),
])
def test_device_name(host: str, device: str) -> None:
    assert device_name(host) == device


def test_session_is_split_at_prompts(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    path.write_text("banner\nsw1# show clock\n12:00:00.000 UTC Mon Mar 02 2026\nsw1(config)# end\n"
                    "sw1# show license status\nline a\nline b\nsw1#\n")
    capture = read_capture(path)
    commands = [(s.command, s.host, s.first_line, s.lines) for s in capture.sections]
    assert commands == [
        (None, None, 1, ["banner"]),
        ("show clock", "sw1", 3, ["12:00:00.000 UTC Mon Mar 02 2026"]),
        ("end", "sw1", 5, []),
        ("show license status", "sw1", 6, ["line a", "line b"]),
        (None, "sw1", 9, []),
    ]
    assert capture.printed_time is not None and capture.printed_time.isoformat() == "2026-03-02T12:00:00+00:00"


def test_exec_header_gives_capture_time_and_leaves_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("Load for five secs: 1%/0%; one minute: 0%\n"
                    "Time source is NTP, 15:09:55.102 UTC Wed Nov 10 2021\nX\n")
    section = read_capture(path).sections[0]
    assert section.lines == ["", "", "X"]
    assert section.captured_at is not None and section.captured_at.year == 2021


def test_redaction_of_secrets_in_free_text() -> None:
    from lic_exporter.sources.privacy import scrub

    text = ("proxy http://bob:S3cret@proxy:3128/x; contact noc@example.net; license smart register idtoken "
            "ZmFrZS10b2tlbg== force; password hunter2")
    cleaned = scrub(text)
    for secret in ("ZmFrZS10b2tlbg", "S3cret", "bob", "hunter2", "noc@example.net"):
        assert secret not in cleaned
    # What is not secret stays: the URL's host and path, the words before the keyword.
    assert cleaned == "proxy http://proxy:3128/x; contact <redacted> license smart register <redacted>"


def test_do_at_a_configuration_prompt_runs_the_command(tmp_path: Path) -> None:
    """`Router(config)#do sh license summary` ran `sh license summary`; at an exec prompt the
    typed text stays as typed (a `do` there is the device's to reject)."""
    path = tmp_path / "s.log"
    path.write_text("gw(config)#do sh license summary\nx\ngw(config-if)# DO  show clock\n"
                    "10:42:07.118 UTC Tue Jul 16 2030\ngw# do show clock\ny\ngw(config)#do\n")
    sections = read_capture(path).sections[1:]
    assert [(s.command, s.host) for s in sections] == [
        ("sh license summary", "gw"), ("show clock", "gw"), ("do show clock", "gw"), ("do", "gw")]
    assert sections[1].is_clock and read_capture(path).printed_time is not None
