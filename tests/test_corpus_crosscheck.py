"""An independent check: where ntc-templates' own expectations for a real sample state a
field we also read, our typed value must say the same thing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lic_exporter.parsing.files import Parser
from lic_exporter.sources.values import clean, parse_timestamp


def _ntc(corpus: Path, relative: str) -> list[dict[str, str]]:
    return yaml.safe_load((corpus / relative).read_text())["parsed_sample"]


@pytest.mark.parametrize("name", ["ntc_1", "ntc_2", "ntc_3", "ntc_4"])
def test_iosxe_status_agrees_with_ntc(corpus: Path, name: str) -> None:
    [theirs] = _ntc(corpus, f"iosxe/show_license_status/{name}.expected.yml")
    [ours] = Parser().parse_file(corpus / f"iosxe/show_license_status/{name}.txt").records
    if theirs["reg_status"]:
        assert ours.registration.state_text == theirs["reg_status"]
    if theirs["license_auth"]:
        assert ours.authorization.state_text == theirs["license_auth"]
    assert (ours.account.smart_account if ours.account else None) == clean(theirs["smart_acct"])
    assert (ours.account.virtual_account if ours.account else None) == clean(theirs["virt_acct"])
    assert ours.transport.type == theirs["transport_type"]
    assert ours.transport.url == clean(theirs["url"])
    assert ours.transport.proxy_address == clean(theirs["proxy_address"])
    if clean(theirs["next_ack_deadline"]):
        assert ours.usage_reporting.next_ack_deadline == parse_timestamp(theirs["next_ack_deadline"])
    if clean(theirs["last_ack_received"]):
        assert ours.usage_reporting.last_ack_received == parse_timestamp(theirs["last_ack_received"])


@pytest.mark.parametrize("name", ["ntc_1", "ntc_2"])
def test_nxos_usage_agrees_with_ntc(corpus: Path, name: str) -> None:
    theirs = _ntc(corpus, f"nxos/show_license_usage/{name}.expected.yml")
    [ours] = Parser().parse_file(corpus / f"nxos/show_license_usage/{name}.txt").records
    assert [e.tag for e in ours.entitlements] == [row["feature"] for row in theirs]
    assert [e.state_text for e in ours.entitlements] == [row["status"] for row in theirs]
    assert [e.count for e in ours.entitlements] == [int(r["license_count"]) if r["license_count"].isdigit() else None
                                                    for r in theirs]
