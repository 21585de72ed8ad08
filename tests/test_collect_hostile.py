"""Hostile and odd switches (issue 17): nothing a switch prints, or how it logs in, may truncate
or split its transcript, reach a log line as if the exporter wrote it, keep a secret in a
transcript or message, or cost another device its collection.

Against the byte-mode test switches of tests/support/switches.py (every byte, pause, echo and
NUL under the test's control), on 127.0.0.1. Each saved transcript is parsed by the real parser.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import replace
from pathlib import Path

import asyncssh
import pytest

from lic_exporter.collect.device import collect_device
from lic_exporter.collect.failures import REASONS, CollectError
from lic_exporter.collect.platforms import COMMANDS, PAGER_KEY, allowed
from lic_exporter.collect.runner import CollectionRunner
from lic_exporter.collect.targets import CollectConfig, CollectSettings, Credential, Secret, Target
from lic_exporter.collect.transcript import write_transcript
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.results import FileResult
from lic_exporter.sources.capture import header_prompt_lines, read_capture
from lic_exporter.sources.printable import printable
from lic_exporter.sources.privacy import redact_session
from tests.support.switches import Switch, SwitchFarm, _SwitchServer, default_outputs

PASSWORD = "Planted-Pw-7c1e!x"  # the collector's password: never in a transcript, message or log
COMMUNITY = "C0mmunity-S3cret"
TYPE7 = "0822455D0A16"
ENABLE5 = "$1$mERr$hx5rVt7rPNoS4wqbXKX7m0"
TACACS = "Tacacs-K3y-91"
SNMP_AUTH, SNMP_PRIV = "Auth-Pass-5e1", "Priv-Pass-77a"
SECRETS = (PASSWORD, COMMUNITY, TYPE7, ENABLE5, TACACS, SNMP_AUTH, SNMP_PRIV)
# A forged log record, as a switch would slip it into a reason, a refusal or a line it prints.
FORGED = '\n ts=2026-12-02T00:00:00Z level=ERROR logger=lic_exporter msg="FORGED record"\x1b]0;owned\x07\x1b[2J\r'
FORGED_IN_LINE = FORGED.replace("\n", "\r")  # inside one printed line: CR, no LF
NXOS = COMMANDS["nxos"]


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def farm():
    with SwitchFarm() as switches:
        yield switches


@pytest.fixture(scope="module")
def parser():
    return Parser()


@pytest.fixture
def make_switch(farm):
    """A new switch; afterwards it must have had no failure of its own and received only
    allowed lines and pager keys."""
    made = []

    def make(**config):
        config.setdefault("password", PASSWORD)
        switch = farm.add(**config)
        made.append(switch)
        return switch

    yield make
    for switch in made:
        assert switch.errors == []
        assert [line for line in switch.received if not allowed(line)] == []
        assert set(switch.keys) <= {PAGER_KEY}


@pytest.fixture(autouse=True)
def nothing_leaks_to_the_log(caplog):
    """No log record holds a planted secret; no record of the exporter's own holds a line end
    or an escape a device sent (asyncssh's own debug records are the log configuration's)."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        text = record.getMessage()
        for secret in SECRETS:
            assert secret not in text, f"secret in a log record of {record.name}"
        if record.name.startswith("lic_exporter"):
            assert "\n ts=" not in text and "\x1b" not in text and "\r" not in text, text


def target_for(switch, **changes) -> Target:
    target = Target(name="nx-lab-01", host=switch.host, port=switch.port, platform=switch.config.platform,
                    credential=Credential("licmon", password=PASSWORD), host_key_policy="insecure", known_hosts=None,
                    connect_timeout=5.0, command_timeout=5.0, device_timeout=20.0)
    return replace(target, **changes)


def collect(target: Target, secret: Secret | None = None) -> str:
    text = asyncio.run(collect_device(target, secret or Secret(password=PASSWORD)))
    assert PASSWORD not in text
    return text


def collect_fails(target: Target, reason: str, secret: Secret | None = None) -> CollectError:
    with pytest.raises(CollectError) as caught:
        asyncio.run(collect_device(target, secret or Secret(password=PASSWORD)))
    error = caught.value
    assert error.reason == reason, error.message
    assert error.message.isprintable(), error.message
    assert not any(secret in error.message for secret in SECRETS)
    return error


