"""Test switches: small SSH servers that behave like an NX-OS or IOS-XE CLI, for the collector.

Built on asyncssh's server API. Every switch listens on 127.0.0.1 at a random port; all the
switches of a `SwitchFarm` share ONE background thread running one event loop, so that a
benchmark can run a thousand of them in one process (a listening socket and a few objects
each; output is written from shared, pre-split strings).

    with SwitchFarm() as farm:
        switch = farm.add(platform="nxos", banner="### lab # only > ###\\n")
        ... collect from 127.0.0.1:switch.port ...
        switch.received            # every line the switch received, in order

`Switch(...).start()` / `.stop()` runs a single switch on a farm of its own.

Behaviours (keyword arguments of `SwitchConfig`): platform, hostname, banner/MOTD, credentials
(password and/or an authorized public key), login methods (password, keyboard-interactive with
the prompts a test gives, neither), host key (changeable), legacy-only algorithms (SHA-1 key
exchange, ssh-rsa host key), outputs per command (default: the authored fixtures in
tests/fixtures/show), a delay before each command's output, paging while `terminal length 0`
has not been sent (or always, for a switch that ignores it), CRLF or LF line ends, terminal
fill after every line end, output in slow chunks, a dropped connection in the middle of a
command's output, a session-limit refusal (printed after login, or the session channel refused
with the code and words a test gives), a connection closed or disconnected with given words
right after the login, `% Invalid command at '^' marker.` (or given words) for unknown or
rejected commands, and hanging before the SSH banner, after login, or in a command.

The shell is byte-mode: what a switch sends is exactly what the test wrote. An output is text
(line ends made CRLF when `crlf`), bytes (sent as they are), or a list of pieces: text, bytes,
and pauses in seconds (a float) between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import resource
import threading
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import asyncssh

from tests.support.paths import SHOW_FIXTURES

LEGACY_KEX = ("diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1")
PAGER_PROMPT = " --More-- "
# What NX-OS sends after the key that answered its pager: the prompt erased in place.
PAGER_ERASE = "\b" * len(PAGER_PROMPT) + " " * len(PAGER_PROMPT) + "\b" * len(PAGER_PROMPT)
SESSION_LIMIT_TEXT = "% Sorry, session limit reached"

T = TypeVar("T")
# What a switch prints for a command: text, raw bytes, or pieces with pauses (seconds) between.
Output = str | bytes | Sequence[str | bytes | float]


# ---------------------------------------------------------------------------------------------
# Default outputs, read from the authored fixtures
# ---------------------------------------------------------------------------------------------

def fixture_sections(name: str) -> dict[str, str]:
    """The commands of a saved session fixture -> their output (the lines between its prompt
    lines, each ending with a newline)."""
    sections: dict[str, str] = {}
    command: str | None = None
    lines: list[str] = []
    for line in (SHOW_FIXTURES / name).read_text(encoding="utf-8").splitlines():
        head, sep, typed = line.partition("#")
        if sep and head and " " not in head:  # a prompt line: `host# command` or `host#`
            if command is not None:
                sections[command] = "".join(f"{kept}\n" for kept in lines)
            command, lines = typed.strip() or None, []
        elif command is not None:
            lines.append(line)
    if command is not None:
        sections[command] = "".join(f"{kept}\n" for kept in lines)
    return sections


IOSXE_USAGE = """\
License Authorization:
  Status: Not Applicable

network-advantage (C9300-48 Network Advantage):
  Description: C9300-48 Network Advantage
  Count: 2
  Version: 1.0
  Status: IN USE
  Export status: NOT RESTRICTED
  Feature Name: network-advantage
  Feature Description: C9300-48 Network Advantage
  Enforcement type: NOT ENFORCED
  License type: Perpetual

dna-advantage (C9300-48 DNA Advantage):
  Description: C9300-48 DNA Advantage
  Count: 2
  Version: 1.0
  Status: IN USE
  Export status: NOT RESTRICTED
  Feature Name: dna-advantage
  Feature Description: C9300-48 DNA Advantage
  Enforcement type: NOT ENFORCED
  License type: Subscription

