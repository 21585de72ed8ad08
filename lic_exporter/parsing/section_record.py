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
# split, so a `Label: value` line is never taken apart.
_JOINED_HEADER = re.compile(
    r"^(?P<header>\s*(?:Registration|License Authorization|Smart Licensing Using Policy|Utility|Account Information"
    r"|Transport|Policy|Usage Reporting|License Usage|(?:Smart )?License Conversion):)[ \t]*"
    r"(?P<rest>(?:Status|Smart Account|Type|Policy in use|Last ACK received|Automatic Conversion Enabled):\s.*"
    r"|License\s+Entitlement\s+[Tt]ag\b.*|\([^()]*\):)$")


def unjoined(lines: list[str]) -> str:
    """The section's text for the templates: blank lines dropped (they carry nothing), joined
    block headers split again. A value's file line is still found (Context.line_of searches
    the lines as captured, and both halves are in the joined line)."""
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        joined = _JOINED_HEADER.match(line) if ":" in line else None
        out.extend((joined["header"], joined["rest"]) if joined else (line,))
    return "\n".join(out)


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
