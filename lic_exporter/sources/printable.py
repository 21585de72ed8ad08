"""Text that a device or a file supplied, made safe to put on one line of a log, an error message,
a metric label or a web page: nothing in it can end the line, start a forged record or drive a
terminal.

One function, `printable`: line ends (CR, LF, and the other characters that break a line) are
folded into one space, every other control or escape character is shown as its Python escape
(`\\x1b`, `\\t`, `\\u202e`), and the result is capped in length. Text that is already short and
printable comes back unchanged (the common case costs one `str.isprintable`).
"""

from __future__ import annotations

import re

MAX_CHARS = 200  # a device's reason or rejected line; longer text is cut, and says so
CUT_MARK = "..."
# Characters that end a line for some reader (str.splitlines, terminals, browsers): folded.
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")


def printable(text: str, limit: int = MAX_CHARS) -> str:
    """`text` on one line, every control character visible as an escape, at most `limit`
    characters (then ending in `...`)."""
    if len(text) <= limit and text.isprintable():
        return text
    # Cut before escaping (an escape is up to ten characters), so a huge text costs its cut only.
    text = _LINE_BREAKS.sub(" ", text[:limit * 2 + 1]).strip()
    shown = "".join(char if char.isprintable() else _escaped(char) for char in text)
    if len(shown) <= limit:
        return shown
    return shown[:max(limit - len(CUT_MARK), 0)] + CUT_MARK


def _escaped(char: str) -> str:
    """A non-printable character as a Python escape (repr without its quotes)."""
    if char == "\t":
        return "\\t"
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
