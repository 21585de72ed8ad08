"""What is ever sent to a device: each platform's show commands, the terminal setup, and the
allow-list that every line written to a switch passes.

The platform knowledge of the collector: the shell and the SSH transport know nothing of
NX-OS or IOS-XE; adding a platform means adding its commands here.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

Platform = Literal["nxos", "iosxe"]
PLATFORMS: tuple[Platform, ...] = get_args(Platform)

COMMANDS: dict[str, tuple[str, ...]] = {
    "nxos": ("show clock", "show license status", "show license usage",
             "show running-config callhome", "show callhome"),
    "iosxe": ("show clock", "show license status", "show license usage"),
}
# Best effort: a device that refuses one of these still pages, and the pager is answered.
TERMINAL_SETUP = ("terminal length 0", "terminal width 511")

ALLOWED = ("show ", "terminal ")  # plus the exact command EXIT
EXIT = "exit"
PAGER_KEY = " "  # the one keystroke besides allowed commands: it answers a `--More--`

# Characters that never belong in a show command: control characters (a newline would start
# another command), NX-OS command chaining `;`, output redirection `>` and pipes `|`
# (`| redirect`, `| tee` write files on the device).
_UNSAFE_COMMAND = re.compile(r"[^\x20-\x7e]|[;|>]")
_MAX_COMMAND = 200


def allowed(command: str) -> bool:
    """Whether `command` may be sent to a device: `show ...`, `terminal ...` or `exit`, one
    line of printable ASCII without chaining, pipes or redirection."""
    if not command or len(command) > _MAX_COMMAND or _UNSAFE_COMMAND.search(command):
        return False
    if command == EXIT:
        return True
    return any(command.startswith(prefix) and command[len(prefix):].strip() for prefix in ALLOWED)


def sendable(data: str) -> bool:
    """What may be written to the channel: an allowed command and its newline, or the pager key."""
    return data == PAGER_KEY or (data.endswith("\n") and allowed(data[:-1]))
