"""One section's output -> its record: the index row's templates run, each row handed to the
builder of that template's role."""

from __future__ import annotations

import pydantic
from textfsm import TextFSMError

from lic_exporter.model.records import Entitlement, Record
from lic_exporter.parsing import build, callhome
from lic_exporter.parsing.entitlements import block_entitlement, handle_entitlement, legacy_entitlement
from lic_exporter.parsing.fields import Context, Fields, RowValues, SectionError
from lic_exporter.parsing.templates import SYSLOG_TEMPLATE, IndexRow, TemplateIndex
from lic_exporter.sources.capture import Section

# What each template's rows become. Every template in the index has a role here.
STATUS, ENTITLEMENT_BLOCKS, ENTITLEMENT_HANDLES, ENTITLEMENT_LEGACY, CALLHOME_CONFIG, CALLHOME_SHOW = (
    "status", "entitlement_blocks", "entitlement_handles", "entitlement_legacy", "callhome_config", "callhome_show")
TEMPLATE_ROLES = {
    SYSLOG_TEMPLATE: "syslog",
    "cisco_smart_agent_status.textfsm": STATUS,
    "cisco_smart_agent_usage.textfsm": ENTITLEMENT_BLOCKS,
    "cisco_smart_agent_usage_table.textfsm": ENTITLEMENT_BLOCKS,
    "cisco_smart_agent_usage_handles.textfsm": ENTITLEMENT_HANDLES,
    "cisco_nxos_license_usage_legacy.textfsm": ENTITLEMENT_LEGACY,
    "cisco_nxos_show_running_config_callhome.textfsm": CALLHOME_CONFIG,
    "cisco_nxos_show_callhome.textfsm": CALLHOME_SHOW,
}
_ENTITLEMENT_BUILDERS = {ENTITLEMENT_BLOCKS: block_entitlement, ENTITLEMENT_HANDLES: handle_entitlement,
                         ENTITLEMENT_LEGACY: legacy_entitlement}


def section_record(index: TemplateIndex, section: Section, row: IndexRow, ctx: Context) -> Record | None:
    text = "\n".join(line for line in section.lines if line)  # blank lines carry nothing
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
