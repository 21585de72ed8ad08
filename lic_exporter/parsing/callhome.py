"""Call-home rows (`show running-config callhome`, `show callhome`) -> CallhomeRecord."""

from __future__ import annotations

from lic_exporter.model import records as m
from lic_exporter.parsing.fields import Context, Fields
from lic_exporter.sources.privacy import safe_url, scrub


def callhome_config_record(ctx: Context, row: Fields) -> m.CallhomeRecord:
    """An output with no `callhome` line (only `!Command`, `!Time`, `version`) is a switch
    where call-home was never configured: disabled."""
    configured = row.has("CALLHOME")
    return m.CallhomeRecord(
        **ctx.base(),
        enabled=row.has("ENABLE") if configured else False,
        email_contact_set=row.has("EMAIL"),
        phone_contact_set=row.has("PHONE"),
        street_address_set=row.has("ADDRESS"),
        destination_profiles=_profiles(row),
        http_vrf=row.text("HTTP_VRF"),
        http_proxy_configured=row.has("PROXY_SERVER"),
        http_proxy_enabled=row.has("PROXY_ENABLE"),
        http_source_interface=row.text("SOURCE_INTERFACE"),
        unknown_lines=len(row.values.get("UNKNOWN") or ()),
    )


def _profiles(row: Fields) -> tuple[m.DestinationProfile, ...]:
    methods: dict[str, str | None] = {}
    urls: dict[str, list[tuple[int, str]]] = {}
    for item in row.values.get("PROFILE_METHOD") or []:
        methods[item["profile"]] = item["method"]
    for item in row.values.get("PROFILE_URL") or []:
        methods.setdefault(item["profile"], None)
        urls.setdefault(item["profile"], []).append((int(item["index"]), safe_url(scrub(item["url"]))))
    return tuple(
        m.DestinationProfile(name=name, transport_method=method,
                             urls=tuple(url for _, url in sorted(urls.get(name, []))))
        for name, method in methods.items()
    )


def show_callhome_record(ctx: Context, row: Fields) -> m.CallhomeRecord:
    state = row.text("STATE")
    return m.CallhomeRecord(
        **ctx.base(),
        enabled=None if state is None else state == "enabled",
        email_contact_set=row.has("EMAIL"),
        phone_contact_set=row.has("PHONE"),
        street_address_set=row.has("ADDRESS"),
        unknown_lines=len(row.values.get("UNKNOWN") or ()),
    )
