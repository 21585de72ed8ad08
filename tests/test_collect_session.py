"""One SSH session -> one transcript, against the test switches of tests/switches.py.

Every behaviour and failure path of one device's session (lic_exporter.collect.device, with
its transport, shell and platforms), and the atomic transcript write. All traffic stays on
127.0.0.1. Every switch used is remembered: a test goes through every line they received and
fails on anything outside the allow-list; every log record, error message and transcript is
checked for the planted passwords.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import asyncssh
import pytest

from lic_exporter.collect import platforms
from lic_exporter.collect.device import collect_device
from lic_exporter.collect.failures import REASONS, CollectError
from lic_exporter.collect.platforms import COMMANDS, EXIT, PAGER_KEY, TERMINAL_SETUP, allowed
from lic_exporter.collect.targets import Credential, Secret, Target
from lic_exporter.collect.transcript import write_transcript
from tests.support.switches import Switch, SwitchFarm, default_outputs, new_host_key

PASSWORD = "Planted-Pw-7c1e!x"  # the switches' password: must never show anywhere
WRONG_PASSWORD = "Wrong-Pw-93aa!q"
PASSPHRASE = "Planted-Phrase-51d0"
SECRETS = (PASSWORD, WRONG_PASSWORD, PASSPHRASE)
HEADER = re.compile(r"^! lic-exporter transcript device=(?P<device>\S+) platform=(?P<platform>\S+) "
                    r"collected=(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) prompts=(?P<prompts>\d+(?:,\d+)*)$")

USED_SWITCHES: list = []  # every switch of this module, for the allow-list test


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def farm():
    with SwitchFarm() as switches:
        yield switches


@pytest.fixture
def make_switch(farm):
    """A new switch on the shared farm; after the test, the switch must have had no failure
    of its own and must have received allowed lines only."""
    made = []

    def make(**config):
        config.setdefault("password", PASSWORD)
        switch = farm.add(**config)
        made.append(switch)
        USED_SWITCHES.append(switch)
        return switch

    yield make
    for switch in made:
        assert switch.errors == []
        assert [line for line in switch.received if not allowed(line)] == []
        assert set(switch.keys) <= {PAGER_KEY}


@pytest.fixture(autouse=True)
def no_secret_logged(caplog):
    """Every log record of every test (asyncssh's included) is free of the planted secrets."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        text = record.getMessage() + (caplog.handler.format(record) if record.exc_info else "")
        for secret in SECRETS:
            assert secret not in text, f"secret in a log record of {record.name}"


def target_for(switch, tmp_path: Path, **changes) -> Target:
    target = Target(name="nx-lab-01", host=switch.host, port=switch.port, platform=switch.config.platform,
                    credential=Credential("licmon", password=PASSWORD), host_key_policy="accept-new",
                    known_hosts=tmp_path / "known_hosts", connect_timeout=5.0, command_timeout=5.0,
                    device_timeout=20.0)
    return replace(target, **changes)


def collect(target: Target, secret: Secret | None = None) -> str:
    text = asyncio.run(collect_device(target, secret or Secret(password=PASSWORD)))
    for planted in SECRETS:
        assert planted not in text
    return text


def collect_fails(target: Target, reason: str, secret: Secret | None = None) -> CollectError:
    secret = secret or Secret(password=PASSWORD)
    with pytest.raises(CollectError) as caught:
        asyncio.run(collect_device(target, secret))
    error = caught.value
    assert error.reason == reason, error.message
    assert error.reason in REASONS
    for planted in SECRETS:
        assert planted not in error.message and planted not in str(error)
    if secret.key_file is not None:
        assert str(secret.key_file) not in error.message
        assert secret.key_file.name not in error.message
    return error


def sections(text: str) -> tuple[str, list[str], list[str]]:
    """(header line, commands in order, the transcript's lines after the header); the header
    lists exactly the prompt lines (file lines, the header being line 1)."""
    header, *lines = text.splitlines()
    prompt = lines[0][: lines[0].index("#") + 1]
    typed = [line[len(prompt):].strip() for line in lines if line.startswith(prompt)]
    assert typed[-1] == "", "the transcript ends with the prompt line"
    assert lines[-1] == prompt
    listed = [int(number) for number in HEADER.match(header)["prompts"].split(",")]
    assert listed == [number for number, line in enumerate(lines, 2) if line.startswith(prompt)]
    return header, typed[:-1], lines


def body(text: str) -> str:
    return text.split("\n", 1)[1]


def write_key(key: asyncssh.SSHKey, path: Path, passphrase: str | None = None) -> None:
    """A private key file (few KDF rounds: the test is about the session, not the KDF)."""
    options = {"passphrase": passphrase, "rounds": 4, "ignore_few_rounds": True} if passphrase else {}
    path.write_bytes(key.export_private_key("openssh", **options))
    path.chmod(0o600)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# The allow-list
# ---------------------------------------------------------------------------------------------

def test_allow_list():
    for command in ("show clock", "show license status", "terminal length 0", "terminal width 511", EXIT):
        assert allowed(command)
    for command in ("", "show", "show ", "terminal", "exit now", "configure terminal", "conf t", "reload",
                    "show clock\nreload", "show clock\r", "show run > bootflash:x", "show run | redirect x",
                    "show clock ; reload", "show\tclock", " show clock", "copy run start", "write memory",
                    "show " + "x" * 300, PASSWORD):
        assert not allowed(command), command
    for platform_commands in COMMANDS.values():
        assert all(allowed(command) for command in platform_commands)
    assert all(allowed(command) for command in TERMINAL_SETUP)


def test_a_command_outside_the_allow_list_is_never_sent(make_switch, tmp_path, monkeypatch):
    monkeypatch.setitem(platforms.COMMANDS, "nxos", ("show clock", "configure terminal"))
    switch = make_switch()
    with pytest.raises(AssertionError, match="not an allowed command"):
        asyncio.run(collect_device(target_for(switch, tmp_path), Secret(password=PASSWORD)))
    assert "configure terminal" not in switch.received and "show clock" in switch.received


def test_collect_error_knows_its_reasons():
    assert CollectError("auth", "x").reason == "auth"
    with pytest.raises(ValueError):
        CollectError("bad-reason", "x")


# ---------------------------------------------------------------------------------------------
# Sessions that work
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", ["nxos", "iosxe"])
def test_session_transcript(make_switch, tmp_path, platform):
    switch = make_switch(platform=platform, refuse_terminal_width=platform == "iosxe")
    target = target_for(switch, tmp_path, name=f"{platform}-lab-01")
    text = collect(target)
    header, typed, lines = sections(text)
    match = HEADER.match(header)
    assert match and match["device"] == target.name and match["platform"] == platform
    assert typed == list(COMMANDS[platform])
    assert lines[0] == switch.config.prompt + COMMANDS[platform][0]
    for command, output in default_outputs(platform).items():
        if command in COMMANDS[platform]:
            assert f"{switch.config.prompt}{command}\n{output}" in text
    assert "\r" not in text
    assert switch.received == [*TERMINAL_SETUP, *COMMANDS[platform], EXIT]
    assert switch.password_attempts == 1 and switch.logins == 1


def test_banner_with_prompt_characters_does_not_fool_the_prompt(make_switch, tmp_path):
    banner = ("##################################\n"
              "# Authorised access only > here  #\n"
              "fake-switch# \n"
              "router>\n"
              "##################################\n")
    switch = make_switch(banner=banner)
    text = collect(target_for(switch, tmp_path))
    _, typed, lines = sections(text)
    assert typed == list(COMMANDS["nxos"])
    assert lines[0] == "n9k-lab-01# show clock"
    assert "fake-switch" not in text and "Authorised" not in text


def test_prompt_like_banner_line_then_a_pause(make_switch, tmp_path, caplog):
    # The banner's last line looks like a prompt and nothing follows for a while: the prompt
    # after the first command shows the real one.
    switch = make_switch(banner="Authorised use only\nlab-notice>", banner_pause=0.5)
    text = collect(target_for(switch, tmp_path))
    assert any("after the first command" in record.getMessage() for record in caplog.records)
    _, typed, lines = sections(text)
    assert typed == list(COMMANDS["nxos"])
    assert lines[0] == "n9k-lab-01# show clock" and "lab-notice" not in text


def test_paging_answered_when_terminal_length_is_ignored(make_switch, tmp_path):
    plain = collect(target_for(make_switch(), tmp_path))
    switch = make_switch(honour_terminal_length=False, page_lines=8)
    paged = collect(target_for(switch, tmp_path))
    assert switch.keys and set(switch.keys) == {PAGER_KEY}
    assert "More" not in paged and "\b" not in paged
    assert body(paged) == body(plain)


@pytest.mark.parametrize("crlf", [True, False])
def test_line_ends(make_switch, tmp_path, crlf):
    reference = collect(target_for(make_switch(crlf=False), tmp_path))
    text = collect(target_for(make_switch(crlf=crlf), tmp_path))
    assert "\r" not in text
    assert body(text) == body(reference)


def test_slow_chunked_output(make_switch, tmp_path):
    reference = collect(target_for(make_switch(), tmp_path))
    switch = make_switch(chunk_size=7, chunk_delay=0.001, banner="# MOTD > in pieces #\n")
    text = collect(target_for(switch, tmp_path))
    assert body(text) == body(reference)


def test_key_authentication_with_passphrase(make_switch, tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_lab"
    write_key(key, key_file, PASSPHRASE)
    switch = make_switch(password=None, authorized_key=key.convert_to_public())
    target = target_for(switch, tmp_path, credential=Credential("licmon", key_file=key_file))
    text = collect(target, Secret(key_file=key_file, passphrase=PASSPHRASE))
    assert sections(text)[1] == list(COMMANDS["nxos"])
    assert switch.password_attempts == 0 and len(switch.keys_offered) == 1


def test_insecure_policy_checks_nothing(make_switch, tmp_path):
    switch = make_switch()
    text = collect(target_for(switch, tmp_path, host_key_policy="insecure", known_hosts=None))
    assert sections(text)[1] == list(COMMANDS["nxos"])


def test_many_switches_share_one_loop(farm, tmp_path):
    """The farm's design for the benchmark: many switches, one thread, sessions at once."""
    many = farm.add_many(20, password=PASSWORD)
    USED_SWITCHES.extend(many)
    assert [thread.name for thread in threading.enumerate()].count("test-switches") == 1
    assert len({switch.port for switch in many}) == 20

    async def run_all() -> list[str]:
        return await asyncio.gather(*(
            collect_device(target_for(switch, tmp_path, name=f"sw{index}"), Secret(password=PASSWORD))
            for index, switch in enumerate(many)))

    texts = asyncio.run(run_all())
    assert [HEADER.match(text.split("\n", 1)[0])["device"] for text in texts] == [f"sw{i}" for i in range(20)]
    assert all(sections(text)[1] == list(COMMANDS["nxos"]) for text in texts)
    assert len((tmp_path / "known_hosts").read_text().splitlines()) == 20


def test_a_switch_of_its_own(tmp_path):
    switch = Switch(password=PASSWORD, platform="iosxe").start()
    try:
        USED_SWITCHES.append(switch)
        assert sections(collect(target_for(switch, tmp_path)))[1] == list(COMMANDS["iosxe"])
    finally:
        switch.stop()
    with pytest.raises(CollectError):
        asyncio.run(collect_device(target_for(switch, tmp_path, connect_timeout=2.0), Secret(password=PASSWORD)))


# ---------------------------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------------------------

def test_wrong_password_is_auth_after_exactly_one_attempt(make_switch, tmp_path):
    switch = make_switch()
    error = collect_fails(target_for(switch, tmp_path), "auth", Secret(password=WRONG_PASSWORD))
    assert "licmon" in error.message
    assert switch.password_attempts == 1 and switch.auth_attempts == 1
    assert switch.logins == 0 and switch.received == []


def test_wrong_key_is_auth_and_the_key_file_stays_unnamed(make_switch, tmp_path):
    switch = make_switch(password=PASSWORD, authorized_key=asyncssh.generate_private_key("ssh-ed25519"))
    key_file = tmp_path / "id_other"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(key_file)
    target = target_for(switch, tmp_path, credential=Credential("licmon", key_file=key_file))
    collect_fails(target, "auth", Secret(key_file=key_file))
    assert switch.password_attempts == 0 and switch.auth_attempts == 1  # no password tried after the key


@pytest.mark.parametrize("problem", ["missing", "wrong passphrase"])
def test_unusable_key_file(make_switch, tmp_path, problem):
    switch = make_switch()
    key_file = tmp_path / "secret-dir" / "id_lab"
    if problem == "wrong passphrase":
        key_file.parent.mkdir()
        write_key(asyncssh.generate_private_key("ssh-ed25519"), key_file, PASSPHRASE)
    secret = Secret(key_file=key_file, passphrase=WRONG_PASSWORD)
    error = collect_fails(target_for(switch, tmp_path), "other", secret)
    assert "secret-dir" not in error.message
    assert switch.auth_attempts == 0


def test_unknown_host_key_under_strict(make_switch, tmp_path):
    switch = make_switch()
    error = collect_fails(target_for(switch, tmp_path, host_key_policy="strict"), "hostkey")
    assert "not in the known_hosts" in error.message and "SHA256:" in error.message
    assert switch.password_attempts == 0  # no password for a host not verified
    assert not (tmp_path / "known_hosts").exists()


def test_accept_new_records_the_key_and_refuses_a_changed_one(make_switch, tmp_path):
    switch = make_switch()
    known_hosts = tmp_path / "state" / "known_hosts"  # its directory is created too
    target = target_for(switch, tmp_path, known_hosts=known_hosts)
    collect(target)
    recorded = known_hosts.read_text().splitlines()
    assert recorded == [f"[127.0.0.1]:{switch.port} " + " ".join(
        switch.config.host_key.export_public_key().decode().split()[:2])]
    collect(target)  # known now: accepted, not recorded twice
    collect(replace(target, host_key_policy="strict"))
    assert known_hosts.read_text().splitlines() == recorded
    attempts = switch.password_attempts
    switch.set_host_key(new_host_key())
    for policy in ("accept-new", "strict"):
        error = collect_fails(replace(target, host_key_policy=policy), "hostkey")
        assert "CHANGED" in error.message
    assert switch.password_attempts == attempts  # no password for a changed key
    assert known_hosts.read_text().splitlines() == recorded


@pytest.mark.filterwarnings("ignore:Diffie-Hellman over finite fields")  # SHA-1 era key exchange
def test_legacy_only_switch_needs_legacy_algorithms(make_switch, tmp_path):
    switch = make_switch(legacy_only=True)
    target = target_for(switch, tmp_path)
    error = collect_fails(target, "connect")
    assert "legacy_algorithms" in error.message
    assert switch.password_attempts == 0
    text = collect(replace(target, legacy_algorithms=True))
    assert sections(text)[1] == list(COMMANDS["nxos"])
    assert " ssh-rsa " in (tmp_path / "known_hosts").read_text()
    collect(replace(target, legacy_algorithms=True, host_key_policy="strict"))


@pytest.mark.parametrize(("mode", "text"), [("text", "% Sorry, session limit reached"),
                                            ("text", "Maximum number of sessions reached"),
                                            ("channel", "")])
def test_session_limit(make_switch, tmp_path, mode, text):
    switch = make_switch(session_limit=mode, session_limit_text=text or "unused")
    error = collect_fails(target_for(switch, tmp_path), "session_limit")
    assert (text or "Maximum number of sessions") in error.message
    assert switch.received == []


def test_drop_mid_output_is_disconnect(make_switch, tmp_path):
    switch = make_switch(drop_during="show license usage")
    error = collect_fails(target_for(switch, tmp_path), "disconnect")
    assert "show license usage" in error.message


def test_rejected_command_is_command(make_switch, tmp_path):
    switch = make_switch(reject=("show license usage",))
    error = collect_fails(target_for(switch, tmp_path), "command")
    assert "show license usage" in error.message and "Invalid command" in error.message


def test_closed_port_is_connect(tmp_path):
    target = Target(name="gone", host="127.0.0.1", port=free_port(), credential=Credential("licmon", password=PASSWORD),
                    known_hosts=tmp_path / "known_hosts", connect_timeout=5.0)
    error = collect_fails(target, "connect")
    assert "refused" in error.message


@pytest.mark.parametrize(("behaviour", "limits", "named"), [
    ({"hang": "ssh"}, {"connect_timeout": 0.5}, "connect_timeout"),
    ({"hang": "login"}, {"command_timeout": 0.5}, "command_timeout"),
    ({"hang_on": "show license status"}, {"command_timeout": 0.5}, "command_timeout"),
    ({"chunk_size": 16, "chunk_delay": 0.02}, {"device_timeout": 0.8}, "device_timeout"),
])
def test_hanging_switch_times_out_within_the_limits(make_switch, tmp_path, behaviour, limits, named):
    switch = make_switch(**behaviour)
    target = target_for(switch, tmp_path, **limits)
    started = time.monotonic()
    error = collect_fails(target, "timeout")
    elapsed = time.monotonic() - started
    assert named in error.message
    assert elapsed < next(iter(limits.values())) + 1.5


# ---------------------------------------------------------------------------------------------
# Everything the switches received
# ---------------------------------------------------------------------------------------------

def test_every_line_any_switch_received_is_allowed():
    """Runs last in this module: every line received by every switch used above."""
    if not USED_SWITCHES:
        pytest.skip("no switch used (the test ran alone)")
    lines = [line for switch in USED_SWITCHES for line in switch.received]
    assert lines, "the switches received nothing"
    refused = sorted({line for line in lines if not allowed(line)})
    assert refused == []
    assert all(set(switch.keys) <= {PAGER_KEY} for switch in USED_SWITCHES)


# ---------------------------------------------------------------------------------------------
# The transcript file
# ---------------------------------------------------------------------------------------------

def test_write_transcript_is_atomic_and_replaces(tmp_path):
    path = write_transcript(tmp_path, "nx-lab-01", "first\n")
    assert path == tmp_path / "nx-lab-01.log" and path.read_text() == "first\n"
    write_transcript(tmp_path, "nx-lab-01", "second\r\nkept as given\n")
    assert path.read_bytes() == b"second\r\nkept as given\n"
    assert sorted(os.listdir(tmp_path)) == ["nx-lab-01.log"]  # no temporary left


def test_failed_write_keeps_the_previous_transcript(tmp_path, monkeypatch):
    path = write_transcript(tmp_path, "nx-lab-01", "good\n")
    seen = []

    def failing_replace(source, destination):
        seen.append(Path(source).name)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_transcript(tmp_path, "nx-lab-01", "half")
    assert re.fullmatch(r"\.nx-lab-01\.log\..+\.tmp", seen[0])
    assert path.read_text() == "good\n"
    assert sorted(os.listdir(tmp_path)) == ["nx-lab-01.log"]


def test_write_transcript_refuses_names_that_are_paths(tmp_path):
    for name in ("", "../evil", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            write_transcript(tmp_path, name, "x")


def test_stale_temporaries_are_removed(tmp_path):
    stale = tmp_path / ".nx-lab-01.log.abc123.tmp"
    stale.write_text("left by a crash")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = tmp_path / ".nx-lab-01.log.def456.tmp"
    fresh.write_text("another writer, just now")
    write_transcript(tmp_path, "nx-lab-01", "ok\n")
    assert not stale.exists() and fresh.exists()
