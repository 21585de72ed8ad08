"""One interactive shell on a switch: open it with a PTY, learn its prompt, answer its pager,
send each command and wait for the prompt, leave with `exit`, and keep everything it printed
with the places where each command was echoed.

Where an output ends is never taken from a prompt-looking line: a command's output runs from
the line where the device echoed it after the prompt to the line where it echoed the next
command, and the last command's to the prompt at which `exit` was echoed, read once the device
closed the channel. A prompt-looking line followed by a pause inside an output only lets the
next command be sent early (the device reads it when it is ready); it ends nothing. A pager
prompt is answered when it is the last thing received and the device then pauses, and only the
pager prompts answered are removed from the transcript (`--More--` in the data stays). Terminal
fill (NUL, DEL) is dropped as it arrives, before any prompt is looked for.

The shell knows terminals, not platforms: what to send comes from platforms.py, and every line
it writes passes the allow-list there. What a prompt, a pager prompt or a session-limit notice
looks like is sources/terminal.py's, shared with the parser that reads the saved transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import asyncssh

from lic_exporter.collect.failures import CollectError, device_text
from lic_exporter.collect.platforms import EXIT, PAGER_KEY, sendable
from lic_exporter.collect.transport import closed_by_device, said_session_limit
from lic_exporter.sources.printable import printable
from lic_exporter.sources.terminal import (
    ESCAPE,
    PAGER_REMNANT,
    PAGER_WAITING,
    PROMPT_WAITING,
    SESSION_LIMIT,
    TERMINAL_FILL,
)

log = logging.getLogger("lic_exporter.collect.session")  # the name log lines print (logger=): kept

TERM_TYPE = "vt100"
TERM_SIZE = (511, 24)  # columns, rows
PROMPT_SETTLE = 0.2  # seconds of quiet after a prompt-like last line, or a pager prompt, before it is taken
MAX_TRANSCRIPT_CHARS = 8 << 20  # a device printing without end is cut off here
_READ_SIZE = 65536
# Prompts and pager prompts are short: only this much of the end of the received text, or of a
# line, is looked at, so that a huge line costs no more than a short one.
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
        raise _no_shell(conn, exc) from None
    except (asyncssh.Error, OSError) as exc:
        raise CollectError("disconnect", f"the session ended before the shell started: {printable(str(exc))}") from None


def _no_shell(conn: asyncssh.SSHClientConnection, exc: asyncssh.ChannelOpenError) -> CollectError:
    """Why no shell: `session_limit` only where the device said so (the refusal's code or words,
    or its disconnect message); a connection closed without saying so is `disconnect`."""
    said = closed_by_device(conn)
    if exc.code == asyncssh.OPEN_RESOURCE_SHORTAGE or SESSION_LIMIT.search(exc.reason) or said_session_limit(conn):
        return CollectError("session_limit", f"the device refused a CLI session: {said or printable(exc.reason)}")
    if said is not None:
        words = f": {said}" if said else " (it gave no reason)"
        return CollectError("disconnect", f"the device closed the connection right after the login, before a shell "
                                          f"started{words}")
    return CollectError("other", f"the device refused a shell: {printable(exc.reason)}")


def _visible(line: str) -> str:
    """A received line as a terminal shows it: pager prompts gone, only what follows the last
    carriage return, no escape sequences."""
    line = PAGER_REMNANT.sub("", line)
    return ESCAPE.sub("", line.rsplit("\r", 1)[-1])


@dataclass(frozen=True)
class Echo:
    """Where the device echoed a command after its prompt: the line's start and its newline."""

    start: int
    end: int


