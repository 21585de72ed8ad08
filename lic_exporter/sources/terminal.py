"""What a terminal leaves in text: prompts, pager prompts, escape codes, rejected commands.

The one home of these patterns: the parser reads saved sessions with them and the collector
drives live ones with them, so a prompt or a rejection means the same thing to both.
"""

from __future__ import annotations

import re

# A prompt line in a saved session: host name, optional mode in parentheses, `#` or `>`, then
# what was typed (`nx-dc1-leaf01# show license status`, `Router(config)#do sh lic`).
PROMPT_LINE = re.compile(r"^(?P<host>[A-Za-z0-9][\w.\-:]{0,80}?)(?:\([\w\-/.:]{0,40}\))?[#>]\s?(?P<command>.*)$")
# A prompt waiting for input on a live session: the same shape, at most one space, nothing
# else on the line. Banner lines (spaces, punctuation, longer) do not look like this.
PROMPT_WAITING = re.compile(r"[A-Za-z0-9][\w.\-:/]{0,80}(?:\([\w\-/.:]{0,40}\))?[#>] ?")

# Terminal fill: NUL padding that some terminals send after each line end, and DEL. Never data:
# the collector drops it before it looks for a prompt, and it never reaches a transcript.
TERMINAL_FILL = re.compile(r"[\x00\x7f]+")

# Escape sequences, bounded (an unterminated `ESC ]` must not scan the rest of the line).
ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]{0,32}[ -/]{0,4}[@-~]|\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)?|[@-Z\\-_])")
# Colour codes around a pager prompt.
_SGR = r"(?:\x1b\[[0-9;]*m)?"
_PAGER = r"(?:-- ?More ?--|<-+ More -+>)"
# A pager prompt saved without its erasure, at the start of a line of a saved file.
PAGER_SAVED = re.compile(r"^\s*-+\s?More\s?-+ ?")
# A pager prompt waiting for its key: at the end of what was received.
PAGER_WAITING = re.compile(_SGR + _PAGER + r"(?:\x1b\[[0-9;]*m|[ \t])*\Z")
# A pager prompt and the erasure the device sent after the key (backspaces over it, or a
# carriage return with spaces over it, or erase-to-end-of-line).
PAGER_REMNANT = re.compile(r"[ \t]?" + _SGR + _PAGER + _SGR + r"[ \t]?"
                           + r"(?:\x08+(?:[ \t]+\x08+)?|\r(?:[ \t]+\r)?|\x1b\[K)*")

# A line in which the device refuses a command it was given (NX-OS, IOS-XE, AAA command
# authorization), at the start of a line of output.
REJECTED_COMMAND = re.compile(
    r"^[ \t]*(?:%[ \t]*(?:(?:Invalid|Incomplete|Ambiguous|Unrecognized|Unknown) (?:command|input|parameter)"
    r"|Permission denied|Authorization failed)|Command authorization failed|Syntax error while parsing)[^\n]*",
    re.IGNORECASE | re.MULTILINE)

# The device refuses another CLI session.
SESSION_LIMIT = re.compile(
    r"session limit|maximum (?:number of )?(?:sessions|users|vty|connections|logins)"
    r"|too many (?:sessions|users|connections|logins)"
    r"|all (?:vty )?(?:lines|sessions|ports) (?:are )?(?:busy|in use)"
    r"|no (?:free|available|more) (?:vty|lines?|sessions?)",
    re.IGNORECASE)
