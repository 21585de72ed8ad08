"""Licence rows -> Entitlement models.

The `(TAG):` blocks of `show license usage` and `all`, the `Handle: N` blocks of `show license
tech support`, and the legacy NX-OS `show license usage` table.
"""

from __future__ import annotations

from lic_exporter.model import records as m
from lic_exporter.model import states as s
from lic_exporter.parsing.completeness import CUT
from lic_exporter.parsing.fields import Fields, SectionError
from lic_exporter.sources.values import BadValueError, parse_duration


def block_entitlement(row: Fields) -> m.Entitlement:
    tag = row.raw("TAG").strip()
    return _entitlement(row, tag, _entitlement_status(row, f"({tag}):", f"licence block '({tag}):'"))


def handle_entitlement(row: Fields) -> m.Entitlement:
    """A `Handle: N` block of `show license tech support`. Its tag is the Description, the
    name `show license usage` and `summary` print in parentheses for the same licence, so a
    device's series keep their identity whichever command was captured; the `regid...`
    Entitlement Tag is kept beside it."""
    handle = f"Handle: {row.raw('HANDLE')}"
    state_text = _entitlement_status(row, handle, f"licence block '{handle}'")
    tag = row.text("DESCRIPTION") or row.text("NAME") or row.text("REGID") or handle
    return _entitlement(row, tag, state_text, regid=row.text("REGID"))


def _entitlement(row: Fields, tag: str, state_text: str, regid: str | None = None) -> m.Entitlement:
    return m.Entitlement(
        tag=tag,
        name=row.text("NAME"),
        description=row.text("DESCRIPTION"),
        count=row.count("COUNT"),
        version=row.text("VERSION"),
        state=s.entitlement_state(state_text),
        state_text=state_text,
        enforcement=row.text("ENFORCEMENT"),
        license_type=row.text("LICENSE_TYPE"),
        export_status=row.text("EXPORT_STATUS"),
        regid=regid,
    )


def _entitlement_status(row: Fields, header: str, what: str) -> str:
    """A licence block's Status; missing, it is a cut only where the output ends inside the
    block, else the licence stays with state unknown."""
    if row.has("STATUS"):
        return row.text("STATUS") or ""
    line = row.ctx.line_of(header)
    if row.ctx.ends_inside(line):
        raise SectionError(line, f"{what} has no Status line {CUT}")
    row.ctx.note(line, f"{what} has no Status line: its state is unknown")
    return ""


def legacy_entitlement(row: Fields) -> m.Entitlement:
    state_text = row.raw("STATUS")
    comments = row.text("COMMENTS") or ""
    grace = comments[len("Grace"):] if comments.lower().startswith("grace") else None
    try:
        grace_remaining = parse_duration(grace) if grace else None
    except BadValueError as exc:
        raise SectionError(row.line("COMMENTS"), f"Comments: {exc}") from None
    return m.Entitlement(
        tag=row.raw("FEATURE"),
        count=row.count("COUNT"),
        state=s.entitlement_state(state_text),
        state_text=state_text,
        installed=row.flag("INSTALLED"),
        grace_remaining=grace_remaining,
    )


def controller_entitlements(rows: list[Fields]) -> list[m.Entitlement]:
    """NX-OS 10.5 `show license controller usage`: one entitlement per licence, in use when
    any Nexus Dashboard cluster asks for it; the clusters asking are named in the description."""
    asking: dict[str, list[str]] = {}
    for row in rows:
        clusters = asking.setdefault(row.raw("TAG"), [])
        if row.raw("REQUESTED").upper() == "TRUE":
            clusters.append(row.text("CLUSTER") or "?")
    return [m.Entitlement(
        tag=tag,
        description=f"requested by Nexus Dashboard controller {', '.join(clusters)}" if clusters else None,
        state=s.EntitlementState.IN_USE if clusters else s.EntitlementState.NOT_IN_USE,
        state_text="TRUE" if clusters else "FALSE",
    ) for tag, clusters in asking.items()]