class Received:
    """Everything one shell printed (CRLF made LF, terminal fill dropped), the pager prompts
    answered in it, and what a terminal shows at its end."""

    def __init__(self) -> None:
        self.text = ""
        self._held = ""  # carriage returns at the end of a chunk: an LF may follow
        self._answered: list[int] = []  # offsets of the pager prompts answered

    def add(self, chunk: str) -> None:
        chunk = TERMINAL_FILL.sub("", self._held + chunk)
        kept = chunk.rstrip("\r")
        self._held = chunk[len(kept):]
        self.text += _CRLF.sub("\n", kept)
        if len(self.text) > MAX_TRANSCRIPT_CHARS:
            raise CollectError("other", f"the device sent more than {MAX_TRANSCRIPT_CHARS} characters")

    def pager_waiting(self) -> int | None:
        """Where a pager prompt not answered yet starts, when one is the last thing received."""
        lowest = max(0, len(self.text) - _TAIL)
        waiting = PAGER_WAITING.search(self.text, max(self.text.rfind("\n", lowest) + 1, lowest))
        if waiting is None:
            return None
        start = waiting.start() - (waiting.start() > 0 and self.text[waiting.start() - 1] in " \t")
        return None if self._answered and start <= self._answered[-1] else start

    def answered(self, offset: int) -> None:
        self._answered.append(offset)

    def last_line(self) -> str:
        """The last line as a terminal shows it; "" for a line longer than any prompt."""
        lowest = max(0, len(self.text) - _TAIL)
        newline = self.text.rfind("\n", lowest)
        if newline < 0 and lowest > 0:
            return ""
        return _visible(self.text[newline + 1:])

    def line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1

    def lines(self, start: int) -> Iterator[tuple[int, int, str | None]]:
        """(start, end, as a terminal shows it) of each whole line from `start` (a line start);
        the text is None for a line longer than any prompt."""
        text = self.text
        while (end := text.find("\n", start)) >= 0:
            yield start, end, _visible(text[start:end]) if end - start <= _TAIL else None
            start = end + 1

    def lines_backwards(self, lowest: int) -> Iterator[tuple[int, str]]:
        """(start, as a terminal shows it, right-stripped) of each line from the last (finished
        or not) back to the one starting at `lowest`; a line longer than any prompt shows as
        "..." (never a prompt, never blank)."""
        text = self.text
        end = len(text)
        while end >= lowest:
            start = max(text.rfind("\n", lowest, end) + 1, lowest)
            yield start, _visible(text[start:end]).rstrip() if end - start <= _TAIL else "..."
            end = start - 1

    def session_limit_line(self, since: int) -> str | None:
        """The line after `since` in which the device says it refuses another CLI session."""
        limit = SESSION_LIMIT.search(self.text, since)
        if not limit:
            return None
        start = self.text.rfind("\n", 0, limit.start()) + 1
        end = self.text.find("\n", limit.end())
        return self.text[start:end if end >= 0 else None].strip()

    def transcript(self, start: int, end: int) -> str:
        """The text from `start` to `end` without the pager prompts answered in it (and the
        erasure the device sent after each key)."""
        pieces, position = [], start
        for offset in self._answered:
            if position <= offset < end:
                remnant = PAGER_REMNANT.match(self.text, offset, end)
                pieces.append(self.text[position:offset])
                position = remnant.end() if remnant else offset
        pieces.append(self.text[position:end])
        return "".join(pieces)