def parse(parser: Parser, tmp_path: Path, text: str, name: str = "nx-lab-01") -> tuple[str, FileResult]:
    """The transcript as saved (the collector's own write), and what the parser makes of it."""
    path = write_transcript(tmp_path, name, text)
    return path.read_text(), parser.parse_file(path)


def record(result: FileResult, command: str):
    [found] = [r for r in result.records if r.command == command]
    return found


def output_of(text: str, prompt: str, command: str) -> str:
    """What the transcript holds between the prompt line of `command` and the next prompt line
    the header lists."""
    header, _, body = text.partition("\n")
    lines = body.split("\n")
    marked = sorted(header_prompt_lines(header) or ())
    start = next(n for n in marked if lines[n - 2] == prompt + command)
    end = marked[marked.index(start) + 1]
    return "".join(line + "\n" for line in lines[start - 1:end - 2])


def with_line_before(output: str, marker: str, inserted: list) -> list:
    """`output` as pieces, with `inserted` (text and pauses) before the line starting `marker`."""
    at = output.index(marker)
    return [output[:at], *inserted, output[at:]]


# ---------------------------------------------------------------------------------------------
# Where a command's output ends
# ---------------------------------------------------------------------------------------------

def test_a_prompt_like_line_and_a_pause_in_the_last_command_does_not_end_it(make_switch, parser, tmp_path):
    plain = default_outputs("nxos")
    outputs = dict(plain)
    callhome = plain["show callhome"]
    outputs["show callhome"] = with_line_before(callhome, "periodic inventory :", ["pin-last# ", 0.5, "\n"])
    switch = make_switch(hostname="pin-last", outputs=outputs)
    text = collect(target_for(switch))
    cut = callhome.index("periodic inventory :")
    assert output_of(text, "pin-last# ", "show callhome") == callhome[:cut] + "pin-last# \n" + callhome[cut:]
    assert text.endswith("\npin-last#\n")
    _, result = parse(parser, tmp_path, text)
    assert result.ok, result.issues
    (tmp_path / "plain").mkdir()
    reference = parse(parser, tmp_path / "plain", collect(target_for(make_switch(hostname="pin-last"))))[1]
    assert [r.command for r in result.records] == [r.command for r in reference.records]


def test_a_prompt_like_line_in_a_middle_command_does_not_split_its_section(make_switch, parser, tmp_path):
    outputs = dict(default_outputs("nxos"))
    outputs["show license status"] = with_line_before(outputs["show license status"], "License Authorization:",
                                                      ["pin-mid# ", 0.5, "\n"])
    switch = make_switch(hostname="pin-mid", outputs=outputs)
    text = collect(target_for(switch))
    saved, result = parse(parser, tmp_path, text)
    assert result.ok, result.issues
    status = record(result, "show license status")
    assert status.authorization is not None and status.authorization.state_text == "AUTHORIZED"
    assert [line for line in saved.splitlines() if line.startswith("pin-mid#")] == \
        [f"pin-mid# {command}" for command in NXOS[:2]] + ["pin-mid# "] + [f"pin-mid# {c}" for c in NXOS[2:]] + \
        ["pin-mid#"]
    # The header is what keeps the section whole: without its prompt lines the parser guesses
    # prompts again, and the authorization block falls out of the section.
    header, body = saved.split("\n", 1)
    guessed = tmp_path / "guessed.log"
    guessed.write_text(header.split(" prompts=")[0] + "\n" + body)
    sections = {section.command: section for section in read_capture(guessed).sections}
    assert "License Authorization:" not in sections["show license status"].lines


def test_pager_prompts_are_removed_only_where_they_were_answered(make_switch, parser, tmp_path):
    outputs = dict(default_outputs("nxos"))
    data = "  Status: Not started --More-- (see docs)"
    status = outputs["show license status"].replace("  Status: Not started", data)
    # The data's --More-- ends one write (so it may end a chunk), with no pause after it.
    outputs["show license status"] = status.replace("--More-- (", "--More-- \0(").split("\0")
    switch = make_switch(outputs=outputs, honour_terminal_length=False, page_lines=8)
    text = collect(target_for(switch))
    assert switch.keys and set(switch.keys) == {PAGER_KEY}  # the switch's own pager was answered...
    assert "\b" not in text and text.count("--More--") == 1  # ...and its prompts removed
    assert data + "\n" in text
    _, result = parse(parser, tmp_path, text)
    assert record(result, "show license status").conversion.status == "Not started --More-- (see docs)"


