"""One interactive shell on a switch: open it with a PTY, learn its prompt, answer its pager,
send a command and read until the prompt comes back, and keep everything it printed.

The shell knows terminals, not platforms: what to send comes from platforms.py, and every line
it writes passes the allow-list there. What a prompt, a pager prompt or a session-limit notice
looks like is sources/terminal.py's, shared with the parser that reads the saved transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

import asyncssh

from lic_exporter.collect.failures import CollectError
from lic_exporter.collect.platforms import EXIT, PAGER_KEY, sendable
from lic_exporter.sources.terminal import ESCAPE, PAGER_REMNANT, PAGER_WAITING, PROMPT_WAITING, SESSION_LIMIT

log = logging.getLogger("lic_exporter.collect.session")  # the name log lines print (logger=): kept

TERM_TYPE = "vt100"
TERM_SIZE = (511, 24)  # columns, rows
PROMPT_SETTLE = 0.2  # seconds of quiet after a prompt-like last line before it is taken
MAX_TRANSCRIPT_CHARS = 8 << 20  # a device printing without end is cut off here
_READ_SIZE = 65536
# Prompts and pager prompts are short: only this much of the end of the received text is
# looked at after each chunk, so that a huge line costs no more than a short one.
_TAIL = 1024
_CRLF = re.compile(r"\r+\n")


async def open_shell(conn: asyncssh.SSHClientConnection, command_timeout: float) -> asyncssh.SSHClientProcess:
    """A shell with a PTY on the logged-in connection (stderr merged into stdout)."""
    try:
        async with asyncio.timeout(command_timeout):
            return await conn.create_process(term_type=TERM_TYPE, term_size=TERM_SIZE, stderr=asyncssh.STDOUT,
                                             encoding="utf-8", errors="replace")
    except TimeoutError:
        raise CollectError("timeout", f"no shell within command_timeout {command_timeout:g} s") from None
    except asyncssh.ChannelOpenError as exc:
        raise CollectError("session_limit", f"the device refused a CLI session: {exc.reason}") from None
    except (asyncssh.Error, OSError) as exc:
        raise CollectError("disconnect", f"the session ended before the shell started: {exc}") from None


def _visible(line: str) -> str:
    """A received line as a terminal shows it: pager prompts gone, only what follows the last
    carriage return, no escape sequences."""
    line = PAGER_REMNANT.sub("", line)
    return ESCAPE.sub("", line.rsplit("\r", 1)[-1])


class Received:
    """Everything one shell printed (CRLF made LF), and what a terminal shows at its end."""

    def __init__(self) -> None:
        self.text = ""
        self._held = ""  # carriage returns at the end of a chunk: an LF may follow
        self._pager_answered = 0  # offset in text up to which pager prompts were answered

    def add(self, chunk: str) -> None:
        chunk = self._held + chunk
        kept = chunk.rstrip("\r")
        self._held = chunk[len(kept):]
        self.text += _CRLF.sub("\n", kept)
        if len(self.text) > MAX_TRANSCRIPT_CHARS:
            raise CollectError("other", f"the device sent more than {MAX_TRANSCRIPT_CHARS} characters")

    def pager_waiting(self) -> bool:
        """Whether a pager prompt not answered yet waits at the end (it counts as answered now)."""
        start = max(self.text.rfind("\n", len(self.text) - _TAIL) + 1, len(self.text) - _TAIL, self._pager_answered)
        waiting = PAGER_WAITING.search(self.text, start)
        if waiting:
            self._pager_answered = waiting.end()
        return waiting is not None

    def last_line(self) -> str:
        """The last line as a terminal shows it; "" for a line longer than any prompt."""
        lowest = max(0, len(self.text) - _TAIL)
        newline = self.text.rfind("\n", lowest)
        if newline < 0 and lowest > 0:
            return ""
        return _visible(self.text[newline + 1:])

    def line_start(self) -> int:
        return self.text.rfind("\n") + 1

    def session_limit_line(self, since: int) -> str | None:
        """The line after `since` in which the device says it refuses another CLI session."""
        limit = SESSION_LIMIT.search(self.text, since)
        if not limit:
            return None
        start = self.text.rfind("\n", 0, limit.start()) + 1
        end = self.text.find("\n", limit.end())
        return self.text[start:end if end >= 0 else None].strip()

    def transcript(self, start: int) -> str:
        """From `start` (a prompt line) to the end: pager prompts removed, ending with the
        prompt line."""
        return PAGER_REMNANT.sub("", self.text[start:]).rstrip(" \t") + "\n"


class Shell:
    """Talking to one shell: sending, and waiting for the prompt."""

    def __init__(self, process: asyncssh.SSHClientProcess, command_timeout: float, device_deadline: float,
                 device_timeout: float):
        self._process = process
        self._timeout = command_timeout
        self._device_deadline = device_deadline
        self._device_timeout = device_timeout
        self.received = Received()
        self.prompt = ""
        self._loop = asyncio.get_running_loop()

    # -- sending -------------------------------------------------------------------------------

    def _write(self, data: str) -> None:
        # The allow-list, checked at the one place that writes to the device (an assert that
        # `python -O` cannot strip).
        if not sendable(data):
            raise AssertionError(f"refusing to send {data!r}: not an allowed command")
        try:
            self._process.stdin.write(data)
        except (asyncssh.Error, OSError) as exc:
            raise CollectError("disconnect", f"the session closed: {exc}") from None

    def leave(self) -> None:
        with contextlib.suppress(CollectError):  # already gone: the transcript is complete
            self._write(EXIT + "\n")

    # -- receiving -----------------------------------------------------------------------------

    async def _receive(self, timeout: float) -> bool:
        """One chunk within `timeout` (TimeoutError otherwise); False when the session ended."""
        try:
            async with asyncio.timeout(timeout):
                chunk = await self._process.stdout.read(_READ_SIZE)
        except TimeoutError:  # an OSError too: not a lost connection
            raise
        except (asyncssh.Error, OSError):
            return False
        if not chunk:
            return False
        self.received.add(chunk)
        if self.received.pager_waiting():
            self._write(PAGER_KEY)
        return True

    def _deadline_left(self, deadline: float, waiting_for: str) -> float:
        """Seconds left to wait: the command's limit, and the device's."""
        now = self._loop.time()
        if now >= self._device_deadline:
            raise CollectError("timeout", f"not done within device_timeout {self._device_timeout:g} s")
        if now >= deadline:
            raise CollectError("timeout", f"no prompt {waiting_for} within command_timeout {self._timeout:g} s")
        return min(deadline, self._device_deadline) - now

    def _ended(self, when: str, since: int = 0) -> CollectError:
        line = self.received.session_limit_line(since)
        if line is not None:
            return CollectError("session_limit", f"the device refused another CLI session: {line}")
        return CollectError("disconnect", f"the session ended {when}")

    async def learn_prompt(self) -> None:
        """The prompt: the last line once output pauses, when it looks like a prompt (a banner
        line ends with a newline, so it never is the last line; one that looks like a prompt
        without a newline is caught when the first command's prompt differs)."""
        deadline = self._loop.time() + self._timeout
        while True:
            left = self._deadline_left(deadline, "after login")
            line = self.received.last_line()
            candidate = PROMPT_WAITING.fullmatch(line) is not None
            try:
                got = await self._receive(min(left, PROMPT_SETTLE) if candidate else left)
            except TimeoutError:
                if candidate:
                    self.prompt = line
                    return
                continue  # the deadline check above raises
            if not got:
                raise self._ended("after login, before the prompt")

    async def run(self, command: str, learning: bool = False) -> str:
        """Send one command; its output (from the echo to the prompt line) once the echo has
        come back and then the prompt, at the start of a line (waiting for the echo keeps a
        late prompt of the previous command from ending this one). While `learning`, a
        different prompt-like last line followed by quiet replaces the prompt guessed at login."""
        received = self.received
        since = scanned = len(received.text)
        self._write(command + "\n")
        deadline = self._loop.time() + self._timeout
        echo = -1
        while True:
            left = self._deadline_left(deadline, f"after {command!r}")
            if echo < 0:
                echo = received.text.find(command, scanned)
                scanned = max(since, len(received.text) - len(command))
            line = received.last_line() if echo >= 0 and received.text.find("\n", echo) >= 0 else None
            if line is not None and line.rstrip() == self.prompt.rstrip():
                return received.text[since:]
            relearn = learning and line is not None and PROMPT_WAITING.fullmatch(line) is not None
            try:
                got = await self._receive(min(left, PROMPT_SETTLE) if relearn else left)
            except TimeoutError:
                if relearn and line is not None:
                    log.debug("prompt %r after the first command, not %r", line, self.prompt)
                    self.prompt = line
                    return received.text[since:]
                continue
            if not got:
                raise self._ended(f"during {command!r}", since)
