"""Bad input: a clear error naming file and line, never a crash, never half a record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHOW_FIXTURES as FIXTURES

from lic_exporter.parse import Parser

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


_MEMORY_PROBE = """
import resource, sys
from pathlib import Path
from lic_exporter.parse import Parser
result = Parser().parse_file(Path(sys.argv[1]))
print(len(result.records), len(result.issues), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
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
        handle.write("sw1# show license status\n" + STATUS.split("\n", 1)[1])
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(path)], capture_output=True, text=True, check=True)
    records, issues, peak_mb = map(int, out.stdout.split())
    assert records == 1 and issues == 0
    assert peak_mb < 130, f"peak RSS {peak_mb} MB for a 50 MB file"