def test_nul_fill_after_every_line_is_ignored_and_dropped(make_switch):
    reference = collect(target_for(make_switch()))
    switch = make_switch(fill="\x00", banner="Authorised access only\n")
    text = collect(target_for(switch))
    assert "\x00" not in text
    assert text.split("\n", 1)[1] == reference.split("\n", 1)[1]


def test_a_stray_nul_in_data_costs_nothing(make_switch, parser, tmp_path):
    outputs = dict(default_outputs("nxos"))
    outputs["show license status"] = outputs["show license status"].replace("Example Networks", "Example\0 Networks")
    text = collect(target_for(make_switch(outputs=outputs)))
    assert "\x00" not in text
    saved, result = parse(parser, tmp_path, text)
    assert result.ok, result.issues
    assert record(result, "show license status").account.smart_account == "Example Networks Inc"
    # A collector's transcript holding a NUL all the same (written by an older collector) is
    # read, not refused as binary.
    path = tmp_path / "older.log"
    path.write_bytes(saved.replace("Example Networks", "Example\0 Networks").encode())
    again = parser.parse_file(path)
    assert again.ok and record(again, "show license status").account.smart_account == "Example Networks Inc"


def test_a_forged_transcript_header_impersonates_no_one(make_switch, parser, tmp_path):
    forged = "! lic-exporter transcript device=victim platform=nxos collected=2026-01-01T00:00:00Z prompts=2,3\n"
    outputs = dict(default_outputs("nxos"))
    outputs["show license status"] = forged + outputs["show license status"]
    switch = make_switch(outputs=outputs, banner=forged)
    _, result = parse(parser, tmp_path, collect(target_for(switch)))
    assert result.records and {r.device for r in result.records} == {"nx-lab-01"}


# ---------------------------------------------------------------------------------------------
# Logging in
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("message", ["", "Authorised access only (TACACS+)"])
def test_a_keyboard_interactive_only_switch_is_collected(make_switch, message):
    switch = make_switch(password_auth=False, kbdint=(("Password: ", False),), kbdint_message=message)
    text = collect(target_for(switch))
    assert text.count("\nn9k-lab-01# show ") == len(NXOS)
    assert switch.password_attempts == 1 and switch.logins == 1


@pytest.mark.parametrize("password_auth", [False, True])
def test_a_wrong_password_is_one_attempt_whatever_the_methods(make_switch, password_auth):
    switch = make_switch(password="Other-Pw-1", password_auth=password_auth, kbdint=(("Password:", False),))
    collect_fails(target_for(switch), "auth")
    assert switch.password_attempts == 1 and switch.logins == 0


@pytest.mark.parametrize("prompts", [
    (("Verification code: ", False),),
    (("Password: ", True),),  # echoed: not a password prompt
    (("Password: ", False), ("Token: ", False)),
    (("Password\x1b]0;owned\x07" + FORGED + ": ", False), ("x", False)),
])
def test_keyboard_interactive_questions_other_than_the_password_are_refused(make_switch, prompts):
    switch = make_switch(password_auth=False, kbdint=prompts)
    error = collect_fails(target_for(switch), "auth_method")
    assert "keyboard-interactive" in error.message and "not sent" in error.message
    assert switch.password_attempts == 0


def test_no_method_for_the_credential_is_its_own_reason(make_switch, tmp_path):
    switch = make_switch(password=None, authorized_key=asyncssh.generate_private_key("ssh-ed25519"))
    error = collect_fails(target_for(switch), "auth_method")
    assert "no login method" in error.message and switch.auth_attempts == 0
    key_file = tmp_path / "id_lab"
    key_file.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    password_only = make_switch()
    target = target_for(password_only, credential=Credential("licmon", key_file=key_file))
    assert "key" in collect_fails(target, "auth_method", Secret(key_file=key_file)).message
    assert password_only.auth_attempts == 0


def _runner(switches, tmp_path: Path, names: str) -> CollectionRunner:
    targets = tuple(target_for(switch, name=f"{names}{n}") for n, switch in enumerate(switches))
    settings = replace(CollectSettings(), concurrency=4, logins_per_second=1000.0, suspend_after=5)
    return CollectionRunner(CollectConfig(targets=targets, collect=settings), tmp_path)


