"""Bad input: a clear error naming file and line, never a crash, never half a record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lic_exporter.parsing.files import Parser
from tests.support.paths import SHOW_FIXTURES as FIXTURES

STATUS = (FIXTURES / "communication_failed.txt").read_text()


def _only_issue(parser: Parser, path: Path):
    result = parser.parse_file(path)
    assert result.records == ()
    assert len(result.issues) == 1, result.issues
    issue = result.issues[0]
    assert issue.path == str(path)
    assert str(issue).startswith(f"{path}:")
    return issue


def test_empty_file(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "show_license_status.txt"
    path.write_text("")
    assert "empty file" in _only_issue(parser, path).message


def test_whitespace_only_file(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "sw1.txt"
    path.write_text("\n  \r\n\n")
    assert "empty file" in _only_issue(parser, path).message


def test_binary_file_names_the_line_of_the_first_nul(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "sw1.txt"
    path.write_bytes(b"Smart Licensing is ENABLED\nline two\n\x00\x01\x02\xff" * 10)
    issue = _only_issue(parser, path)
    assert "binary" in issue.message and issue.line == 3


def test_binary_after_the_first_block(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "sw1.txt"
    path.write_bytes(STATUS.encode() + b"x" * 9000 + b"\n\x00junk\n")
    issue = _only_issue(parser, path)
    assert "binary" in issue.message and issue.line == STATUS.count("\n") + 2


@pytest.mark.parametrize("cut_after", [
    "  Last Renewal Attempt: FAILED",      # mid registration block
    "License Authorization:",              # header only
    "  Last Communication Attempt: FAILED on May 19 09:31:02 2026 EDT",  # before the deadline
])
def test_output_cut_mid_block(tmp_path: Path, parser: Parser, cut_after: str) -> None:
    text = STATUS[: STATUS.index(cut_after) + len(cut_after)]
    path = tmp_path / "sw1.txt"
    path.write_text(text)
    issue = _only_issue(parser, path)
    assert "cut off" in issue.message
    assert issue.line == text.count("\n") + 1  # the last line there is


def test_half_written_timestamp_names_its_line(tmp_path: Path, parser: Parser) -> None:
    text = STATUS.replace("Communication Deadline: Jul 18 09:26:00 2026 EDT", "Communication Deadline: Jul 18 09:2")
    path = tmp_path / "sw1.txt"
    path.write_text(text)
    issue = _only_issue(parser, path)
    lines = text.splitlines()
    assert lines[issue.line - 1].strip().startswith("Communication Deadline:")
    assert issue.message.startswith("Communication Deadline: not a timestamp")


def test_wrong_command_in_a_file_named_after_a_command(tmp_path: Path, parser: Parser) -> None:
    folder = tmp_path / "n9k-leaf-01"
    folder.mkdir()
    path = folder / "show_license_status.txt"
    path.write_text("Cisco Nexus Operating System (NX-OS) Software\nTAC support: http://www.cisco.com/tac\n"
                    "  NXOS: version 9.3(8)\n")
    assert "does not look like the output of 'show license status'" in _only_issue(parser, path).message


def test_command_rejected_by_the_device(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "s.log"
    path.write_text("sw1# show license status\n              ^\n% Invalid command at '^' marker.\nsw1#\n")
    issue = _only_issue(parser, path)
    assert "rejected by the device" in issue.message and issue.line == 3


def test_prompted_output_that_is_not_what_the_prompt_says(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "s.log"
    path.write_text("sw1# show license status\nsome other text\nmore of it\nsw1#\n")
    issue = _only_issue(parser, path)
    assert "does not look like the output of 'show license status'" in issue.message and issue.line == 2


def test_undecodable_bytes_are_reported_but_the_record_stands(tmp_path: Path, parser: Parser) -> None:
    text = STATUS.replace("Example Networks Inc", "Soci\udce9t\udce9 G\udce9n\udce9rale")
    path = tmp_path / "sw1.txt"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    result = parser.parse_file(path)
    assert len(result.records) == 1
    assert result.records[0].account.smart_account == "Soci\ufffdt\ufffd G\ufffdn\ufffdrale"
    [issue] = result.issues
    assert not issue.fatal and "not UTF-8" in issue.message
    assert issue.line == text.splitlines().index("  Smart Account: Soci\udce9t\udce9 G\udce9n\udce9rale") + 1


def test_unknown_command_sections_are_skipped_quietly(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "s.log"
    path.write_text("sw1# show version\nNXOS: version 9.3(8)\nsw1# show interface brief\nEth1/1 up\nsw1#\n"
                    + "sw1# show license status\n" + STATUS.split("\n", 1)[1])
    result = parser.parse_file(path)
    assert result.issues == () and [r.command for r in result.records] == ["show license status"]


def test_unrecognised_file_met_while_walking_is_skipped(tmp_path: Path, parser: Parser) -> None:
    (tmp_path / "notes.md").write_text("# what we did\nnothing licensing here\n")
    assert list(parser.parse_paths([tmp_path])) == []


# VmHWM, the child's own peak: ru_maxrss of a freshly forked child starts at its parent's peak
# (a big pytest process would make a bounded parse look unbounded).
_MEMORY_PROBE = """
import re, sys
from pathlib import Path
from lic_exporter.parsing.files import Parser
result = Parser().parse_file(Path(sys.argv[1]))
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text())[1])
print(len(result.records), len(result.issues), peak_kb // 1024)
"""


@pytest.mark.parametrize("layout", ["session", "prompt_less"])
def test_50_mb_file_keeps_memory_bounded(tmp_path: Path, layout: str) -> None:
    """A 50 MB capture (a long session of unrelated commands, or a prompt-less dump) is
    streamed: peak memory stays far below the file size plus its lines held at once."""
    path = tmp_path / "big.log"
    filler = "Ethernet1/1 is up, admin state is up, Dedicated Interface  input rate 1.23 Kbps\n" * 1000
    with open(path, "w") as handle:
        if layout == "session":
            handle.write("sw1# show interface\n")
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(filler)
        if layout == "session":
            handle.write("sw1# show license status\n" + STATUS.split("\n", 1)[1])
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(path)], capture_output=True, text=True, check=True)
    records, issues, peak_mb = map(int, out.stdout.split())
    # The session's licensing output is found after 50 MB of other output; the prompt-less
    # dump of something else is an error ("no output of a known command"), not a crash.
    assert (records, issues) == ((1, 0) if layout == "session" else (0, 1))
    assert peak_mb < 130, f"peak RSS {peak_mb} MB for a 50 MB file"


@pytest.mark.parametrize(("old", "new", "label"), [
    ("Communication Deadline: Jul 18 09:26:00 2026 EDT", "Communication Deadline: Jul 18 09:26:00 99999999999 EDT",
     "Communication Deadline"),
    ("Status: AUTHORIZED on Apr 19 09:31:02 2026 EDT", "Status: AUTHORIZED on Apr 19 09:31:02 99999 EDT", "Status"),
])
def test_values_out_of_range_are_errors_with_their_line(tmp_path: Path, parser: Parser, old: str, new: str,
                                                       label: str) -> None:
    text = STATUS.replace(old, new)
    path = tmp_path / "sw1.txt"
    path.write_text(text)
    issue = _only_issue(parser, path)
    assert text.splitlines()[issue.line - 1].strip().startswith(label)


def test_evaluation_period_out_of_range(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "sw1.txt"
    path.write_text("Smart Licensing is ENABLED\n\nRegistration:\n  Status: UNREGISTERED\n\n"
                    "License Authorization:\n  Status: EVAL MODE\n  Evaluation Period Remaining: 3000000 days\n")
    issue = _only_issue(parser, path)
    assert issue.line == 8 and "Evaluation Period Remaining" in issue.message


def test_a_bad_file_costs_only_itself(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Smart Licensing is ENABLED\n\nRegistration:\n  Status: UNREGISTERED\n\n"
                                    "License Authorization:\n  Status: EVAL MODE\n"
                                    "  Evaluation Period Remaining: 99999999999999999999 days\n")
    (tmp_path / "b.txt").write_text(STATUS)
    out = subprocess.run([sys.executable, "-m", "lic_exporter", "parse", "--format", "json", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert [record["device"] for record in json.loads(out.stdout)["records"]] == ["n9k-spine-01"]


ALL = (FIXTURES / "out_of_compliance.txt").read_text()
POLICY = (FIXTURES / "policy_ack_overdue.txt").read_text()


@pytest.mark.parametrize(("text", "cut_after", "says"), [
    (ALL, "  Version: 1.0\n  Status: AUTHORIZED\n", "Product Information"),  # licence list cut
    (ALL, "NXOS_ADVANTAGE_XF (NXOS_ADVANTAGE_XF):\n  Description: Nexus 9300-XF Advantage\n", "no Status line"),
    (POLICY, "Usage Reporting:\n  Last ACK received: Jan 20 10:12:45 2026 UTC\n", "Next ACK deadline"),
    ((FIXTURES / "authorization_expired.txt").read_text(),
     "  Status: AUTHORIZATION EXPIRED on Jan 06 07:41:19 2026 UTC\n", "Communication Deadline"),
    (STATUS, "License Authorization:\n  Status: AUTHORI", "unknown state 'AUTHORI'"),
])
def test_more_outputs_cut_off(tmp_path: Path, parser: Parser, text: str, cut_after: str, says: str) -> None:
    path = tmp_path / "sw1.txt"
    path.write_text(text[: text.index(cut_after) + len(cut_after)])
    issue = _only_issue(parser, path)
    assert says in issue.message and "cut off" in issue.message


def test_pager_erasure_with_carriage_returns_keeps_line_numbers(tmp_path: Path, parser: Parser) -> None:
    text = STATUS.replace("  Next Renewal Attempt:", " --More--\r          \r  Next Renewal Attempt:")
    text = text.replace("Communication Deadline: Jul 18 09:26:00 2026 EDT", "Communication Deadline: Jul 18 09:2")
    path = tmp_path / "sw1.txt"
    path.write_text(text)
    issue = _only_issue(parser, path)
    assert text.split("\n")[issue.line - 1].strip().startswith("Communication Deadline:")


def test_byte_order_mark_before_the_prompt(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + STATUS.encode())
    [record] = parser.parse_file(path).records
    assert record.device == "n9k-spine-01"


def test_file_named_after_an_ip_address(tmp_path: Path, parser: Parser) -> None:
    path = tmp_path / "10.2.2.2.txt"
    path.write_text(STATUS.split("\n", 1)[1])
    [record] = parser.parse_file(path).records
    assert record.device == "10.2.2.2"


def test_unknown_unindented_line_is_counted_and_the_block_read_on(tmp_path: Path, parser: Parser) -> None:
    stripped = "\n".join(line.lstrip() for line in STATUS.split("\n"))
    stripped = stripped.replace("Status: REGISTERED\n", "Status: REGISTERED\nReporting Mode: STANDARD\n")
    path = tmp_path / "sw1.txt"
    path.write_text(stripped)
    [record] = parser.parse_file(path).records
    assert record.unknown_lines == 1
    assert record.registration.expires is not None and record.account.smart_account == "Example Networks Inc"


def test_policy_dates_in_the_nxos_10_layout(tmp_path: Path, parser: Parser) -> None:
    text = POLICY.replace("As of Jan 20 10:12:45 2026 UTC", "As of Jan 20 2026 10:12:45 UTC")
    path = tmp_path / "sw1.txt"
    path.write_text(text)
    [record] = parser.parse_file(path).records
    assert record.account.smart_account == "Example Networks Inc"
    assert record.account.as_of is not None and record.account.as_of.isoformat() == "2026-01-20T10:12:45+00:00"


def test_extra_zone_applies_to_the_printed_capture_time(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    path.write_text((FIXTURES / "eval_mode.txt").read_text().replace("14:02:11.318 UTC", "14:02:11.318 ART"))
    result = Parser(zones={"ART": -180}).parse_file(path)
    assert result.records[0].captured_at.isoformat() == "2026-03-02T14:02:11.318000-03:00"
    unknown = Parser().parse_file(path)
    assert unknown.records[0].captured_at_from == "file_mtime"
    assert [i.message for i in unknown.issues if not i.fatal] == [
        "unknown time zone 'ART' (add it with --tz ART=+HH:MM)"]


def test_credentials_in_free_text_never_reach_records(tmp_path: Path, parser: Parser) -> None:
    text = STATUS.replace("Error parsing response data from SCH server",
                          "Proxy refused http://puser:ProxyPw9@proxy.example.net:3128", 1)
    path = tmp_path / "sw1.txt"
    path.write_text(text)
    policy = tmp_path / "sw2.txt"
    policy.write_text(POLICY.replace("  URL: https://smartreceiver.cisco.com/licservice/license",
                                     "  URL: https://smartreceiver.cisco.com/licservice/license\n"
                                     "  Cslu address: http://cslu-user:CsluPw1@cslu.example.net:8182/cslu/v1/pi"))
    dumped = "".join(r.model_dump_json() for p in (path, policy) for r in parser.parse_file(p).records)
    assert "ProxyPw9" not in dumped and "puser" not in dumped and "CsluPw1" not in dumped


@pytest.mark.parametrize("prompt", ["sw9# show license usage\n", ""])
def test_policy_usage_without_licences_is_recognised(tmp_path: Path, parser: Parser, prompt: str) -> None:
    path = tmp_path / "sw9.txt"
    path.write_text(prompt + "\nLicense Authorization:\n  Status: Not Applicable\n")
    result = parser.parse_file(path)
    assert result.issues == ()
    [record] = result.records
    assert record.command == "show license usage" and record.authorization.state.value == "not_applicable"