class Shell:
    """Talking to one shell: sending, and waiting for the echo and the prompt."""

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
            raise CollectError("disconnect", f"the session closed: {printable(str(exc))}") from None

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
        return True

    async def _more(self, left: float, settle: bool = False) -> bool | None:
        """Wait for the next chunk: True when one came, False when the session ended, None when
        the device stayed quiet (for PROMPT_SETTLE where `settle` or a pager prompt waits: the
        pager prompt is answered then)."""
        pager = self.received.pager_waiting()
        try:
            return await self._receive(min(left, PROMPT_SETTLE) if settle or pager is not None else left)
        except TimeoutError:
            if pager is not None:
                self.received.answered(pager)
                with contextlib.suppress(CollectError):  # gone: the next read says so
                    self._write(PAGER_KEY)
            return None

    def _deadline_left(self, deadline: float, waiting_for: str) -> float:
        """Seconds left to wait: the command's limit, and the device's."""
        now = self._loop.time()
        if now >= self._device_deadline:
            raise CollectError("timeout", f"not done within device_timeout {self._device_timeout:g} s")
        if now >= deadline:
            raise CollectError("timeout", f"no {waiting_for} within command_timeout {self._timeout:g} s")
        return min(deadline, self._device_deadline) - now

    def _ended(self, when: str, since: int = 0) -> CollectError:
        line = self.received.session_limit_line(since)
        if line is not None:
            return CollectError("session_limit", f"the device refused another CLI session: {device_text(line)}")
        return CollectError("disconnect", f"the session ended {when}")

    async def learn_prompt(self) -> None:
        """The prompt: the last line once output pauses, when it looks like a prompt (a banner
        line ends with a newline, so it never is the last line; one that looks like a prompt
        without a newline is put right by the first command's echo)."""
        deadline = self._loop.time() + self._timeout
        while True:
            left = self._deadline_left(deadline, "prompt after login")
            line = self.received.last_line()
            candidate = PROMPT_WAITING.fullmatch(line) is not None
            got = await self._more(left, settle=candidate)
            if got is None and candidate and line == self.received.last_line():
                self.prompt = line
                return
            if got is False:
                raise self._ended("after login, before the prompt")

    def _echo(self, command: str, line: str | None, learning: bool) -> bool:
        """Whether a received line is the prompt followed by `command`. While `learning` (the
        first command), any prompt-shaped start is taken, and is the prompt from then on."""
        if line is None or not line.rstrip().endswith(command):
            return False
        prompt = line.rstrip()[:-len(command)]
        if prompt.rstrip() == self.prompt.rstrip():
            return True
        if learning and PROMPT_WAITING.fullmatch(prompt):
            log.debug("prompt %s after the first command, not %s", printable(repr(prompt)),
                      printable(repr(self.prompt)))
            self.prompt = prompt
            return True
        return False

    def _prompt_after(self, echo: Echo) -> bool:
        """Whether the last line, after the echo's, shows the prompt."""
        return (self.received.text.rfind("\n") >= echo.end
                and self.received.last_line().rstrip() == self.prompt.rstrip())

    async def run(self, command: str, learning: bool = False) -> Echo:
        """Send one command; where it was echoed, once the prompt shows after the echo (waiting
        for the echo keeps a late prompt of the previous command from counting for this one)."""
        received = self.received
        since = len(received.text)
        scan = received.line_start(since)
        self._write(command + "\n")
        deadline = self._loop.time() + self._timeout
        echo: Echo | None = None
        while True:
            left = self._deadline_left(deadline, f"prompt after {command!r}")
            if echo is None:
                for start, end, line in received.lines(scan):
                    scan = end + 1
                    if self._echo(command, line, learning):
                        echo = Echo(start, end)
                        break
            if echo is not None and self._prompt_after(echo):
                return echo
            if await self._more(left) is False:
                raise self._ended(f"during {command!r}", since)

    async def leave(self, last: Echo) -> int:
        """Send `exit` and read until the device closes the session; where the transcript ends:
        the line of the prompt at which `exit` was echoed (or, for a device that closes without
        echoing it, the prompt that is the last thing it printed)."""
        with contextlib.suppress(CollectError):  # already closed: what it printed decides below
            self._write(EXIT + "\n")
        deadline = self._loop.time() + self._timeout
        while await self._more(self._deadline_left(deadline, "end of the session after 'exit'")) is not False:
            pass
        prompt = self.prompt.rstrip()
        printed_after = False  # something other than blank lines after the line looked at
        for start, shown in self.received.lines_backwards(last.end + 1):
            if shown.endswith(EXIT) and shown[:-len(EXIT)].rstrip() == prompt:
                return start  # exit echoed: whatever follows is the device's goodbye
            if shown == prompt and not printed_after:
                return start  # closed without echoing exit, the prompt the last thing printed
            printed_after = printed_after or bool(shown)
        raise self._ended("before the last command's output was complete", last.end)