def test_keyboard_interactive_or_methodless_switches_do_not_suspend_the_credential(make_switch, tmp_path):
    kbdint = [make_switch(password_auth=False, kbdint=(("Password: ", False),)) for _ in range(5)]
    methodless = [make_switch(password=None, authorized_key=asyncssh.generate_private_key("ssh-ed25519"))
                  for _ in range(5)]
    healthy = make_switch()
    runner = _runner([*kbdint, *methodless, healthy], tmp_path, "sw")
    first = asyncio.run(runner.run_once(runner.config.targets[:10]))
    assert [r.reason for r in first] == [None] * 5 + ["auth_method"] * 5
    assert runner.guard.suspended_until == {}
    [last] = asyncio.run(runner.run_once(runner.config.targets[10:]))  # not skipped: collected
    assert last.ok and last.device == "sw10"
    assert runner.status["sw5"].failures["auth_method"] == 1 and runner.status["sw5"].auth_failures_in_a_row == 0


def test_five_refusals_of_the_password_do_suspend_it(make_switch, tmp_path):
    """The contrast: a credential the devices saw and refused is what suspension is for."""
    refusing = [make_switch(password="Other-Pw-1") for _ in range(5)]
    runner = _runner([*refusing, make_switch()], tmp_path, "sw")
    assert [r.reason for r in asyncio.run(runner.run_once(runner.config.targets[:5]))] == ["auth"] * 5
    assert asyncio.run(runner.run_once(runner.config.targets[5:])) == []  # skipped: suspended
    assert all(switch.password_attempts == 1 for switch in refusing)


@pytest.mark.parametrize(("behaviour", "reason"), [
    ({"after_login": "close"}, "disconnect"),
    ({"after_login": "disconnect", "disconnect_reason": "Goodbye"}, "disconnect"),
    ({"after_login": "disconnect", "disconnect_reason": "Maximum number of sessions reached"}, "session_limit"),
    ({"after_login": "disconnect", "disconnect_code": asyncssh.DISC_TOO_MANY_CONNECTIONS}, "session_limit"),
    ({"session_limit": "channel", "channel_refusal": (asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "no shell")},
     "other"),
])
def test_a_switch_that_closes_after_the_login_is_a_session_limit_only_if_it_says_so(make_switch, behaviour, reason):
    switch = make_switch(**behaviour)
    error = collect_fails(target_for(switch), reason)
    assert switch.logins == 1 and switch.received == []
    if reason == "disconnect":
        assert "right after the login" in error.message


# ---------------------------------------------------------------------------------------------
# The device's words in messages and logs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("behaviour", "reason"), [
    ({"after_login": "disconnect", "disconnect_reason": "Goodbye" + FORGED}, "disconnect"),
    ({"disconnect_at_login": True, "disconnect_reason": "Goodbye" + FORGED}, "other"),
    ({"session_limit": "channel", "channel_refusal": (asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "No" + FORGED)},
     "other"),
    ({"session_limit": "channel", "channel_refusal": (asyncssh.OPEN_RESOURCE_SHORTAGE, "Maximum" + FORGED)},
     "session_limit"),
    ({"reject": ("show license usage",), "invalid_text": "% Invalid command" + FORGED_IN_LINE}, "command"),
    ({"session_limit": "text", "session_limit_text": "% Maximum number of sessions reached" + FORGED_IN_LINE},
     "session_limit"),
])
def test_forged_log_records_stay_escaped_in_the_message(make_switch, tmp_path, caplog, behaviour, reason):
    switch = make_switch(**behaviour)
    error = collect_fails(target_for(switch), reason)
    assert "FORGED record" in error.message and "\\x1b" in error.message
    [result] = asyncio.run(_runner([switch], tmp_path, "forged").run_once())
    assert result.reason == reason and result.message.isprintable()
    logged = [r.getMessage() for r in caplog.records if r.name == "lic_exporter.collect"]
    assert any("FORGED record" in line for line in logged)  # said, on the exporter's one line
    assert not any("\n" in line or "\x1b" in line for line in logged)


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain words", "plain words"),
    ("one\r\n\r\ntwo\nthree", "one two three"),
    ("bell\x07 esc\x1b[2J tab\t del\x7f", "bell\\x07 esc\\x1b[2J tab\\t del\\x7f"),
    ("bidi\u202eevil\u2028line", "bidi\\u202eevil line"),
    ("x" * 500, "x" * 197 + "..."),
])
def test_printable_is_one_safe_line(raw, shown):
    assert printable(raw) == shown
    assert printable(raw).isprintable() and len(printable(raw)) <= 200


