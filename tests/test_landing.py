"""The status page at /: the example fleet through the real daemon, checked row by row against
what `lic-exporter diagnose` says for the same files at the same --now; hostile names rendered
inert; the row cap; and the page opened in headless Chromium (Debian's), whose screenshot is
kept as a test artefact ($LIC_EXPORTER_ARTIFACTS, else the test's tmp_path).

Independent of the renderer on purpose: the expected findings come from the diagnose command's
JSON, the expected colours from the alert thresholds in model/vocabulary.py, and the rows are
read back from the HTML with the standard library's parser (and from the DOM Chromium built).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lic_exporter import __version__
from lic_exporter.analysis.diagnose import Facts, diagnose
from lic_exporter.exposition.landing import MAX_ROWS, StatusHeader, status_page
from lic_exporter.model.release import python_version, revision
from lic_exporter.model.states import AuthorizationState, Mode, RegistrationState
from lic_exporter.model.vocabulary import DEADLINE_DAYS, SEVERITIES, Deadline
from tests.support.daemon import Daemon
from tests.support.paths import PROJECT, SHOW_FIXTURES
from tests.support.prometheus import binary

NOW = "2026-12-02T12:00:00+00:00"
NOW_TIME = datetime.fromisoformat(NOW)
MTIME = datetime(2026, 12, 1, 6, 0, tzinfo=UTC).timestamp()
SETTLE_SECONDS = 15.0  # the syslog follower may still be reading when the daemon says ready
# What the example fleet looks like at NOW (examples/fleet/README.md): the most urgent first.
EXAMPLE_ORDER = ["n9k-spine-02", "n3k-edge-07", "n9k-leaf-02", "n9k-border-01", "n9k-leaf-01"]
RAN = 'data-ran="yes"'  # what the planted scripts would leave on <body> had one run
PAYLOAD = "document.body.setAttribute('data-ran','yes')"


# --- reading the page back ---------------------------------------------------------------------

@dataclass
class Row:
    css: str
    device: str = ""
    cells: list[str] = field(default_factory=list)  # the text of each cell, the device's included
    findings: list[tuple[str, str]] = field(default_factory=list)  # (problem, severity)


class _Rows(HTMLParser):
    """The device table's rows, and every element and attribute seen (to check nothing active)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[Row] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.more = ""
        self._in_body = self._in_cell = self._in_strong = self._in_more = False
        self._item_severity = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        found = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append(Row(found.get("class") or ""))
        elif tag in ("td", "th") and self._in_body:
            self.rows[-1].cells.append("")
            self._in_cell = True
        elif tag == "li" and self._in_cell:
            self._item_severity = found.get("class") or ""
        elif tag == "strong" and self._item_severity:
            self._in_strong = True
            self.rows[-1].findings.append(("", self._item_severity))
        elif tag == "p" and found.get("class") == "more":
            self._in_more = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th"):
            self._in_cell = False
        elif tag == "strong":
            self._in_strong = False
        elif tag == "li":
            self._item_severity = ""
        elif tag == "p":
            self._in_more = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            row = self.rows[-1]
            row.cells[-1] += data
            if len(row.cells) == 2:
                row.device = row.cells[1]
            if self._in_strong:
                problem, severity = row.findings[-1]
                row.findings[-1] = (problem + data, severity)
        if self._in_more:
            self.more += data


def read_page(html: str) -> _Rows:
    rows = _Rows()
    rows.feed(html)
    rows.close()
    return rows


def days_left(row: Row) -> float:
    """The Days left column (infinite when no deadline is stated)."""
    text = row.cells[6].replace("(passed)", "").strip()
    return float(text) if text else float("inf")


def expected_class(findings: list[dict]) -> str:
    """A row's class: the worst severity of its device's findings, `ok` without any. (No device
    of the example fleet is within a deadline's alert threshold without a finding besides:
    test_a_deadline_alone_colours_its_row covers that.)"""
    worst = max((SEVERITIES.index(f["severity"]) for f in findings), default=None)
    return SEVERITIES[worst].value if worst is not None else "ok"


# --- the example fleet through the daemon --------------------------------------------------------