"""


@functools.cache
def default_outputs(platform: str) -> dict[str, str]:
    """Outputs per command for a platform: NX-OS from the session fixtures; IOS-XE `show
    license status` is the status part of the tech-support fixture, its usage authored."""
    if platform == "nxos":
        outputs = {"show clock": "10:41:22.517 UTC Thu Oct 15 2026\n"}
        outputs["show license status"] = fixture_sections("communication_failed.txt")["show license status"]
        outputs["show license usage"] = fixture_sections("usage_classic.txt")["show license usage"]
        outputs.update(fixture_sections("callhome_session_n7k.txt"))
        return outputs
    if platform == "iosxe":
        tech = fixture_sections("techsupport_handles.txt")["show license tech support"]
        status = tech[tech.index("Utility:"):tech.index("License Usage\n")]
        return {"show clock": "*10:41:22.517 UTC Thu Oct 15 2026\n",
                "show license status": status,
                "show license usage": IOSXE_USAGE}
    raise ValueError(f"unknown platform {platform!r}")


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------

@functools.cache
def shared_rsa_key() -> asyncssh.SSHKey:
    """One RSA key for every legacy switch of the process (generating RSA keys is slow)."""
    return asyncssh.generate_private_key("ssh-rsa", 2048)


def new_host_key(legacy: bool = False) -> asyncssh.SSHKey:
    """A fresh host key: ed25519 (fast to make), or for a legacy switch a new RSA key."""
    return asyncssh.generate_private_key("ssh-rsa", 2048) if legacy else asyncssh.generate_private_key("ssh-ed25519")


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

Hang = Literal["none", "ssh", "login"]
KbdIntPrompts = tuple[tuple[str, bool], ...]  # (prompt, echo) as keyboard-interactive asks them


@dataclass
class SwitchConfig:
    platform: str = "nxos"  # nxos | iosxe
    hostname: str | None = None  # default per platform
    username: str = "licmon"
    password: str | None = "lab-password"
    password_auth: bool = True  # offer `password` authentication (when a password is set)
    kbdint: KbdIntPrompts | None = None  # offer keyboard-interactive, asking these (the password is
    # the answer to the first prompt holding "pass")
    kbdint_message: str = ""  # a challenge without questions sent before them (AAA servers do)
    authorized_key: asyncssh.SSHKey | None = None  # a client public key accepted besides the password
    host_key: asyncssh.SSHKey | None = None  # default: a new ed25519 key (RSA for legacy_only)
    banner: str = ""  # MOTD printed after login, before the prompt
    banner_pause: float = 0.0  # seconds between the banner and the prompt
    outputs: dict[str, Output] | None = None  # command -> output; default: default_outputs(platform)
    honour_terminal_length: bool = True  # False: pages even after `terminal length 0`
    page_lines: int = 24
    refuse_terminal_width: bool = False  # `terminal width 511` answered with % Invalid (some IOS-XE)
    crlf: bool = True  # line ends as a terminal sends them; False: bare LF
    fill: str = ""  # terminal fill sent after every line end (NUL padding: "\x00")
    chunk_size: int = 0  # >0: output in pieces of this many characters...
    chunk_delay: float = 0.0  # ...this many seconds apart
    reply_delay: float = 0.0  # seconds a command takes before its output starts (device latency)
    drop_during: str | None = None  # command whose output is cut by dropping the connection
    session_limit: Literal["none", "text", "channel"] = "none"  # refuse the CLI session
    session_limit_text: str = SESSION_LIMIT_TEXT
    channel_refusal: tuple[int, str] = (asyncssh.OPEN_RESOURCE_SHORTAGE, "Maximum number of sessions reached")
    after_login: Literal["shell", "close", "disconnect"] = "shell"  # close: the connection is closed as the
    # session is asked for; disconnect: an SSH disconnect with `disconnect_reason` instead
    disconnect_reason: str = "Disconnected by the switch"
    disconnect_code: int = asyncssh.DISC_SERVICE_NOT_AVAILABLE
    disconnect_at_login: bool = False  # the disconnect comes instead of an answer to the login
    reject: tuple[str, ...] = ()  # commands answered with % Invalid although known
    invalid_text: str | None = None  # the line printed for a rejected command instead of % Invalid
    goodbye: str = ""  # printed after `exit`, before the session closes
    legacy_only: bool = False  # only SHA-1 key exchange and the ssh-rsa host key algorithm
    hang: Hang = "none"  # "ssh": never sends the SSH banner; "login": never prints a prompt
    hang_on: str | None = None  # a command that never finishes

    @property
    def prompt(self) -> str:
        name = self.hostname or ("n9k-lab-01" if self.platform == "nxos" else "c9300-lab-01")
        return f"{name}# " if self.platform == "nxos" else f"{name}#"


# ---------------------------------------------------------------------------------------------
# One switch
# ---------------------------------------------------------------------------------------------

class Switch:
    """One test switch. Counters and records are written on the farm's loop thread and are
    safe to read from the test once its sessions are over."""

    def __init__(self, farm: SwitchFarm | None = None, **config: Any):
        self.config = SwitchConfig(**config)
        self.farm = farm
        self._own_farm = farm is None
        if self.config.host_key is None:
            self.config.host_key = shared_rsa_key() if self.config.legacy_only else new_host_key()
        self.outputs: dict[str, Output] = dict(
            self.config.outputs if self.config.outputs is not None else default_outputs(self.config.platform))
        self.host = "127.0.0.1"
        self.port = 0
        self.received: list[str] = []  # every line received, as typed
        self.keys: list[str] = []  # keystrokes that answered the pager
        self.password_attempts = 0
        self.keys_offered: list[asyncssh.SSHKey] = []
        self.logins = 0  # successful authentications
        self.sessions = 0  # CLI sessions started
        self.errors: list[str] = []  # failures of the switch itself (bugs of the test double)
        self._listener: Any = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Switch:
        """Listen (a farm of its own when none was given)."""
        if self.farm is None:
            self.farm = SwitchFarm().start()
        self.farm.call(self.listen())
        self.farm.switches.append(self)
        return self

    def stop(self) -> None:
        if self.farm is None:
            return
        if self._own_farm:
            self.farm.stop()
        else:
            self.farm.call(self.close())

    @property
    def auth_attempts(self) -> int:
        """Login attempts that reached the switch: passwords tried and public keys offered."""
        return self.password_attempts + len(self.keys_offered)

    def set_host_key(self, key: asyncssh.SSHKey) -> None:
        """A new host key (as after a re-installation); the switch keeps its port."""
        self.config.host_key = key
        assert self.farm is not None
        self.farm.call(self._relisten())

    def reconfigure(self, **changes: Any) -> None:
        """Change behaviours for the connections that follow (same port)."""
        self.config = replace(self.config, **changes)
        if "outputs" in changes or "platform" in changes:
            self.outputs = dict(self.config.outputs if self.config.outputs is not None else default_outputs(
                self.config.platform))
        if self.farm is not None and self._listener is not None:
            self.farm.call(self._relisten())  # host key, algorithms and refusals are listener options

    # -- on the loop thread --------------------------------------------------------------------

    async def listen(self) -> None:
        if self.config.hang == "ssh":
            self._listener = await asyncio.start_server(_swallow, self.host, self.port)
            self.port = self._listener.sockets[0].getsockname()[1]
        else:
            self._listener = await asyncssh.create_server(
                functools.partial(_SwitchServer, self), self.host, self.port, options=self._options())
            self.port = self._listener.get_port()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            with contextlib.suppress(Exception):
                await self._listener.wait_closed()
            self._listener = None

    async def _relisten(self) -> None:
        await self.close()
        await self.listen()

    def _options(self) -> asyncssh.SSHServerConnectionOptions:
        config = self.config
        assert config.host_key is not None
        host_key: Any = config.host_key
        kwargs: dict[str, Any] = {}
        if config.legacy_only:
            # asyncssh offers rsa-sha2-256/512 for an RSA key: keep only the SHA-1 `ssh-rsa`.
            host_key = asyncssh.load_keypairs([config.host_key])[0]
            host_key.host_key_algorithms = (b"ssh-rsa",)
            kwargs["kex_algs"] = list(LEGACY_KEX)
        refuses = config.session_limit == "channel" or config.after_login != "shell"
        return asyncssh.SSHServerConnectionOptions(
            server_host_keys=[host_key],
            process_factory=None if refuses else self._shell,
            line_editor=False,  # the switch echoes and splits lines itself, like the CLI does
            encoding=None,  # byte mode: the CLI encodes, and sends bytes a test gives as they are
            allow_pty=True,
            agent_forwarding=False,
            x11_forwarding=False,
            login_timeout=30,
            **kwargs,
        )

    async def _shell(self, process: asyncssh.SSHServerProcess) -> None:
        self.sessions += 1
        cli = _CLI(self, process)
        try:
            await cli.run()
        except (asyncssh.Error, OSError):
            pass  # the client went away
        except Exception as exc:  # a bug of the test switch: the test fails on it
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(Exception):
                process.exit(0)


class _SwitchServer(asyncssh.SSHServer):
    def __init__(self, switch: Switch):
        self.switch = switch
        self.conn: asyncssh.SSHServerConnection | None = None
        self._kbdint_asked = False

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn

    def begin_auth(self, username: str) -> bool:
        config = self.switch.config
        if config.disconnect_at_login and self.conn is not None:
            self.conn.disconnect(config.disconnect_code, config.disconnect_reason)
        return True

    def password_auth_supported(self) -> bool:
        return self.switch.config.password is not None and self.switch.config.password_auth

    def kbdint_auth_supported(self) -> bool:
        return self.switch.config.kbdint is not None  # never the password through asyncssh's own prompt

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> Any:
        config = self.switch.config
        if config.kbdint_message:
            return "", config.kbdint_message, "", ()
        return self._questions()

    def _questions(self) -> Any:
        self._kbdint_asked = True
        return "", "", "", self.switch.config.kbdint

    def validate_kbdint_response(self, username: str, responses: Sequence[str]) -> Any:
        config = self.switch.config
        if not self._kbdint_asked:  # the message was acknowledged: now the questions
            return self._questions()
        prompts = config.kbdint or ()
        asked = [answer for (prompt, _), answer in zip(prompts, responses, strict=False) if "pass" in prompt.lower()]
        if responses:
            self.switch.password_attempts += 1
        return username == config.username and bool(asked) and asked[0] == config.password

    def validate_password(self, username: str, password: str) -> bool:
        config = self.switch.config
        self.switch.password_attempts += 1
        return username == config.username and password == config.password

    def public_key_auth_supported(self) -> bool:
        return self.switch.config.authorized_key is not None

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # asyncssh asks once for the offer and once for the signed request: count keys, not asks
        if key not in self.switch.keys_offered:
            self.switch.keys_offered.append(key)
        config = self.switch.config
        return username == config.username and key == config.authorized_key

    def auth_completed(self) -> None:
        self.switch.logins += 1

    def session_requested(self) -> bool:
        # only reached when the switch refuses sessions (otherwise the process factory serves)
        config = self.switch.config
        if config.after_login != "shell" and self.conn is not None:
            if config.after_login == "close":
                self.conn.abort()
            else:
                self.conn.disconnect(config.disconnect_code, config.disconnect_reason)
            return False
        raise asyncssh.ChannelOpenError(*config.channel_refusal)


async def _swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A port that accepts and never answers (no SSH banner)."""
    with contextlib.suppress(Exception):
        while await reader.read(4096):
            pass
    writer.close()