def test_reasons_are_the_vocabulary():
    assert "auth_method" in REASONS and "auth" in REASONS


# ---------------------------------------------------------------------------------------------
# Secrets the switch printed
# ---------------------------------------------------------------------------------------------

RUNNING_SECRETS = f"""\
username licmon password 0 {PASSWORD} role network-operator
username admin password 7 {TYPE7} role network-admin
enable secret 5 {ENABLE5}
tacacs-server key 7 "{TACACS}"
tacacs-server host 192.0.2.10 key {TACACS}
snmp-server community {COMMUNITY} group network-operator
snmp-server user monitor network-operator auth sha {SNMP_AUTH} priv aes-128 {SNMP_PRIV}
key chain ospf
  key 1
    key-string 7 {TYPE7}
"""


def test_transcripts_and_messages_hold_no_secret(make_switch, tmp_path, parser):
    outputs = dict(default_outputs("nxos"))
    outputs["show running-config callhome"] = RUNNING_SECRETS + outputs["show running-config callhome"]
    outputs["show clock"] = outputs["show clock"] + f"  (configured by {PASSWORD})\n"  # the password, bare
    printed = make_switch(outputs=outputs)
    quoted = make_switch(reject=("show license usage",),
                         invalid_text=f"% Invalid command at 'snmp-server community {COMMUNITY} ro' {PASSWORD}")
    results = asyncio.run(_runner([printed, quoted], tmp_path, "sw").run_once())
    assert [r.reason for r in results] == [None, "command"]
    assert not any(secret in results[1].message for secret in SECRETS)
    assert "snmp-server community <redacted>" in results[1].message
    saved = (tmp_path / "sw0.log").read_text()
    assert not [secret for secret in SECRETS if secret in saved]
    for kept in ("username licmon password 0 <redacted> role network-operator", "enable secret 5 <redacted>",
                 "snmp-server community <redacted> group network-operator", "key-string 7 <redacted>",
                 "  key 1\n", "(configured by <redacted>)"):
        assert kept in saved
    result = parser.parse_file(tmp_path / "sw0.log")
    assert result.ok and {r.command for r in result.records} >= {"show license status", "show license usage"}


# Every secret-carrying line the issue names, in its NX-OS and its IOS-XE spelling, with the value
# the switch printed (`S3cr` in each) and what the transcript keeps.
CONFIG_LINES = [
    ("username licmon password 0 S3cr-a role network-operator", "username licmon password 0 <redacted> role "
     "network-operator"),
    ("username admin password 5 $5$S3cr$b role network-admin",
     "username admin password 5 <redacted> role network-admin"),
    ("username admin privilege 15 secret 9 $9$S3cr$c", "username admin privilege 15 secret 9 <redacted>"),
    ("username ops privilege 1 password S3cr-d", "username ops privilege 1 password <redacted>"),
    ("enable secret 5 $1$S3cr$e", "enable secret 5 <redacted>"),
    ("enable secret S3cr-f", "enable secret <redacted>"),
    ("enable password level 15 S3cr-g", "enable password level 15 <redacted>"),
    ("enable password 7 S3cr0822", "enable password 7 <redacted>"),
    ("snmp-server community S3cr-h group network-operator", "snmp-server community <redacted> group network-operator"),
    ("snmp-server community S3cr-i RO 10", "snmp-server community <redacted> RO 10"),
    ("snmp-server host 192.0.2.9 traps version 2c S3cr-j", "snmp-server host 192.0.2.9 traps version 2c <redacted>"),
    ("snmp-server user mon network-operator auth md5 0xS3cr1 priv 0xS3cr2 localizedkey",
     "snmp-server user mon network-operator auth md5 <redacted> priv <redacted> localizedkey"),
    ("snmp-server user mon grp v3 auth sha S3cr-k priv aes 128 S3cr-l",
     "snmp-server user mon grp v3 auth sha <redacted> priv aes 128 <redacted>"),
    ('tacacs-server key 7 "S3cr m"', "tacacs-server key 7 <redacted>"),
    ("tacacs-server host 192.0.2.10 key S3cr-n", "tacacs-server host 192.0.2.10 key <redacted>"),
    ("radius-server key S3cr-o", "radius-server key <redacted>"),
    ("radius-server host 192.0.2.11 key 7 S3cr0A16", "radius-server host 192.0.2.11 key 7 <redacted>"),
    (" key 7 S3cr0D06", " key 7 <redacted>"),  # in `tacacs server NAME` / `radius server NAME`
    (" key S3cr-p", " key <redacted>"),
    (" server-private 192.0.2.12 timeout 5 key S3cr-q", " server-private 192.0.2.12 timeout 5 key <redacted>"),
    ("crypto isakmp key S3cr-r address 192.0.2.13", "crypto isakmp key <redacted> address 192.0.2.13"),
    ("key chain ospf-keys", "key chain ospf-keys"),  # the chain's name and the key's number stay
    ("  key 1", "  key 1"),
    ("    key-string 7 S3cr0B17", "    key-string 7 <redacted>"),
    ("    key-string S3cr-s", "    key-string <redacted>"),
    (" ip ospf message-digest-key 1 md5 S3cr-t", " ip ospf message-digest-key 1 md5 <redacted>"),
    (" ip ospf authentication-key 7 S3cr0C18", " ip ospf authentication-key 7 <redacted>"),
    (" password 7 S3cr0E19", " password 7 <redacted>"),  # `line vty` on IOS-XE
    (" password S3cr-u", " password <redacted>"),
    (" neighbor 192.0.2.14 password S3cr-v", " neighbor 192.0.2.14 password <redacted>"),
    # Licensing output around them is kept as it is
    ("  Authorization Key: Not in use", "  Authorization Key: Not in use"),
    ("Smart Licensing Using Policy: ENABLED", "Smart Licensing Using Policy: ENABLED"),
    ("  Transport: Smart (default)", "  Transport: Smart (default)"),
]