@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/fleet and examples/syslog copied, every file dated MTIME (as test_golden_pages
    does: outputs without a time of their own are dated by their file)."""
    root = tmp_path_factory.mktemp("landing")
    for folder in ("fleet", "syslog"):
        shutil.copytree(PROJECT / "examples" / folder, root / "examples" / folder)
    for path in (root / "examples").rglob("*"):
        if path.is_file():
            os.utime(path, (MTIME, MTIME))
    return root


@pytest.fixture(scope="module")
def diagnosed(examples: Path) -> dict[str, list[dict]]:
    """What `lic-exporter diagnose` finds in the same files at the same time, per device."""
    out = subprocess.run([sys.executable, "-m", "lic_exporter", "diagnose", "--format", "json", "--now", NOW,
                          "examples/fleet", "examples/syslog"], cwd=examples, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode in (0, 1), out.stderr
    per_device: dict[str, list[dict]] = {device: [] for device in EXAMPLE_ORDER}
    for finding in json.loads(out.stdout)["findings"]:
        per_device.setdefault(finding["device"], []).append(finding)
    return per_device


def _matches(rows: _Rows, diagnosed: dict[str, list[dict]]) -> bool:
    shown = {row.device: sorted(problem for problem, _ in row.findings) for row in rows.rows}
    return shown == {device: sorted(f["problem"] for f in found) for device, found in diagnosed.items()}


@pytest.fixture(scope="module")
def fleet_page(examples: Path, diagnosed: dict[str, list[dict]]) -> Iterator[tuple[Daemon, str]]:
    """The daemon on the examples, and its status page once it shows what diagnose finds (the
    syslog counts may arrive a moment after the daemon is ready), or after SETTLE_SECONDS."""
    daemon = Daemon("--watch", "examples/fleet", "--syslog", "examples/syslog/*.log",
                    "--syslog", "examples/syslog/*.lgo", "--now", NOW, cwd=examples)
    try:
        daemon.wait_ready()
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            status, body, headers = daemon.get("/")
            assert status == 200 and headers["Content-Type"].startswith("text/html"), (status, headers)
            html = body.decode()
            if _matches(read_page(html), diagnosed) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        yield daemon, html
    finally:
        daemon.stop()


def test_every_example_device_is_a_row_with_diagnose_findings_and_the_alert_colours(
        fleet_page: tuple[Daemon, str], diagnosed: dict[str, list[dict]]) -> None:
    page = read_page(fleet_page[1])
    assert [row.device for row in page.rows] == EXAMPLE_ORDER
    for row in page.rows:
        found = diagnosed[row.device]
        assert sorted(row.findings) == sorted((f["problem"], f["severity"]) for f in found), row.device
        assert row.css == expected_class(found), row.device
        assert row.cells[0] == row.css  # the severity in words too, not only in colour
    spine = page.rows[0]
    assert spine.cells[2:6] == ["smart", "registered", "authorized", "registration_expiry2026-12-11"]
    assert days_left(spine) == pytest.approx(8.9, abs=0.05)
    border = next(row for row in page.rows if row.device == "n9k-border-01")
    assert border.cells[2:5] == ["policy", "—", "—"] and border.cells[5].startswith("report_ack")


def test_rows_are_sorted_by_severity_then_days_left(fleet_page: tuple[Daemon, str]) -> None:
    rank = {"critical": 0, "warning": 1, "info": 2, "ok": 3}
    rows = read_page(fleet_page[1]).rows
    keys = [(rank[row.css], days_left(row), row.device) for row in rows]
    assert keys == sorted(keys)
    assert {row.css for row in rows} == {"critical", "warning", "ok"}


def test_header_names_the_exporter_what_it_watches_and_links_the_endpoints(fleet_page: tuple[Daemon, str]) -> None:
    html = fleet_page[1]
    assert f"{__version__}<br><small>revision {revision()}, Python {python_version()}</small>" in html
    for link in ('href="metrics"', 'href="-/healthy"', 'href="-/ready"'):
        assert link in html
    assert "<code>examples/fleet</code>" in html
    assert "<code>examples/syslog/*.log</code>" in html and "<code>examples/syslog/*.lgo</code>" in html
    assert "8 parsed cleanly" in html and "0 with errors" in html  # 7 device outputs and the account snapshot
    assert "days left counted for <time" in html  # --now differs from the time of rendering
    assert "Initial scan running" not in html


def test_no_script_no_external_asset_and_a_content_security_policy(fleet_page: tuple[Daemon, str]) -> None:
    html = fleet_page[1]
    page = read_page(html)
    assert not {"script", "img", "iframe", "object", "link", "form"} & set(page.tags)
    assert not [value for name, value in page.attributes if name in ("src", "href") and ":" in value]
    assert not [name for name, _ in page.attributes if name.startswith("on")]
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    rules = unescape(policy.group(1))
    assert "default-src 'none'" in rules
    # The one style sheet is allowed by its hash: had it changed without the hash, no colour would show.
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in rules


# --- hostile names ----------------------------------------------------------------------------------

BROKEN_NAME = f'<img src=x onerror="{PAYLOAD}">\'quoted\'.txt'
WATCH_NAME = 'fleet"<b>bold'
SCRIPT_URL = f'http://x/"><script>{PAYLOAD}</script>'


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[Daemon, str]]:
    """A daemon on a folder whose name, a file name and a call-home URL carry markup."""
    watch = tmp_path / WATCH_NAME
    (watch / "sw-x").mkdir(parents=True)
    callhome = (PROJECT / "examples/fleet/n9k-leaf-01/show_running-config_callhome.txt").read_text()
    (watch / "sw-x" / "show_running-config_callhome.txt").write_text(
        callhome.replace("https://tools.cisco.com/its/service/oddce/services/DDCEService", SCRIPT_URL))
    eval_mode = (SHOW_FIXTURES / "eval_mode.txt").read_text()
    (watch / BROKEN_NAME).write_text(eval_mode.split("License Authorization:")[0])  # cut off: an error
    daemon = Daemon("--watch", str(watch), "--now", NOW)
    try:
        daemon.wait_ready()
        status, body, _ = daemon.get("/")
        assert status == 200
        yield daemon, body.decode()
    finally:
        daemon.stop()


def test_markup_in_names_paths_and_urls_renders_as_text(hostile: tuple[Daemon, str]) -> None:
    html = hostile[1]
    page = read_page(html)
    assert not {"script", "img", "b"} & set(page.tags)
    assert not [name for name, _ in page.attributes if name.startswith("on")]
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=&quot;" in html and "&lt;b&gt;bold" in html
    assert "&#x27;quoted&#x27;" in html  # quotes escaped too (quote=True)
    row = next(row for row in page.rows if row.device == "sw-x")
    assert ("callhome_plain_http", "critical") in row.findings
    text = "".join(row.cells)
    assert SCRIPT_URL in text  # shown as written, as text
    assert "1 with errors" in html and BROKEN_NAME in unescape(html)


# --- the row cap, and colours from the thresholds alone -----------------------------------------------

def _header() -> StatusHeader:
    return StatusHeader(version="9.9.9", revision="abc", python="3.11", started=NOW_TIME, rendered=NOW_TIME)


def test_rows_are_capped_to_the_most_urgent_with_a_line_for_the_rest() -> None:
    """MAX_ROWS + 100 healthy devices and ten in evaluation mode a week from its end: the ten
    are shown (first), 100 healthy ones are left out and counted."""
    healthy = [Facts(f"sw-{n:04d}", mode=Mode.SMART, registration=RegistrationState.REGISTERED,
                     authorization=AuthorizationState.AUTHORIZED, captured=NOW_TIME,
                     deadlines={Deadline.COMMUNICATION_DEADLINE: NOW_TIME + timedelta(days=60 + n % 30)})
               for n in range(MAX_ROWS + 90)]
    urgent = [Facts(f"zz-eval-{n}", mode=Mode.SMART, authorization=AuthorizationState.EVALUATION, captured=NOW_TIME,
                    deadlines={Deadline.EVALUATION_EXPIRY: NOW_TIME + timedelta(days=5, hours=n)})
              for n in range(10)]
    facts = healthy + urgent
    page = read_page(status_page(facts, diagnose(facts, NOW_TIME), _header(), NOW_TIME).decode())
    assert len(page.rows) == MAX_ROWS
    assert [row.device for row in page.rows[:10]] == [f"zz-eval-{n}" for n in range(10)]
    assert {row.css for row in page.rows[:10]} == {"critical"}
    assert page.more.startswith("100 more devices")
    assert "/metrics" in page.more and "lic-exporter parse" in page.more
    by_urgency = sorted(healthy, key=lambda f: (f.deadlines[Deadline.COMMUNICATION_DEADLINE], f.device))
    assert [row.device for row in page.rows[10:]] == [f.device for f in by_urgency[:MAX_ROWS - 10]]


@pytest.mark.parametrize("deadline", list(Deadline))
def test_a_deadline_alone_colours_its_row_as_its_alert_would(deadline: Deadline) -> None:
    """Days just under each threshold of DEADLINE_DAYS: warning, then critical, as the alert
    rules say; a day over the warning mark: ok."""
    thresholds = DEADLINE_DAYS[deadline]
    expected = {}
    facts = []
    for name, days, css in (("calm", thresholds.warning + 1, "ok"), ("warn", thresholds.warning - 0.5, "warning"),
                            ("crit", thresholds.critical - 0.5, "critical")):
        facts.append(Facts(name, mode=Mode.POLICY, captured=NOW_TIME,
                           deadlines={deadline: NOW_TIME + timedelta(days=days)}))
        expected[name] = css
    # Only the thresholds colour these rows: diagnose may add findings, never a milder colour.
    page = read_page(status_page(facts, [], _header(), NOW_TIME).decode())
    assert {row.device: row.css for row in page.rows} == expected
    assert [row.device for row in page.rows] == ["crit", "warn", "calm"]


# --- in a browser -------------------------------------------------------------------------------------

def _chromium(url: str, tmp_path: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    command = [binary("chromium", "apt-get install chromium"), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,1000",
               *mode, url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def _artefacts(tmp_path: Path) -> Path:
    folder = Path(os.environ["LIC_EXPORTER_ARTIFACTS"]) if os.environ.get("LIC_EXPORTER_ARTIFACTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def png_pixels(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and the unfiltered rows of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, header = 8, b"", b""
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        chunk = data[at + 8:at + 8 + length]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                nearest = min((abs(p - left), 0, left), (abs(p - up), 1, up), (abs(p - corner), 2, corner))[2]
                line[i] = (line[i] + nearest) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, bpp, rows


def _colour_count(png: bytes, rgb: tuple[int, int, int]) -> int:
    width, _, bpp, rows = png_pixels(png)
    target = bytes(rgb)
    return sum(1 for row in rows for x in range(width) if row[x * bpp:x * bpp + 3] == target)


def test_chromium_shows_the_example_fleet_and_runs_nothing(fleet_page: tuple[Daemon, str], tmp_path: Path) -> None:
    daemon = fleet_page[0]
    dom = _chromium(daemon.url + "/", tmp_path, "--dump-dom").stdout
    page = read_page(dom)
    assert [row.device for row in page.rows] == EXAMPLE_ORDER
    assert "script" not in page.tags and RAN not in dom
    screenshot = _artefacts(tmp_path) / "status-page.png"
    screenshot.unlink(missing_ok=True)
    _chromium(daemon.url + "/", tmp_path, f"--screenshot={screenshot}")
    png = screenshot.read_bytes()
    width, height, _, _ = png_pixels(png)
    assert (width, height) == (1400, 1000)
    # The row colours of the style sheet, painted: a critical and a warning row are on screen.
    assert _colour_count(png, (0xFB, 0xD5, 0xD2)) > 1000  # tr.critical
    assert _colour_count(png, (0xFD, 0xEF, 0xC3)) > 1000  # tr.warning


def test_chromium_runs_no_planted_script(hostile: tuple[Daemon, str], tmp_path: Path) -> None:
    dom = _chromium(hostile[0].url + "/", tmp_path, "--dump-dom").stdout
    page = read_page(dom)
    assert "sw-x" in [row.device for row in page.rows]
    assert not {"script", "img", "b"} & set(page.tags)
    assert RAN not in dom


def test_the_documented_thresholds_are_the_vocabularys() -> None:
    """docs/status-page.md's table of colours against DEADLINE_DAYS, which the page reads."""
    text = (PROJECT / "docs" / "status-page.md").read_text()
    documented = {match[0]: (float(match[1]), float(match[2]))
                  for match in re.findall(r"^\| `(\w+)` \| (\d+) days \| (\d+) days \|$", text, re.M)}
    assert documented == {deadline.value: (days.warning, days.critical) for deadline, days in DEADLINE_DAYS.items()}
    assert f"shows the {MAX_ROWS} most urgent devices" in text
