"""One section's output -> its record: the index row's templates run, each row handed to the
builder of that template's role."""

from __future__ import annotations

import re

import pydantic
from textfsm import TextFSMError

from lic_exporter.model.records import Entitlement, Record
from lic_exporter.parsing import build, callhome
from lic_exporter.parsing.entitlements import (
    block_entitlement,
    controller_entitlements,
    handle_entitlement,
    legacy_entitlement,
)
from lic_exporter.parsing.fields import Context, Fields, RowValues, SectionError
from lic_exporter.parsing.templates import SYSLOG_TEMPLATE, IndexRow, TemplateIndex
from lic_exporter.sources.capture import Section

# What each template's rows become. Every template in the index has a role here.
STATUS, ENTITLEMENT_BLOCKS, ENTITLEMENT_HANDLES, ENTITLEMENT_LEGACY, CALLHOME_CONFIG, CALLHOME_SHOW = (
    "status", "entitlement_blocks", "entitlement_handles", "entitlement_legacy", "callhome_config", "callhome_show")
ENTITLEMENT_CONTROLLER = "entitlement_controller"  # licences Nexus Dashboard asks for, added up per licence
TEMPLATE_ROLES = {
    SYSLOG_TEMPLATE: "syslog",
    "cisco_smart_agent_status.textfsm": STATUS,
    "cisco_smart_agent_usage.textfsm": ENTITLEMENT_BLOCKS,
    "cisco_smart_agent_usage_table.textfsm": ENTITLEMENT_BLOCKS,
    "cisco_smart_agent_usage_handles.textfsm": ENTITLEMENT_HANDLES,
    "cisco_nxos_license_usage_legacy.textfsm": ENTITLEMENT_LEGACY,
    "cisco_nxos_show_running_config_callhome.textfsm": CALLHOME_CONFIG,
    "cisco_nxos_show_callhome.textfsm": CALLHOME_SHOW,
    "cisco_nxos_license_controller_usage.textfsm": ENTITLEMENT_CONTROLLER,
}
_ENTITLEMENT_BUILDERS = {ENTITLEMENT_BLOCKS: block_entitlement, ENTITLEMENT_HANDLES: handle_entitlement,
                         ENTITLEMENT_LEGACY: legacy_entitlement}


# A block header with its first line joined to it, as copies in documentation and chat print
# them (`Registration:Status: REGISTERED`, `License Usage: License  Entitlement tag ...`): read
# as the two lines the device printed. Only a header followed by its block's own first label is
# split, so a `Label: value` line is never taken apart. Applied to the section's text at once,
# line by line through MULTILINE: no part of it crosses a line end (`[^\S\n]` is `\s` but the
# newline, `.` and `[^()\n]` stop there too), so each line is read exactly as on its own.
_FIRST_LABELS = r"Status|Smart Account|Type|Policy in use|Last ACK received|Automatic Conversion Enabled"
_JOINED_HEADER = re.compile(
    r"^(?P<header>[^\S\n]*(?:Registration|License Authorization|Smart Licensing Using Policy|Utility"
    r"|Account Information|Transport|Policy|Usage Reporting|License Usage|(?:Smart )?License Conversion):)"
    rf"[ \t]*(?P<rest>(?:{_FIRST_LABELS}):[^\S\n].*|License[^\S\n]+Entitlement[^\S\n]+[Tt]ag\b.*|\([^()\n]*\):)$",
    re.MULTILINE)
# What every such line holds from its header's colon on: searched first, from colon to colon
# (the joined header itself is tried at every position of the text, so only when this is there).
_MAYBE_JOINED = re.compile(rf":[ \t]*(?:{_FIRST_LABELS}|License|\()")


def unjoined(lines: list[str]) -> str:
    """The section's text for the templates: blank lines dropped (they carry nothing), joined
    block headers split again. A value's file line is still found (Context.line_of searches
    the lines as captured, and both halves are in the joined line)."""
    text = "\n".join(filter(None, lines))
    if _MAYBE_JOINED.search(text) is None:
        return text
    return _JOINED_HEADER.sub(_split_header, text)


def _split_header(joined: re.Match[str]) -> str:
    return f"{joined['header']}\n{joined['rest']}"


def section_record(index: TemplateIndex, section: Section, row: IndexRow, ctx: Context) -> Record | None:
    text = unjoined(section.lines)
    status: Fields | None = None
    entitlements: list[Entitlement] | None = None
    for name in row.templates:
        role = TEMPLATE_ROLES[name]
        rows = [Fields(values, ctx) for values in _run(index, name, text, ctx)]
        if role in (CALLHOME_CONFIG, CALLHOME_SHOW):  # one row; none at all: nothing configured
            convert = callhome.callhome_config_record if role == CALLHOME_CONFIG else callhome.show_callhome_record
            return convert(ctx, rows[0] if rows else Fields({}, ctx))
        if role == STATUS:
            status = rows[0] if rows else None
        elif role == ENTITLEMENT_CONTROLLER:
            entitlements = (entitlements or []) + controller_entitlements(rows)
        else:
            entitlements = (entitlements or []) + [_ENTITLEMENT_BUILDERS[role](fields) for fields in rows]
    try:
        return build.license_record(ctx, status, tuple(entitlements) if entitlements is not None else None)
    except pydantic.ValidationError as exc:  # a value the models refuse: name it, do not crash
        raise SectionError(ctx.first_line, f"unexpected value: {exc.errors()[0]['msg']}") from None


def _run(index: TemplateIndex, name: str, text: str, ctx: Context) -> list[RowValues]:
    try:
        return index.fsms[name].rows(text)
    except TextFSMError as exc:
        message = str(exc)
        reason = message.split(". Rule Line:", 1)[0].removeprefix("Error: ")
        culprit = message.split("Input Line: ", 1)[-1].rstrip(".")
        raise SectionError(ctx.line_of(culprit), reason) from None
