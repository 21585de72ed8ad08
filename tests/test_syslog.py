"""Syslog pieces: the pre-filter scan, the reason table, times without a year, device names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lic_exporter.model.vocabulary import Reason
from lic_exporter.parsing.files import Parser
from lic_exporter.parsing.reasons import REASON_TABLE, classify
from lic_exporter.parsing.syslog_chunks import read_chunks, scan
from lic_exporter.parsing.syslog_lines import FAILURE_MNEMONICS, looks_like_syslog
from lic_exporter.parsing.syslog_tally import Tally
from tests.support.paths import SYSLOG_FIXTURES

LINE = ("2026 Nov 20 10:00:01 {host} %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the "
        "Cisco Smart Software Manager (CSSM) : Unable to resolve server hostname/domain name")


def events(text: str, reference: datetime = datetime(2026, 11, 28, tzinfo=UTC), **options):
    parser = Parser(**options).syslog_lines
    _, survivors = scan(text.encode(), 1)
    return list(parser.events(survivors, "fallback", reference, Tally()))


def test_scan_finds_each_licensing_line_once_with_its_number() -> None:
    data = b"a\n%SMART_LIC-3-COMM_FAILED: x CALLHOME y\nb\nc CALL_HOME\nd"
    lines, survivors = scan(data, 10)
    assert lines == 5
    assert survivors == [(11, b"%SMART_LIC-3-COMM_FAILED: x CALLHOME y"), (13, b"c CALL_HOME")]


def test_read_chunks_cut_at_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"".join(f"line {i} SMART_LIC\n".encode() for i in range(5000)) + b"tail without newline")
    with open(path, "rb") as handle:  # each block copied out: the reader reuses its buffer
        chunks = [bytes(data[:end]) for data, end in read_chunks(handle, size=1000)]
    assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])
    assert b"".join(chunks) == path.read_bytes()


def test_read_chunks_grows_for_a_long_line_and_keeps_to_a_length(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    data = b"short\n" + b"x" * 5000 + b" CALLHOME\n" + b"after\n" + b"not read\n"
    path.write_bytes(data)
    with open(path, "rb") as handle:
        chunks = [bytes(data[:end]) for data, end in read_chunks(handle, size=1000, length=len(data) - 9)]
    assert b"".join(chunks) == data[:-9]
    assert any(chunk.startswith(b"x" * 5000) for chunk in chunks)  # the long line whole, in one block


def test_scan_keeps_to_the_end_of_the_block() -> None:
    # a reused buffer holds stale bytes past the block's end: they neither count nor complete a keyword
    stale = b"line one\nlast LIC" + b"MGR CALL_HOME\n"
    lines, survivors = scan(stale, 1, end=len(b"line one\nlast LIC"))
    assert (lines, survivors) == (2, [])
    lines, survivors = scan(stale, 1, end=len(b"line one\nlast LICMGR"))
    assert (lines, survivors) == (2, [(2, b"last LICMGR")])


def test_scan_after_a_hit_goes_on_at_the_next_line() -> None:
    # once a line is in, the search skips to its end: a keyword opening the next line is still found
    data = b"LICMGR SMART_LIC\nLICMGR\nCALLHOME CALL_HOME\nCALLHOME"
    assert scan(data, 1) == (4, [(1, b"LICMGR SMART_LIC"), (2, b"LICMGR"), (3, b"CALLHOME CALL_HOME"),
                                 (4, b"CALLHOME")])


@pytest.mark.parametrize(("line", "survives"), [
    (b"%LICMGR-3-X: y", True), (b"%LICENSE-SMART_LIC-3-X: y", True), (b"%SMART_LIC-6-X: y", True),
    (b"%CALLHOME-2-X: y", True), (b"%CALL_HOME-2-X: y", True), (b"PUBLIC LICENSE of the CALLBACK", False),
    (b"LICMG", False), (b"SMART_LI", False), (b"CALLHOM", False), (b"CALL_HOM", False),
])
def test_scan_keywords(line: bytes, survives: bool) -> None:
    assert scan(b"before\n" + line + b"\nafter", 1)[1] == ([(2, line)] if survives else [])


@pytest.mark.parametrize(("text", "reason"), [
    ("Unable to resolve server hostname/domain name", Reason.DNS),
    ("Cannot establish secure connection because server TLS cert cannot be validated", Reason.TLS),
    ("SSL certificate verify failed", Reason.TLS),
    ("Fail to send out Call Home HTTP message.", Reason.HTTP_SEND),
    ("Communication message send error for udi <>", Reason.HTTP_SEND),
    ("Error parsing response data from SCH server", Reason.RESPONSE),
    ("Received empty response from server", Reason.RESPONSE),
    ("Fail to send out Smart Licensing message to: https://tools.cisco.com/x (ERR 207 : Connection time out)",
     Reason.TIMEOUT),
    ("Proxy authentication required", Reason.PROXY),
    ("The action failed because smart license transport is disabled in call-home.", Reason.TRANSPORT_DISABLED),
    ("Communications failure", Reason.OTHER),
    ("Fail to send out Smart Licensing message to: http://proxy.example.net/x (ERR 205 : Request Aborted)",
     Reason.HTTP_SEND),  # a host named proxy is no proxy failure
])
def test_reason_table(text: str, reason: Reason) -> None:
    assert classify(text) is reason


def test_every_reason_value_is_reachable() -> None:
    assert {reason for _, reason in REASON_TABLE} | {Reason.OTHER} == set(Reason)


def test_show_license_status_failure_reasons_use_the_same_table(parser: Parser) -> None:
    path = SYSLOG_FIXTURES.parent / "show" / "communication_failed.txt"
    [record] = parser.parse_file(path).records
    assert record.authorization.last_communication.failure_class is Reason.RESPONSE


def test_wrapper_removed_and_nested_message_found() -> None:
    [wrapped] = events(LINE.format(host="leaf1"))
    assert (wrapped.mnemonic, wrapped.facility, wrapped.severity_name) == ("COMM_FAILED", "LICMGR", "error")
    [nested] = events("2021 Jan 29 06:40:54 fp4k %$ VDC-1 %$ %USER-2-SYSTEM_MSG: %SMART_LIC-2-PLATFORM_ERROR:"
                      "Smart Licensing has encountered an internal software error.  - SMART_AGENT[4941]")
    assert nested.mnemonic == "PLATFORM_ERROR" and nested.message.endswith("internal software error.")


def test_follow_on_messages_are_not_failures() -> None:
    assert "AUTH_RENEW_FAILED" not in FAILURE_MNEMONICS and "AGENT_REG_FAILED" not in FAILURE_MNEMONICS
    [renew] = events("2026 Nov 20 10:00:01 leaf1 %LICMGR-3-LOG_SMART_LIC_AUTH_RENEW_FAILED: Authorization renewal "
                     "with the Cisco Smart Software Manager (CSSM) : Communication message send error for udi <>")
    assert renew.reason is None


def test_year_less_lines_roll_back_over_new_year() -> None:
    january = datetime(2027, 1, 2, 12, tzinfo=UTC)
    [december] = events("*Dec 31 23:59:00.000: %SMART_LIC-3-COMM_FAILED: x : Unable to resolve server", january)
    [new_year] = events("*Jan  2 00:01:00.000: %SMART_LIC-3-COMM_FAILED: x : Unable to resolve server", january)
    assert december.time == datetime(2026, 12, 31, 23, 59, tzinfo=UTC) and december.year_inferred
    assert new_year.time == datetime(2027, 1, 2, 0, 1, tzinfo=UTC)


def test_times_without_zone_are_utc_and_zones_are_honoured() -> None:
    [utc] = events("2026 Nov 20 10:00:01 leaf1 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b")
    [cet] = events("<187>leaf1: 2026 Nov 20 10:00:01 CET: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b")
    assert utc.time.isoformat() == "2026-11-20T10:00:01+00:00"
    assert cet.time.isoformat() == "2026-11-20T10:00:01+01:00"
    [unknown] = events("<187>leaf1: 2026 Nov 20 10:00:01 BJT: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b")
    assert unknown.time is None  # still counted
    [known] = events("<187>leaf1: 2026 Nov 20 10:00:01 BJT: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b",
                     zones={"BJT": 480})
    assert known.time.isoformat() == "2026-11-20T10:00:01+08:00"


def test_device_names_and_the_device_map() -> None:
    [origin] = events("<187>N9K-LEAF-1.example.net: 2026 Nov 20 10:00:01 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a")
    [address] = events("<187>10.1.2.3: 2026 Nov 20 10:00:01 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a")
    [mapped] = events("<187>10.1.2.3: 2026 Nov 20 10:00:01 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a",
                      device_map={"10.1.2.3": "N9K-LEAF-9.example.net"})
    [bare] = events("%SMART_LIC-3-COMM_FAILED: a : b")
    assert [origin.device, address.device, mapped.device, bare.device] == [
        "n9k-leaf-1", "10.1.2.3", "n9k-leaf-9", "fallback"]


def test_lines_that_break_textfsm_line_splitting_keep_rows_aligned() -> None:
    text = (LINE.format(host="leaf1").replace("Communications", "Comm\x0cunications") + "\n"
            + LINE.format(host="leaf2") + "\n")
    assert [e.device for e in events(text)] == ["leaf1", "leaf2"]


def test_recognising_a_syslog_file() -> None:
    assert looks_like_syslog("2020 Jun 22 22:28:45 switch %LICMGR-2-LOG_LIC_NO_LIC: x\n")
    assert looks_like_syslog("<189>: 2022 Dec 25 21:50:46 UTC: %ETHPORT-5-IF_UP: x\n")
    assert not looks_like_syslog("Smart Licensing is ENABLED\n\nRegistration:\n  Status: REGISTERED\n")
    assert not looks_like_syslog("# notes\nsome text\nmore text\n")


def test_corpus_failures_per_file(corpus: Path, parser: Parser) -> None:
    """Every failure in the real lines is counted, each under its cause."""
    expected = {
        "ciscodoc_fn72323_iosxe.log": {"http_send": 2, "timeout": 1},
        "ciscodoc_fn72578_iosxe.log": {"other": 1},
        "iosxe_cznolan_blog_slp.log": {"response": 1},
        "iosxe_genielibs_show_logging.log": {"dns": 10},
        "iosxe_show_logging_cslu_dns.log": {"dns": 1},
        "iosxr_ncs55a2_console_blog.log": {"transport_disabled": 1, "http_send": 1},
    }
    for path in sorted((corpus / "syslog").glob("*.log")):
        tally = parser.parse_file(path, syslog_events=False).syslog
        found = {reason: n for (_, reason), n in tally.failures.items()}
        assert found == expected.get(path.name, {}), path.name
        assert tally.lines == len(path.read_bytes().splitlines()), path.name


def test_a_large_file_shared_among_workers_counts_the_same(tmp_path: Path, monkeypatch) -> None:
    import lic_exporter.parsing.syslog_files as parse_module

    log = tmp_path / "big.log"
    lines = []
    for i in range(3000):
        lines.append(LINE.format(host=f"leaf{i % 7}") if i % 3 == 0 else
                     f"2026 Nov 20 10:00:01 leaf{i % 7} %ETHPORT-5-IF_UP: Interface Ethernet1/{i % 48} is up")
    lines.insert(1500, "junk with SMART_LIC but no message \udcff")
    log.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    one = Parser().parse_file(log, syslog_events=False)
    monkeypatch.setattr(parse_module, "PARALLEL_BYTES", 1000)
    several = Parser(jobs=2).parse_file(log, syslog_events=False)
    assert several.syslog == one.syslog and one.syslog.lines == 3001
    assert several.issues == one.issues and one.issues[0].line == 1501


def test_a_huge_failure_line_stays_cheap() -> None:
    import time

    start = time.perf_counter()
    [event] = events("2026 Nov 20 10:00:01 leaf1 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: x : " + "A" * 2_000_000)
    assert time.perf_counter() - start < 5 and event.reason is Reason.OTHER
    assert len(event.message) < 10_000


def test_collector_layouts_reviewers_found() -> None:
    lines = [
        "2026-03-01T10:00:01.123456+01:00 leaf9.example.net : 2026 Mar 01 09:00:01 UTC: %LICMGR-3-LOG_SMART_LIC_COMM"
        "_FAILED: a : Unable to resolve server hostname",
        "sep 21 11:09:51 172.22.22.45 : 2025 Sep 21 11:09:50 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b",
        "<189>fe80::1: 2026 Mar 01 10:00:00 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b",
        "<189>Mar  1 10:00:00 10.9.9.9 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b",
        "Mar 1 10:00:00 leaf8 leaf8: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b",
        "Mar 1 10:00:02 coll1 2026 Mar 1 10:00:01 leaf7 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b",
        "2019 Jul 31 21:48:58  %$ VDC-1 %$ %DAEMON-2-SYSTEM_MSG: <<%SMART_LIC-3-COMM_FAILED>> x : y - proc[1]",
    ]
    found = events("\n".join(lines))
    assert [e.device for e in found] == ["leaf9", "172.22.22.45", "fe80::1", "10.9.9.9", "leaf8", "leaf7", "fallback"]
    assert all(e.time is not None for e in found)
    assert looks_like_syslog(lines[0]) and looks_like_syslog(lines[1])


def test_new_year_with_the_device_clock_ahead() -> None:
    reference = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    [ahead] = events("*Jan  1 00:05:00.000: %SMART_LIC-3-COMM_FAILED: x : y", reference)
    [east] = events("RP/0/RP0/CPU0:Jan  1 08:00:00.000 AEST: smartlicserver[1]: %LICENSE-SMART_LIC-3-COMM_FAILED : x",
                    reference)
    assert ahead.time == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert east.time == datetime(2025, 12, 31, 22, 0, tzinfo=UTC)


def test_unknown_zone_is_reported_keyword_only_lines_are_not(tmp_path: Path, parser: Parser) -> None:
    log = tmp_path / "x.log"
    log.write_text("<189>: 2026 Mar 01 10:00:00 BJT: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : b\n"
                   "2026 Mar 01 10:00:00 leaf1 %ETHPORT-5-IF_UP: Interface Ethernet1/1 (to-CALLHOME-proxy) is up\n")
    result = parser.parse_file(log)
    assert [issue.message for issue in result.issues] == [
        "times in unknown time zone 'BJT' left out (add it with --tz BJT=+HH:MM)"]
    assert result.syslog.unparsed == 1 and sum(result.syslog.failures.values()) == 1


def test_show_logging_in_a_session(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "session.txt"
    path.write_text("leaf01# show logging logfile | include LIC\n"
                    "2026 Nov 20 10:00:01 leaf01 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : Unable to resolve\n"
                    "2026 Nov 20 10:00:02  %$ VDC-1 %$ %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: a : Fail to send x\n"
                    "leaf01#\n")
    result = parser.parse_file(path)
    assert result.issues == ()
    assert dict(result.syslog.failures) == {("leaf01", "dns"): 1, ("leaf01", "http_send"): 1}
    assert [record.line for record in result.records] == [2, 3]


def test_redaction_of_more_forms() -> None:
    from lic_exporter.sources.privacy import scrub

    for text, secret in [("register idtoken=AbC123 force", "AbC123"), ("idtoken: Zm9v", "Zm9v"),
                         ("passwd=abc", "abc"), ("streetaddress 1 Main St phone-contact +14155550100", "Main St"),
                         ("phone-contact +14155550100", "4155550100")]:
        assert secret not in scrub(text), text


def test_a_message_glued_after_other_text_keeps_its_own_time() -> None:
    """A console prints an asynchronous message into a prompt: the header right before the
    message is read (IOS XR, NX-OS with a year, IOS clock markers), not the text before it."""
    found = events(
        "Enter root-system username: RP/0/RP0/CPU0:Aug 20 10:02:13.804 UTC: smartlicserver[186]: "
        "%LICENSE-SMART_LIC-3-COMM_FAILED : Communications failure with the Cisco Smart License Utility (CSLU) : "
        "Unable to resolve server hostname/domain name\n"
        "login: 2021 Jan 29 06:40:54 leaf9 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure\n"
        "User Access Verification 2021 Jan 29 06:40:55 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: x\n"
        "Press RETURN to get started! *Apr  1 15:38:30.166: %SMART_LIC-5-EVAL_START: Entering evaluation period\n"
        "Sep 21 text %SMART_LIC-3-EVAL_EXPIRED:Evaluation period expired\n")
    assert [(e.device, e.time) for e in found] == [
        ("fallback", datetime(2026, 8, 20, 10, 2, 13, 804000, tzinfo=UTC)),
        ("leaf9", datetime(2021, 1, 29, 6, 40, 54, tzinfo=UTC)),
        ("fallback", datetime(2021, 1, 29, 6, 40, 55, tzinfo=UTC)),
        ("fallback", datetime(2026, 4, 1, 15, 38, 30, 166000, tzinfo=UTC)),
        ("fallback", None),  # no header before the message: counted, without a time
    ]
    assert found[0].reason is Reason.DNS


def test_the_glued_failure_sets_the_last_failure_time(parser: Parser) -> None:
    result = parser.parse_file(SYSLOG_FIXTURES.parent / "public" / "syslog" / "iosxr_console_prompt_glued.log")
    assert result.syslog is not None
    (device, when), = result.syslog.last_failure.items()
    assert device == "iosxr_console_prompt_glued"
    assert (when.month, when.day, when.hour, when.minute) == (8, 20, 10, 17)


def test_reporting_required_warnings_give_the_report_ack_date() -> None:
    """The newest REPORTING_REQUIRED of a device: its own time plus the days it names."""
    tally = Tally()
    for event in events("2026 Feb 02 06:00:12 leaf31 %LICMGR-6-LOG_SMART_LIC_REPORTING_REQUIRED: A Usage report "
                        "acknowledgement will be required in 60 days.\n"
                        "2026 Mar 01 06:00:15 leaf31 %LICMGR-6-LOG_SMART_LIC_REPORTING_REQUIRED: A Usage report "
                        "acknowledgement will be required in 32 days.\n"
                        "*Apr  1 15:39:19.199: %SMART_LIC-6-REPORTING_REQUIRED: A Usage report acknowledgement will "
                        "be required in 89 days.\n"):
        tally.add(event)
    merged = Tally()
    merged.merge(tally)
    assert merged.per_device()["leaf31"].report_due == (datetime(2026, 3, 1, 6, 0, 15, tzinfo=UTC),
                                                       datetime(2026, 4, 2, 6, 0, 15, tzinfo=UTC))
    assert merged.report_due["fallback"][1] == datetime(2026, 6, 29, 15, 39, 19, 199000, tzinfo=UTC)


# Runs `parse --format prometheus` in a fresh interpreter and prints its exit code, whether the
# failure was counted, and which of the heavy packages it loaded.
_IMPORTS_PROBE = """
import contextlib, io, sys
from lic_exporter.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["parse", "--format", "prometheus", sys.argv[1]])
print(code, 'cisco_smartlic_callhome_failures_total{' in out.getvalue())
print(sorted({name.split(".")[0] for name in sys.modules} & {"pydantic", "pydantic_core", "prometheus_client"}))
"""


def _probe_imports(path: Path) -> list[str]:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _IMPORTS_PROBE, str(path)], capture_output=True, text=True,
                          check=True)
    return done.stdout.splitlines()


@pytest.mark.parametrize("lines", [1, 20_000], ids=["small log", "log over the whole-file size"])
def test_a_log_alone_loads_neither_the_record_models_nor_prometheus_client(tmp_path: Path, lines: int) -> None:
    """Counting a log builds no record: the one-shot parse of a log alone starts without
    pydantic (about 0.1 s of imports) and prometheus_client. A status output does load them,
    which shows the probe sees them."""
    failure = ("2026 Nov 20 10:00:00 n9k-leaf-01 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure "
               "with the Cisco Smart Software Manager (CSSM) : Fail to send out Call Home HTTP message.\n")
    log = tmp_path / "switch.log"
    log.write_text(failure * lines)
    assert _probe_imports(log) == ["0 True", "[]"]
    status = _probe_imports(SYSLOG_FIXTURES.parent / "show" / "communication_failed.txt")
    assert "pydantic" in status[1]
