"""Files saved by other tools: UTF-16/UTF-32 (a PowerShell redirect), byte-order marks, bare
carriage returns; and values that would carry terminal escapes to a label or a terminal."""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lic_exporter.parsing.files import Parser
from lic_exporter.sources.encoding import sniff
from tests.support.paths import SHOW_FIXTURES

STATUS = (SHOW_FIXTURES / "communication_failed.txt").read_text()
LOG = ("<187>leaf07: 2026 Nov 20 10:00:01 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure "
       "with the Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname/domain name\n"
       "<189>leaf07: 2026 Nov 20 10:00:02 UTC: %ETHPORT-5-IF_UP: Interface Ethernet1/1 is up\n") * 3

ENCODINGS = [
    ("utf-16 with mark", lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le")),
    ("utf-16-le", lambda text: text.encode("utf-16-le")),
    ("utf-16-be", lambda text: text.encode("utf-16-be")),
    ("utf-16-be with mark", lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
    ("utf-32 with mark", lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le")),
    ("utf-32-le", lambda text: text.encode("utf-32-le")),
    ("utf-8 with mark", lambda text: codecs.BOM_UTF8 + text.encode()),
    ("CR only", lambda text: text.replace("\n", "\r").encode()),
    ("CRLF", lambda text: text.replace("\n", "\r\n").encode()),
    ("mixed CR and LF", lambda text: "".join(line + ("\r" if n % 2 else "\n") for n, line in
                                             enumerate(text.split("\n"))).encode()),
    ("utf-16, CRLF", lambda text: text.replace("\n", "\r\n").encode("utf-16")),
]


@pytest.mark.parametrize(("name", "encode"), ENCODINGS, ids=[name for name, _ in ENCODINGS])
def test_a_show_output_in_any_encoding_gives_the_same_record(tmp_path: Path, parser: Parser, name: str,
                                                            encode) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text(STATUS)
    path = tmp_path / "encoded.txt"
    path.write_bytes(encode(STATUS))
    expected = parser.parse_file(plain)
    got = parser.parse_file(path)
    assert got.issues == (), got.issues
    assert [r.model_dump(exclude={"source", "captured_at"}) for r in got.records] == [
        r.model_dump(exclude={"source", "captured_at"}) for r in expected.records]


@pytest.mark.parametrize(("name", "encode"), ENCODINGS, ids=[name for name, _ in ENCODINGS])
def test_a_syslog_file_in_any_encoding_counts_every_line(tmp_path: Path, parser: Parser, name: str,
                                                         encode) -> None:
    path = tmp_path / "collector.log"
    path.write_bytes(encode(LOG))
    result = parser.parse_file(path)
    assert result.syslog is not None, result.issues
    assert dict(result.syslog.failures) == {("leaf07", "dns"): 3}
    assert result.syslog.lines == 6 and result.syslog.unparsed == 0


def test_a_file_keeps_its_modification_time_when_transcoded(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "sw1.txt"
    path.write_bytes(STATUS.split("\n", 1)[1].encode("utf-16"))
    import os

    os.utime(path, (1_700_000_000, 1_700_000_000))
    [record] = parser.parse_file(path).records
    assert record.captured_at_from == "file_mtime" and record.captured_at.timestamp() == 1_700_000_000


def test_sniff_leaves_utf8_with_pager_erasures_alone() -> None:
    page = b"".join(b"  Status: line %d\n" % n for n in range(23))
    text = (page + b" --More--\r          \r") * 5  # two bare CRs a screen
    assert sniff(text) == (None, 0, False)


def test_escape_codes_in_a_host_name_never_reach_a_label_or_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "collector.log"
    path.write_text("<187>le\x1b[31maf\x1b]0;owned\x07-9: 2026 Nov 20 10:00:01 UTC: "
                    "%LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure : Unable to resolve server\n")
    for form in ("table", "prometheus", "json"):
        out = subprocess.run([sys.executable, "-m", "lic_exporter", "parse", "--format", form, "--jobs", "1",
                              "--color", "never", str(path)], capture_output=True, text=True, timeout=60)
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout, form
        assert "leaf-9" in out.stdout, form
    document = json.loads(out.stdout)
    assert document["records"][0]["device"] == "leaf-9"


def test_escape_codes_in_a_file_name_never_reach_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "bad\x1b[2Jname.txt"
    path.write_text("Registration:\n  Status: REGISTERED\n")
    out = subprocess.run([sys.executable, "-m", "lic_exporter", "parse", str(path)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1 and "\x1b" not in out.stderr and "name.txt" in out.stderr
