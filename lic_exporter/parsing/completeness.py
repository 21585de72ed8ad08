"""Whether a `show license` output is whole, or was cut off mid-way.

A cut output is refused (a SectionError naming its last line), not passed off as a record
with blanks; a line missing from an output that is otherwise whole is only noted.
"""

from __future__ import annotations

import re

from lic_exporter.model import states as s
from lic_exporter.parsing.fields import LABELS, Context, Fields, SectionError

CUT = "(output cut off?)"


def cut_off(ctx: Context, what: str) -> SectionError:
    """An output that stops early: the error names the last line there is."""
    return SectionError(ctx.last_text_line(), f"{what} {CUT}")


def check_whole(status: Fields, ctx: Context) -> None:
    """An output cut off mid-way must be refused, not passed off as a record with blanks.
    The rules, one function each, say what a whole output has."""
    for rule in (_no_stray_lines, _registration_whole, _authorization_whole, _policy_whole, _trailer_whole):
        rule(status, ctx)


def _no_stray_lines(status: Fields, ctx: Context) -> None:
    """A line of a block this tool reads, met where no such block is open (its header is
    missing, or a copy joined it to another line): the block's values would be silently lost,
    so the output is refused, naming the first such line."""
    stray = status.values.get("STRAY") or []
    if stray:
        label = stray[0].split(":", 1)[0]
        raise SectionError(ctx.line_of(stray[0]), f"'{label}:' stands outside the block it belongs to (the block's "
                           f"header is missing or joined to another line): {len(stray)} line(s) not read")


def _registration_whole(status: Fields, ctx: Context) -> None:
    if not status.has("REG_HEADER"):
        return
    header = ctx.line_of("Registration:")
    if not status.has("REG_STATUS"):
        if ctx.ends_inside(header):
            raise SectionError(header, f"'Registration:' block has no Status line {CUT}")
        ctx.note(header, "'Registration:' block has no Status line: registration state unknown")
    if not status.has("AUTH_HEADER"):  # the contract: a classic status output without it is an error
        if ctx.ends_inside(header):
            raise cut_off(ctx, f"'{ctx.command}' output ends before its 'License Authorization:' block")
        raise SectionError(header, f"'{ctx.command}' output has no 'License Authorization:' block")
    if s.registration_state(status.raw("REG_STATUS")) is s.RegistrationState.UNKNOWN:
        _unknown_state_not_last(status, "REG_STATUS", ctx)


# What a whole authorization block states in each state; its absence is a cut only where the
# output ends inside the block (IOS-XE 16.x `show license summary` prints no deadline at all).
_AUTHORIZATION_NEEDS = {
    s.AuthorizationState.AUTHORIZED: "COMM_DEADLINE", s.AuthorizationState.OUT_OF_COMPLIANCE: "COMM_DEADLINE",
    s.AuthorizationState.AUTHORIZATION_EXPIRED: "COMM_DEADLINE", s.AuthorizationState.EVALUATION: "EVAL_REMAINING"}


def _authorization_whole(status: Fields, ctx: Context) -> None:
    if not status.has("AUTH_HEADER"):
        return
    header = ctx.line_of("License Authorization:")
    if not status.has("AUTH_STATUS"):
        if ctx.ends_inside(header):
            raise cut_off(ctx, "'License Authorization:' block has no Status line")
        ctx.note(header, "'License Authorization:' block has no Status line: authorization state unknown")
        return
    # Outputs with a Registration block print the whole authorization block; `show license
    # usage` prints only its Status line.
    if not status.has("REG_HEADER"):
        return
    state = s.authorization_state(status.raw("AUTH_STATUS"))
    needs = _AUTHORIZATION_NEEDS.get(state)
    if needs and not status.has(needs) and ctx.ends_inside(header):
        raise cut_off(ctx, f"'License Authorization:' block ends before '{LABELS[needs]}:'")
    if state is s.AuthorizationState.UNKNOWN:
        _unknown_state_not_last(status, "AUTH_STATUS", ctx)


def _unknown_state_not_last(status: Fields, name: str, ctx: Context) -> None:
    """A state word no table knows, on the last line there is, is most likely cut mid-word."""
    line = status.line(name)
    if line >= ctx.last_text_line() and not ctx.closed:
        raise SectionError(line, f"unknown state {status.raw(name)!r} on the last line {CUT}")


def _policy_whole(status: Fields, ctx: Context) -> None:
    if (status.flag("SLP_STATUS") and not status.has("USAGE_HEADER") and ctx.command in _WITH_USAGE_REPORTING
            and not ctx.closed):
        raise cut_off(ctx, f"'{ctx.command}' output ends before its 'Usage Reporting:' block")
    if status.has("USAGE_HEADER"):
        header = ctx.line_of("Usage Reporting:")
        for name in ("NEXT_ACK_DEADLINE", "LAST_REPORT_PUSH"):
            if not status.has(name) and ctx.ends_inside(header):
                raise cut_off(ctx, f"'Usage Reporting:' block has no '{LABELS[name]}:' line")


_WITH_USAGE_REPORTING = ("show license status", "show license all", "show license tech support")
_LICENCE_HEADER = re.compile(r"^\s*(?:\S.*)?\([^()]*\):\s*$|^\s*Handle:\s*\d+\s*$|^\s*License Usage:?\s*$")


def _trailer_whole(status: Fields, ctx: Context) -> None:
    """`show license all` lists its licences, then Product Information and Agent Version: a
    list that is the last thing in an output with no prompt after it may be short."""
    if ctx.command not in FULL_LISTINGS or status.has("UDI") or status.has("AGENT_VERSION"):
        return
    last = max((ctx.first_line + n for n, line in enumerate(ctx.lines) if _LICENCE_HEADER.match(line)), default=None)
    cut = not ctx.closed if last is None else ctx.ends_inside(last)
    if cut:
        raise cut_off(ctx, f"'{ctx.command}' output ends before its 'Product Information' block")


FULL_LISTINGS = ("show license all", "show license tech support")