class _CLI:
    """The command line of one session."""

    def __init__(self, switch: Switch, process: asyncssh.SSHServerProcess):
        self.switch = switch
        self.config = switch.config
        self.process = process
        self.pending = ""  # typed but not yet read as a line or key
        self.paging = True

    async def run(self) -> None:
        config = self.config
        if config.session_limit == "text":
            await self.write(f"{config.session_limit_text}\n")
            self.process.exit(1)
            return
        if config.hang == "login":
            await self.until_closed()
            return
        await self.write(config.banner)
        if config.banner_pause:
            await asyncio.sleep(config.banner_pause)
            await self.write("\n")
        while True:
            await self.write(config.prompt)
            line = await self.read_line()
            if line is None:
                return
            self.switch.received.append(line)
            await self.write(f"{line}\n")  # the echo
            if not await self.execute(" ".join(line.split())):
                return

    async def execute(self, command: str) -> bool:
        """Run one command; False when the session is over."""
        config = self.config
        if not command:
            return True
        if config.reply_delay:
            await asyncio.sleep(config.reply_delay)
        if command == "exit":
            await self.write(f"{config.goodbye}")
            self.process.exit(0)
            return False
        if command == config.hang_on:
            await self.until_closed()
            return False
        if command == "terminal length 0":
            self.paging = not config.honour_terminal_length and self.paging
            return True
        if command.startswith("terminal width") and config.refuse_terminal_width:
            await self.invalid(command)
            return True
        if command.startswith("terminal "):
            return True
        output = self.switch.outputs.get(command)
        if output is None or command in config.reject:
            await self.invalid(command)
            return True
        if command == config.drop_during:
            text = output if isinstance(output, str) else "".join(p for p in output if isinstance(p, str))
            await self.write(text[: len(text) // 2])
            conn = self.process.get_extra_info("connection")
            conn.abort()
            return False
        if not isinstance(output, str):
            await self.pieces([output] if isinstance(output, bytes) else output)
            return True
        return await self.emit(output)

    async def pieces(self, pieces: Sequence[str | bytes | float]) -> None:
        """An output a test wrote piece by piece: text and bytes, with pauses between (seconds)."""
        for piece in pieces:
            if isinstance(piece, float | int):
                await asyncio.sleep(piece)
            else:
                await self.write(piece)
                await self.process.stdout.drain()  # a long output is never all buffered at once

    async def invalid(self, command: str) -> None:
        """The CLI's answer to a command it does not take, the marker under the last word."""
        column = len(self.config.prompt) + max(command.rfind(" ") + 1, 0)
        if self.config.invalid_text is not None:
            await self.write(f"{' ' * column}^\n{self.config.invalid_text}\n")
        elif self.config.platform == "nxos":
            await self.write(f"{' ' * column}^\n% Invalid command at '^' marker.\n")
        else:
            await self.write(f"{' ' * column}^\n% Invalid input detected at '^' marker.\n\n")

    async def emit(self, output: str) -> bool:
        """Output, paged while paging is on: ` --More-- ` waits for a key (space or Enter: on;
        q: stop). False when the client went away at the pager."""
        lines = output.splitlines(keepends=True)
        if not self.paging or len(lines) <= self.config.page_lines:
            await self.write(output)
            return True
        step = max(self.config.page_lines - 1, 1)
        for first in range(0, len(lines), step):
            await self.write("".join(lines[first:first + step]))
            if first + step >= len(lines):
                break
            await self.write(PAGER_PROMPT)
            key = await self.read_key()
            if key is None:
                return False
            self.switch.keys.append(key)
            await self.write(PAGER_ERASE)
            if key in ("q", "Q"):
                break
        return True

    # -- input ---------------------------------------------------------------------------------

    async def read_line(self) -> str | None:
        while True:
            for index, char in enumerate(self.pending):
                if char in "\r\n":
                    line = self.pending[:index]
                    rest = self.pending[index + 1:]
                    if char == "\r" and rest.startswith("\n"):
                        rest = rest[1:]
                    self.pending = rest
                    return line
            data = await self.process.stdin.read(4096)
            if not data:
                return None
            self.pending += data.decode("utf-8", errors="replace")

    async def read_key(self) -> str | None:
        if not self.pending:
            data = await self.process.stdin.read(4096)
            if not data:
                return None
            self.pending = data.decode("utf-8", errors="replace")
        key, self.pending = self.pending[0], self.pending[1:]
        return key

    async def until_closed(self) -> None:
        while await self.process.stdin.read(4096):
            pass

    # -- output --------------------------------------------------------------------------------

    async def write(self, text: str | bytes) -> None:
        """Text with its line ends made CRLF (when `crlf`) and terminal fill after each; bytes
        exactly as given."""
        if not text:
            return
        if isinstance(text, str):
            if self.config.crlf:
                text = text.replace("\r\n", "\n").replace("\n", "\r\n")
            if self.config.fill:
                text = text.replace("\n", "\n" + self.config.fill)
            data = text.encode("utf-8")
        else:
            data = text
        size = self.config.chunk_size
        if size <= 0:
            self.process.stdout.write(data)
            return
        for start in range(0, len(data), size):
            self.process.stdout.write(data[start:start + size])
            await asyncio.sleep(self.config.chunk_delay)


# ---------------------------------------------------------------------------------------------
# Many switches, one loop
# ---------------------------------------------------------------------------------------------

class SwitchFarm:
    """Switches sharing one event loop on one background thread."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.switches: list[Switch] = []

    def start(self) -> SwitchFarm:
        if self.loop is not None:
            return self
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            assert self.loop is not None
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="test-switches", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a coroutine on the farm's loop and wait for its result."""
        assert self.loop is not None, "the farm is not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def add(self, **config: Any) -> Switch:
        """One more switch, listening."""
        return Switch(self, **config).start()

    def add_many(self, count: int, **config: Any) -> list[Switch]:
        """`count` switches alike (each with its own port and, unless given, host key),
        started together."""
        raise_open_file_limit(3 * count + 256)  # a listener, a server and a client socket each
        switches = [Switch(self, **config) for _ in range(count)]

        async def listen_all() -> None:
            await asyncio.gather(*(switch.listen() for switch in switches))

        self.call(listen_all(), timeout=max(60.0, count / 10))
        self.switches.extend(switches)
        return switches

    def received(self) -> Iterable[tuple[Switch, str]]:
        """Every line received by any switch of the farm."""
        for switch in self.switches:
            for line in switch.received:
                yield switch, line

    def stop(self) -> None:
        if self.loop is None:
            return

        async def shutdown() -> None:
            await asyncio.gather(*(switch.close() for switch in self.switches), return_exceptions=True)
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(shutdown(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=30)
        self.loop.close()
        self.loop = None

    def __enter__(self) -> SwitchFarm:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def raise_open_file_limit(wanted: int) -> None:
    """Raise the soft limit on open files towards `wanted` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