@pytest.mark.parametrize(("line", "kept"), CONFIG_LINES)
def test_every_secret_carrying_configuration_line_is_redacted_whatever_prints_it(line, kept):
    assert redact_session(line) == kept
    assert "S3cr" not in redact_session(f"% Invalid command at '{line.strip()}'")  # a rejected line quoted back


# ---------------------------------------------------------------------------------------------
# Held: what the adversarial round found already handled, kept that way
# ---------------------------------------------------------------------------------------------

def test_held_a_huge_motd_escape_storms_and_long_lines_are_collected(make_switch, parser, tmp_path):
    outputs = dict(default_outputs("nxos"))
    storm = "\x1b[1;31m\x1b[0m\x1b]0;title\x07" * 20_000 + "\n"
    outputs["show license status"] = storm + "  Note: " + "x" * 100_000 + "\n" + outputs["show license status"]
    switch = make_switch(outputs=outputs, banner=("Authorised use only. " * 50 + "\n") * 5_000)  # 5 MB
    text = collect(target_for(switch))
    assert "Authorised use only" not in text and "x" * 100_000 in text
    _, result = parse(parser, tmp_path, text)
    assert record(result, "show license status").authorization.state_text == "AUTHORIZED"


def test_held_invalid_utf8_is_replaced_not_fatal(make_switch):
    outputs = dict(default_outputs("nxos"))
    outputs["show license usage"] = outputs["show license usage"].replace("\r\n", "\n").replace(
        "\n", "\r\n").encode().replace(b"Nexus", b"Ne\xff\xfexus")
    text = collect(target_for(make_switch(outputs=outputs)))
    assert "Ne\ufffd\ufffdxus" in text


def test_held_endless_output_is_cut_at_the_cap(make_switch):
    outputs = dict(default_outputs("nxos"))
    outputs["show license usage"] = [("x" * 99 + "\n") * 1_000] * 90  # 9 MB, from one 100 kB piece
    error = collect_fails(target_for(make_switch(outputs=outputs)), "other")
    assert "more than" in error.message


@pytest.mark.parametrize("question", ["Do you want to continue? [y/n] ", "Password: ", "Enter configuration "
                                      "commands, one per line.  End with CNTL/Z.\nswitch(config)# "])
def test_held_questions_are_never_answered(make_switch, question):
    outputs = dict(default_outputs("nxos"))
    outputs["show license status"] = [question, 30.0]
    switch = make_switch(outputs=outputs)
    collect_fails(target_for(switch, command_timeout=0.5), "timeout")
    assert switch.received == ["terminal length 0", "terminal width 511", "show clock", "show license status"]


