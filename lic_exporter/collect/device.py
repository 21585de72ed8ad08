"""One device's collection: log in, run its platform's show commands in one shell, and return
the transcript text.

Log in once (one authentication attempt: the password or the one configured key), check the
host key per policy (transport.py), open one shell with a PTY, learn the prompt, switch paging
off, run the platform's show commands (platforms.py), leave with `exit` (shell.py). The
transcript is what the device printed from the prompt line of the first show command to the
prompt at which `exit` was echoed (CRLF made LF, terminal fill dropped, the pager prompts the
collector answered removed, the collector's own password replaced by <redacted>), after a
header line naming the device and listing the file lines of the prompt lines the shell saw
each command echoed at: the parser splits the transcript there and nowhere else. Only
allow-listed commands are ever written to the device.

Failures raise CollectError with a `reason` from REASONS and a message for people; neither ever
holds a password, a passphrase or a key file path, and the device's words in a message pass
`device_text` (secrets redacted, made printable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncssh

from lic_exporter.collect import platforms
from lic_exporter.collect.failures import CollectError, device_text
from lic_exporter.collect.shell import Echo, Shell, open_shell
from lic_exporter.collect.transport import connect
from lic_exporter.sources.capture import transcript_header
from lic_exporter.sources.privacy import without_values
from lic_exporter.sources.terminal import REJECTED_COMMAND

if TYPE_CHECKING:
    from lic_exporter.collect.targets import Secret, Target

log = logging.getLogger("lic_exporter.collect.session")  # the name log lines print (logger=): kept


async def collect_device(target: Target, secret: Secret) -> str:
    """Log in to `target`, run its platform's commands, return the transcript text."""
    # Python 3.11's asyncio.wait_for (used inside asyncssh) can swallow a cancellation that
    # meets a finishing read, so the shell checks the device deadline itself as well.
    deadline = asyncio.get_running_loop().time() + target.device_timeout
    limit = asyncio.timeout_at(deadline)
    try:
        async with limit:
            return await _collect(target, secret, deadline)
    except (TimeoutError, CollectError) as exc:
        if limit.expired():
            raise CollectError("timeout", f"not done within device_timeout {target.device_timeout:g} s") from None
        if isinstance(exc, CollectError):
            raise _scrubbed(exc, secret) from None
        raise CollectError("timeout", "timed out") from None
    except AssertionError:
        raise  # the allow-list refused a command: a bug, never a device's failure
    except Exception as exc:  # a failure of one device must not end the run
        # The frames only: an exception's text is not known to be free of secrets.
        log.warning("%s: unexpected %s in the session:\n%s", target.name, type(exc).__name__,
                    "".join(traceback.format_tb(exc.__traceback__)).rstrip())
        raise CollectError("other", f"unexpected {type(exc).__name__} in the session") from None


def _secrets(secret: Secret) -> tuple[str | None, ...]:
    return secret.password, secret.passphrase, str(secret.key_file) if secret.key_file else None


def _scrubbed(error: CollectError, secret: Secret) -> CollectError:
    """The error without any secret in its message (a second line of defence: no message is
    built from one, but a device may quote the password back)."""
    message = without_values(error.message, _secrets(secret))
    return error if message == error.message else CollectError(error.reason, message)


async def _collect(target: Target, secret: Secret, deadline: float) -> str:
    platform_commands = platforms.COMMANDS.get(target.platform)
    if platform_commands is None:
        raise CollectError("other", f"unknown platform {target.platform!r}")
    conn = await connect(target, secret)
    try:
        text = await _run_session(conn, target, platform_commands, deadline)
        text = without_values(text, _secrets(secret))
    except BaseException:
        conn.abort()
        raise
    conn.close()
    # The transcript is complete: how the device hangs up does not matter.
    with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
        async with asyncio.timeout(1.0):
            await conn.wait_closed()
    return text


async def _run_session(conn: asyncssh.SSHClientConnection, target: Target, commands: Sequence[str],
                       deadline: float) -> str:
    process = await open_shell(conn, target.command_timeout)
    shell = Shell(process, target.command_timeout, deadline, target.device_timeout)
    try:
        await shell.learn_prompt()
        for setup in platforms.TERMINAL_SETUP:
            await shell.run(setup, learning=setup == platforms.TERMINAL_SETUP[0])
        collected = datetime.now(UTC)
        echoes: list[Echo] = []
        for command in commands:
            echoes.append(await shell.run(command))
            _accepted(shell, command, echoes[-1].end, len(shell.received.text))  # stop at the first refusal
        end = await shell.leave(echoes[-1])
    finally:
        process.close()
    # A prompt-looking line inside an output let the next command go early: what the device
    # printed after it belongs to the same command, and is checked with it.
    for command, echo, following in zip(commands, echoes, [e.start for e in echoes[1:]] + [end], strict=True):
        _accepted(shell, command, echo.end, following)
    log.debug("%s: %d commands collected", target.name, len(commands))
    return _transcript(target, shell, echoes, end, collected)


def _accepted(shell: Shell, command: str, start: int, end: int) -> None:
    """CollectError `command` when the output of `command` (text[start:end]) holds a refusal."""
    rejected = REJECTED_COMMAND.search(shell.received.text, start, end)
    if rejected:
        raise CollectError("command", f"the device rejected {command!r}: {device_text(rejected.group(0).strip())}")


def _transcript(target: Target, shell: Shell, echoes: Sequence[Echo], end: int, collected: datetime) -> str:
    """The header line, then the commands' prompt lines and outputs, then the final prompt."""
    received = shell.received
    first = echoes[0].start
    # File lines: the header is line 1, the first prompt line line 2.
    prompt_lines = [2 + received.text.count("\n", first, offset) for offset in (*(e.start for e in echoes), end)]
    header = transcript_header(target.name, target.platform, collected.strftime("%Y-%m-%dT%H:%M:%SZ"), prompt_lines)
    return f"{header}\n{received.transcript(first, end)}{shell.prompt.rstrip()}\n"
