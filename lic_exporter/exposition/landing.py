"""The fleet status page served at /: every device, most urgent first, coloured by the thresholds
the alert rules use, under what the exporter is and watches; one self-contained HTML document.

Pure: facts, findings and the exporter's summary in, bytes out; the daemon renders it together
with /metrics (daemon/page.py), never per request. Every value is escaped, because device
names, URLs, problem texts and paths come from files and switches. No script and no external
asset: a Content-Security-Policy forbids both, and the one style sheet is allowed by its hash.

Cheap at any fleet size: one pass over the devices computes each one's urgency, only the
MAX_ROWS most urgent are kept (heapq, O(n log MAX_ROWS)) and only they are written out.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from lic_exporter.analysis.deadlines import days_until, urgency
from lic_exporter.analysis.diagnose import Facts, Finding
from lic_exporter.model.vocabulary import SEVERITIES, Deadline, Severity

MAX_ROWS = 500  # devices written out; the rest are counted in one line
MAX_FILE_PROBLEMS = 20  # files with errors listed; the rest are counted
MAX_UNREADABLE = 20  # unreadable folders and files listed; the rest are counted
OK = "ok"  # the class and text of a row with nothing to report
_RENDERED_AGAIN_SECONDS = 60  # a clock further than this from the render time is a pretended one (--now)

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em 1.5em;color:#1b1b1b;background:#fff}
h1{font-size:1.35em;margin:0 0 .2em}h2{font-size:1.1em;margin:1em 0 .4em}
a{color:#0b57d0}nav a{margin-right:1.2em}nav small{margin-left:1em}
.about{display:grid;grid-template-columns:repeat(auto-fill,minmax(13em,1fr));gap:.5em 1.5em;margin-top:.8em}
.about .k{display:block;font-size:.8em;font-weight:700;color:#555;text-transform:uppercase}
table{border-collapse:collapse}th,td{padding:.3em .6em;text-align:left;vertical-align:top}
table.fleet{width:100%}table.fleet thead th{border-bottom:2px solid #999;background:#f3f3f3}
table.fleet td,table.fleet tbody th{border-bottom:1px solid #ddd;white-space:nowrap}
table.fleet td.findings{white-space:normal;overflow-wrap:anywhere;min-width:18em}
tr.critical>*{background:#fbd5d2}tr.warning>*{background:#fdefc3}tr.info>*{background:#dcebfb}
td.sev{font-weight:700;text-transform:uppercase}
tr.critical td.sev{color:#8c1d18}tr.warning td.sev{color:#6b4e00}tr.info td.sev{color:#0b4a8b}
tr.ok td.sev{color:#1e6b34}
.critical{color:#8c1d18}.warning{color:#6b4e00}.info{color:#0b4a8b}
.badge{display:inline-block;padding:0 .5em;border-radius:.6em;margin-right:.4em;font-weight:600}
.badge.critical{background:#fbd5d2}.badge.warning{background:#fdefc3}.badge.info{background:#dcebfb}
.badge.ok{background:#d6f0dc;color:#1e6b34}
ul{margin:0;padding-left:1.1em}small{color:#555}td.num{text-align:right}
td.deadline.critical,td.deadline.warning{font-weight:700}
.notice{padding:.6em 1em;background:#fdefc3;border-left:4px solid #b08800}
.more{margin-top:.6em;font-style:italic}code{background:#f3f3f3;padding:0 .2em;overflow-wrap:anywhere}
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
_POLICY = (f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'none'; base-uri 'none'; "
           "form-action 'none'")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class StatusHeader:
    """What the page says about the exporter itself."""

    version: str
    revision: str
    python: str
    started: datetime
    rendered: datetime  # the wall-clock time of this rendering
    watched: tuple[str, ...] = ()
    # each --syslog pattern as given, and how many files it matches now (None: not known)
    syslog_patterns: tuple[tuple[str, int | None], ...] = ()
    files_ok: int = 0
    files_error: int = 0
    file_problems: tuple[str, ...] = ()  # one line per file with errors ("PATH:LINE: message")
    lifecycle: bool = False
    # folders and files that exist but cannot be read (the first MAX_UNREADABLE are enough),
    # each "PATH: cannot read: reason", and how many there are in all
    unreadable: tuple[str, ...] = ()
    unreadable_count: int = 0


@dataclass(frozen=True)
class Row:
    """One device as the table shows it. `severity` None: nothing to report."""

    facts: Facts
    severity: Severity | None
    nearest: tuple[Deadline, datetime, float] | None  # the deadline, when, days left
    findings: tuple[Finding, ...]

    @property
    def css(self) -> str:
        return self.severity.value if self.severity is not None else OK


@dataclass(frozen=True)
class Fleet:
    """The rows shown, most urgent first, and how many devices there are at each level."""

    rows: list[Row]
    total: int
    counts: dict[str, int]  # critical, warning, info, ok -> devices


_LEVELS: tuple[Severity | None, ...] = (None, *SEVERITIES)  # a row's level: its index here
_LEVEL = {severity: level for level, severity in enumerate(_LEVELS)}


def rank_fleet(facts: Sequence[Facts], findings: Sequence[Finding], now: datetime, limit: int = MAX_ROWS) -> Fleet:
    """The `limit` most urgent devices: the worst severity first (of a device's findings and of
    its deadlines' urgencies, model/vocabulary.py DEADLINE_DAYS as the alert rules read them),
    then the fewest days left, then the name. One small tuple per device and a heap of `limit`:
    a row is built only for the devices shown."""
    worst: dict[str, int] = {}
    for finding in findings:
        level = _LEVEL[finding.severity]
        if level > worst.get(finding.device, 0):
            worst[finding.device] = level
    counts = [0] * len(_LEVELS)
    keys = []
    for index, device in enumerate(facts):
        level, nearest = worst.get(device.device, 0), math.inf
        for name, when in device.deadlines.items():
            days = days_until(when, now)
            nearest = min(nearest, days)
            level = max(level, _LEVEL[urgency(name, days)])
        counts[level] += 1
        keys.append((-level, nearest, device.device, index))
    chosen = heapq.nsmallest(limit, keys)
    shown = {name for _, _, name, _ in chosen}
    by_device: dict[str, list[Finding]] = {}
    for finding in findings:  # in diagnose's order: the worst of a device first
        if finding.device in shown:
            by_device.setdefault(finding.device, []).append(finding)
    rows = [_row_of(facts[index], _LEVELS[-minus_level], tuple(by_device.get(name, ())), now)
            for minus_level, _, name, index in chosen]
    by_name = {(level.value if level is not None else OK): count for level, count in zip(_LEVELS, counts, strict=True)}
    return Fleet(rows, len(keys), {name: by_name[name] for name in ("critical", "warning", "info", OK)})


def _row_of(facts: Facts, severity: Severity | None, findings: tuple[Finding, ...], now: datetime) -> Row:
    nearest = None
    for name, when in facts.deadlines.items():
        days = days_until(when, now)
        if nearest is None or days < nearest[2]:
            nearest = (name, when, days)
    return Row(facts, severity, nearest, findings)


def status_page(facts: Sequence[Facts], findings: Sequence[Finding], header: StatusHeader, now: datetime,
                max_rows: int = MAX_ROWS) -> bytes:
    """The page for these devices (facts as diagnose saw them, syslog included) and findings,
    with the days left counted for `now`."""
    fleet = rank_fleet(facts, findings, now, max_rows)
    parts = [_head(header.lifecycle), _exporter(header, now), _unreadable(header), _files(header), _summary(fleet)]
    if fleet.total:
        parts.append(_table(fleet.rows, now))
        if fleet.total > len(fleet.rows):
            parts.append(f'<p class="more">{fleet.total - len(fleet.rows)} more devices (the {len(fleet.rows)} '
                         "most urgent are shown): see <a href=\"metrics\">/metrics</a> or "
                         "<code>lic-exporter parse</code>.</p>")
    else:
        parts.append("<p>No device found yet in the watched folders or the followed syslog files.</p>")
    parts.append("</main></body></html>\n")
    return "".join(parts).encode()


def starting_page(header: StatusHeader) -> bytes:
    """The page while the initial scan runs: the exporter's summary and a word that the device
    table follows."""
    notice = ('<p class="notice">Initial scan running: the device table appears here when the watched '
              "folders have been read (<a href=\"-/ready\">/-/ready</a> answers 200 then).</p>")
    parts = [_head(header.lifecycle), _exporter(header, header.rendered), notice, "</main></body></html>\n"]
    return "".join(parts).encode()


# --- the parts of the page ------------------------------------------------------------------

def _head(lifecycle: bool) -> str:
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_e(_POLICY)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>lic_exporter: fleet licensing status</title>"
            f"<style>{_CSS}</style></head><body><main>"
            "<h1>lic_exporter: fleet licensing status</h1>"
            '<nav><a href="metrics">/metrics</a><a href="-/healthy">/-/healthy</a>'
            '<a href="-/ready">/-/ready</a>'
            f"<small>rescan: {'POST /-/reload or SIGHUP' if lifecycle else 'SIGHUP (POST /-/reload not enabled)'}"
            "</small></nav>")


def _exporter(header: StatusHeader, now: datetime) -> str:
    rendered = _when(header.rendered)
    if abs((now - header.rendered).total_seconds()) > _RENDERED_AGAIN_SECONDS:
        rendered += f"<br><small>days left counted for {_when(now)}</small>"
    items = [("Version", f"{_e(header.version)}<br><small>revision {_e(header.revision)}, "
                         f"Python {_e(header.python)}</small>"),
             ("Started", _when(header.started)), ("Rendered", rendered),
             ("Watched folders", _listing(header.watched, "none")),
             ("Syslog patterns", _patterns(header.syslog_patterns)),
             ("Files", _file_counts(header))]
    cells = "".join(f'<div><span class="k">{name}</span>{value}</div>' for name, value in items)
    return f'<section class="about" aria-label="Exporter">{cells}</section>'


def _listing(items: Sequence[str], empty: str) -> str:
    if not items:
        return f"<small>{empty}</small>"
    return "<ul>" + "".join(f"<li><code>{_e(item)}</code></li>" for item in items) + "</ul>"


def _patterns(patterns: Sequence[tuple[str, int | None]]) -> str:
    if not patterns:
        return "<small>none (no --syslog given)</small>"
    items = []
    for pattern, count in patterns:
        if count is None:
            items.append(f"<li><code>{_e(pattern)}</code></li>")
        elif count == 0:
            items.append(f'<li class="warning"><code>{_e(pattern)}</code>: <strong>matches no file</strong></li>')
        else:
            items.append(f"<li><code>{_e(pattern)}</code>: {count} file{'s' if count != 1 else ''}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _file_counts(header: StatusHeader) -> str:
    errors = f"{header.files_error} with errors"
    if header.files_error:
        errors = f'<strong class="warning">{errors}</strong>'
    return f"{header.files_ok} parsed cleanly<br>{errors}"


def _unreadable(header: StatusHeader) -> str:
    """What exists but could not be read: its devices are missing from the table below."""
    if not header.unreadable_count:
        return ""
    listed = "".join(f"<li><code>{_e(problem)}</code></li>" for problem in header.unreadable[:MAX_UNREADABLE])
    more = header.unreadable_count - min(len(header.unreadable), MAX_UNREADABLE)
    tail = f'<p class="more">{more} more: see the log and lic_exporter_unreadable_paths.</p>' if more > 0 else ""
    return (f'<h2 class="critical">Could not be read ({header.unreadable_count})</h2><p>Folders and files that '
            "exist but that the exporter cannot read (check their permissions for the user it runs as): the "
            f'devices they hold are missing from the table below.</p><ul class="problems unreadable">{listed}</ul>'
            f"{tail}")


def _files(header: StatusHeader) -> str:
    """The files with errors, each with its one-line problem (capped)."""
    if not header.files_error:
        return ""
    problems = header.file_problems[:MAX_FILE_PROBLEMS]
    listed = "".join(f"<li><code>{_e(problem)}</code></li>" for problem in problems)
    more = header.files_error - len(problems)
    tail = f'<p class="more">{more} more: see the log and lic_exporter_files.</p>' if more > 0 else ""
    return (f'<h2>Files with errors</h2><p>Their last good records are kept.</p>'
            f'<ul class="problems">{listed}</ul>{tail}')


def _summary(fleet: Fleet) -> str:
    badges = "".join(f'<span class="badge {name}">{count} {name}</span>' for name, count in fleet.counts.items())
    return f"<h2>Devices</h2><p>{fleet.total} device{'s' if fleet.total != 1 else ''}: {badges}</p>"


_COLUMNS = ("Severity", "Device", "Mode", "Registration", "Authorization", "Nearest deadline", "Days left",
            "Last capture", "Findings")


def _table(rows: Iterable[Row], now: datetime) -> str:
    head = "".join(f'<th scope="col">{name}</th>' for name in _COLUMNS)
    body = "".join(_row(row, now) for row in rows)
    return f'<table class="fleet"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _row(row: Row, now: datetime) -> str:
    f = row.facts
    if row.nearest is not None:
        name, when, days = row.nearest
        level = urgency(name, days)
        css = f"deadline {level.value}" if level is not None else "deadline"
        deadline = f'<td class="{css}">{_e(name.value)}<br><small>{when.astimezone(UTC):%Y-%m-%d}</small></td>'
        left = f'<td class="num {css}">{days:.1f}{" (passed)" if days < 0 else ""}</td>'
    else:
        deadline, left = "<td><small>none stated</small></td>", '<td class="num"></td>'
    cells = (f'<td class="sev">{row.css}</td><th scope="row">{_e(f.device)}</th>'
             f"<td>{_state(f.mode)}</td><td>{_state(f.registration)}</td><td>{_state(f.authorization)}</td>"
             f"{deadline}{left}<td>{_captured(f.captured, now)}</td>"
             f'<td class="findings">{_findings(row.findings)}</td>')
    return f'<tr class="{row.css}" id="device-{_e(f.device)}">{cells}</tr>'


def _state(value: object | None) -> str:
    return _e(getattr(value, "value", value)) if value is not None else "<small>—</small>"


def _captured(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "<small>syslog only</small>"
    return f"{_when(when, seconds=False)}<br><small>{_age(now - when.astimezone(UTC))}</small>"


def _age(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 0:
        return "ahead of the page's clock"
    minutes = int(seconds // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h ago"
    return f"{hours} h {minutes} min ago" if hours else f"{minutes} min ago"


def _findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    items = "".join(f'<li class="{_e(f.severity.value)}"><strong>{_e(f.problem)}</strong> '
                    f"({_e(f.severity.value)}): {_e(f.what)}</li>" for f in findings)
    return f"<ul>{items}</ul>"


def _when(when: datetime, seconds: bool = True) -> str:
    utc = when.astimezone(UTC)
    shown = f"{utc:%Y-%m-%d %H:%M:%S}" if seconds else f"{utc:%Y-%m-%d %H:%M}"
    return f'<time datetime="{utc.isoformat()}">{shown} UTC</time>'