AUTH_BANNER_PIECE = ("Authorised use only. " * 50 + "\n") * 20  # 21 kB: one SSH packet


class _AuthBannerServer(_SwitchServer):
    """The test switch, sending `pieces` SSH authentication banners of `piece` each before the
    login (as sshd's `Banner` does)."""

    def __init__(self, switch: Switch, pieces: int, piece: str):
        super().__init__(switch)
        self.pieces, self.piece = pieces, piece

    def begin_auth(self, username: str) -> bool:
        assert self.conn is not None
        for _ in range(self.pieces):
            self.conn.send_auth_banner(self.piece)
        return super().begin_auth(username)


class _AuthBannerSwitch(Switch):
    def __init__(self, farm: SwitchFarm, pieces: int, piece: str):
        super().__init__(farm, password=PASSWORD)
        self.banners = (pieces, piece)

    async def listen(self) -> None:
        server = functools.partial(_AuthBannerServer, self, *self.banners)
        self._listener = await asyncssh.create_server(server, self.host, self.port, options=self._options())
        self.port = self._listener.get_port()


def test_held_a_5_mb_auth_banner_is_no_part_of_the_transcript(farm):
    switch = _AuthBannerSwitch(farm, 250, AUTH_BANNER_PIECE).start()  # 5 MB in 250 banners
    text = collect(target_for(switch))
    assert "Authorised use only" not in text and text.count("\nn9k-lab-01# show ") == len(NXOS)
    one_packet = _AuthBannerSwitch(farm, 1, AUTH_BANNER_PIECE * 250).start()  # in one: past SSH's packet size
    error = collect_fails(target_for(one_packet), "other")
    assert "Authorised use only" not in error.message and one_packet.password_attempts == 0
    assert switch.errors == one_packet.errors == []


async def _lines_before_the_version(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes,
                                    pause: float) -> None:
    """`line` for ever, where an SSH server sends its version line (RFC 4253 allows a few
    lines before it)."""
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while True:
            writer.write(line)
            await writer.drain()
            await asyncio.sleep(pause)


@pytest.mark.parametrize(("line", "pause", "reason"), [
    (b"x" * 200 + b"\r\n", 0.0, "other"),  # a banner flood: refused at once
    (b"Welcome\r\n", 0.1, "timeout"),  # a trickle of banner lines: bounded by the connect timeout
    (b"S", 0.1, "timeout"),  # a version line a byte at a time, never ended
])
def test_held_banner_floods_and_trickling_ssh_servers_are_bounded(line, pause, reason):
    async def run() -> CollectError:
        server = await asyncio.start_server(functools.partial(_lines_before_the_version, line=line, pause=pause),
                                            "127.0.0.1", 0)
        target = Target(name="nx-lab-01", host="127.0.0.1", port=server.sockets[0].getsockname()[1], platform="nxos",
                        credential=Credential("licmon", password=PASSWORD), host_key_policy="insecure",
                        known_hosts=None, connect_timeout=1.0, command_timeout=5.0, device_timeout=20.0)
        try:
            with pytest.raises(CollectError) as caught:
                await collect_device(target, Secret(password=PASSWORD))
            return caught.value
        finally:
            server.close()

    error = asyncio.run(run())
    assert error.reason == reason and error.message.isprintable(), error.message
    if reason == "timeout":
        assert "connect_timeout" in error.message


def test_held_100000_features_do_not_become_100000_series(make_switch, parser, tmp_path):
    """A switch listing 100,000 licence features (5 MB: under the 8 MB cap) is collected; the
    parser refuses that section as no licensing output, so no series explode; the other
    sections of the same transcript are read."""
    outputs = dict(default_outputs("nxos"))
    outputs["show license usage"] = "".join(f"FEAT_{n} (FEAT_{n}):\n  Status: AUTHORIZED\n" for n in range(100_000))
    text = collect(target_for(make_switch(outputs=outputs)))
    _, result = parse(parser, tmp_path, text)
    assert "show license usage" not in {r.command for r in result.records}
    assert [issue.message for issue in result.issues] == [
        "'show license usage' output longer than 100000 lines: not a licensing output"]
    assert record(result, "show license status").authorization.state_text == "AUTHORIZED"
