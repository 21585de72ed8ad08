"""Mutation fuzzer for the lic-exporter command line.

Base inputs (authored fixtures, the real corpus when present, and PLANTED inputs holding known
secrets) are damaged by 1-3 seeded mutations, then every `parse` and `diagnose` output format
is run in-process on the result. A call fails when an exception escapes main(), a traceback or
an "internal error" is printed or logged, a planted secret reaches stdout, stderr or the logs,
a call takes longer than CALL_SECONDS, or main() returns an exit code outside the contract for
a valid command line (0 or 1).

Every case is defined by its seed alone (base, mutations and their positions come from
random.Random(seed)), so `python -m bench.fuzz --replay SEED` rebuilds it. Used by
tests/test_fuzz.py and bench/fuzz.py.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import random
import re
import shutil
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.paths import CORPUS, FIXTURES

# ---------------------------------------------------------------------------------------------
# Secrets planted in the PLANTED inputs. None of them may ever be printed or logged.

IDTOKEN = ("NGQ3YjE5ZTAtMmM4Ni00ZjVhLWIxYTMtOTk0ZTc2ZDJhYzQxLTE3ODA0MTI5%0AMzM3MTh8"
           "bXpHcFVyVjlkS3FXc1R5Tm9Ld2JqRWhGaUxwQWdEeUl6%0AcnA5TTBs")
EMAIL = "noc.licensing-jrivera@example-corp.test"
PHONE = "+1-408-555-0173"
STREET = "4711 Quarry Lane Suite 9"
PROXY_USER = "svc_licproxy_user"
PROXY_PASSWORD = "Pr0xyS3cret-77"
PROXY_URL = f"http://{PROXY_USER}:{PROXY_PASSWORD}@proxy.example.net"

# What is looked for in the output: each whole secret, plus the parts that identify one even
# when the rest of it was cut or damaged.
# Most telling first: a leak is grouped under the first of these it shows.
SECRET_NEEDLES: tuple[tuple[str, str], ...] = (
    ("IDTOKEN", IDTOKEN),
    ("PROXY_PASSWORD", PROXY_PASSWORD),
    ("EMAIL", EMAIL),
    ("PHONE", PHONE),
    ("STREET", STREET),
    ("PROXY_USER", PROXY_USER),
    ("IDTOKEN[:24]", IDTOKEN[:24]),
    ("EMAIL local part", EMAIL.split("@", 1)[0]),
)
SECRETS = (IDTOKEN, EMAIL, PHONE, STREET, PROXY_USER, PROXY_PASSWORD)

# Words next to the secrets: redaction keys on them, so damaging them is the likeliest way
# to get a secret past it. Word damage prefers these when the input holds one.
KEYWORDS = ("idtoken", "streetaddress", "phone-contact", "email-contact", "Password", "Username",
            "Proxy", "Address", "email", "phone", "street", "addr", "register", "http", "Failure", "proxy",
            "contact", "password", "user")

NOW = "2026-06-01T00:00:00+00:00"
COMMANDS: tuple[tuple[str, str], ...] = (
    ("parse", "json"), ("parse", "table"), ("parse", "prometheus"), ("diagnose", "text"), ("diagnose", "json"))
CALL_SECONDS = 5.0
MAX_BYTES = 200 * 1024
PLANTED_SHARE = 0.4  # share of cases built on a planted input (they are few, and hold the secrets)
_NOT_SAMPLES = (".md", ".expected.json", ".expected.yml")

# ---------------------------------------------------------------------------------------------
# Planted inputs

_STATUS_NXOS = f"""\
nx-lab-02# show license status

Smart Licensing is ENABLED

Registration:
  Status: REGISTERED
  Smart Account: Example Networks Inc
  Virtual Account: DC1-Fabric
  Export-Controlled Functionality: Allowed
  Initial Registration: SUCCEEDED on Nov 18 09:30:12 2025 UTC
  Last Renewal Attempt: FAILED on May 17 09:30:12 2026 UTC
    Failure reason: Fail to send out Call Home HTTP message via {PROXY_URL}:8080
  Next Renewal Attempt: May 17 10:30:12 2026 UTC
  Registration Expires: Nov 18 09:25:01 2026 UTC

License Authorization:
  Status: AUTHORIZED on Apr 19 09:31:02 2026 UTC
  Last Communication Attempt: FAILED on May 19 09:31:02 2026 UTC
    Failure reason: Proxy {PROXY_URL}:8080 refused the connection (user {PROXY_USER})
  Next Communication Attempt: May 20 08:31:02 2026 UTC
  Communication Deadline: Jul 18 09:26:00 2026 UTC

Transport:
  Type: Callhome
  Proxy:
    Address: {PROXY_URL}
    Port: 8080
    Username: {PROXY_USER}
    Password: {PROXY_PASSWORD}
  VRF: management

Smart License Conversion:
  Automatic Conversion Enabled: False
  Status: Not started

nx-lab-02#
"""

_STATUS_POLICY = f"""\
c9300-lab-07#show license status
Utility:
  Status: DISABLED

Smart Licensing Using Policy:
  Status: ENABLED

Account Information:
  Smart Account: Example Networks Inc As of May 03 09:03:25 2026 UTC
  Virtual Account: DEFAULT

Data Privacy:
  Sending Hostname: yes
    Callhome hostname privacy: DISABLED
    Smart Licensing hostname privacy: DISABLED
  Version privacy: DISABLED

Transport:
  Type: Smart
  URL: https://smartreceiver.cisco.com/licservice/license
  Proxy:
    Address: {PROXY_URL}
    Port: 8080
    Username: {PROXY_USER}
    Password: {PROXY_PASSWORD}
  VRF: <empty>

Policy:
  Policy in use: Merged from multiple sources.
  Reporting ACK required: yes (CISCO default)

Miscellaneous:
  Custom Id: <empty>

Usage Reporting:
  Last ACK received: May 03 09:03:25 2026 UTC
  Next ACK deadline: Aug 01 09:03:25 2026 UTC
  Reporting push interval: 30  days State(4) InPolicy(90)
  Next ACK push check: <none>
  Next report push: May 20 09:05:29 2026 UTC
  Last report push: May 03 09:03:26 2026 UTC
    Failure reason: Fail to send out Smart Licensing message to: {PROXY_URL}:8080/licservice/license
  Last report file write: <none>

Trust Code Installed: May 03 09:02:50 2026 UTC

c9300-lab-07#
"""

_RUNNING_CALLHOME = f"""\
!Command: show running-config callhome
!Running configuration last done at: Tue May 19 09:12:03 2026
!Time: Tue May 19 09:20:44 2026

version 9.3(8) Bios:version 05.45
callhome
  email-contact {EMAIL}
  phone-contact {PHONE}
  streetaddress {STREET}
  destination-profile CiscoTAC-1 transport-method http
  destination-profile CiscoTAC-1 index 1 http https://tools.cisco.com/its/service/oddce/services/DDCEService
  transport http proxy server {PROXY_URL} port 8080
  transport http proxy enable
  transport http use-vrf management
  enable
"""

_SHOW_CALLHOME = f"""\
callhome enabled
Callhome Information:
contact person name(sysContact):jrivera
contact person's email:{EMAIL}
contact person's phone number:{PHONE}
street addr:{STREET}
site id:
customer id:
contract id:
switch priority:7
duplicate message throttling : enabled
periodic inventory : enabled
periodic inventory time-period : 7 days
periodic inventory timeofday : 08:00 (HH:MM)
Distribution of callhome configuration data using CFS : disabled
"""

_SESSION = f"""\
nx-lab-01# show clock
Time source is NTP
09:40:02.118 UTC Wed May 20 2026

nx-lab-01# show license status

Smart Licensing is ENABLED

Registration:
  Status: UNREGISTERED - REGISTRATION FAILED
  Export-Controlled Functionality: NOT ALLOWED
  Initial Registration: FAILED on May 20 09:35:02 2026 UTC
    Failure reason: {PROXY_URL}:8080: Proxy authentication required
  Next Registration Attempt: May 20 09:50:02 2026 UTC

License Authorization:
  Status: EVAL MODE
  Evaluation Period Remaining: 88 days, 2 hours, 11 minutes, 40 seconds

nx-lab-01# configure terminal
Enter configuration commands, one per line. End with CNTL/Z.
nx-lab-01(config)# callhome
nx-lab-01(config-callhome)# email-contact {EMAIL}
nx-lab-01(config-callhome)# end
nx-lab-01# license smart register idtoken {IDTOKEN}
nx-lab-01# show license status | include Status
  Status: REGISTERING - REGISTRATION IN PROGRESS
nx-lab-01# show running-config callhome

{_RUNNING_CALLHOME}
nx-lab-01# show callhome
{_SHOW_CALLHOME}
nx-lab-01# show logging logfile | include LIC|CALLHOME
2026 May 20 09:35:02 nx-lab-01 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the Cisco Smart \
Software Manager (CSSM) : Fail to send out Smart Licensing message to: {PROXY_URL}:8080/licservice/license
2026 May 20 09:41:17 nx-lab-01 %SMART_LIC-6-AGENT_REG_SUCCESS: Smart Agent for Licensing Registration with the \
Cisco Smart Software Manager (CSSM) succeeded: idtoken {IDTOKEN}
2026 May 20 09:42:00 nx-lab-01 %CALLHOME-2-EVENT: email-contact {EMAIL} phone-contact {PHONE} streetaddress {STREET}
nx-lab-01#
"""

_SYSLOG = f"""\
2026 May 20 10:00:01 nx-lab-05 %CALLHOME-2-EVENT: contact changed: email-contact {EMAIL} phone-contact {PHONE} \
streetaddress {STREET}
2026 May 20 10:00:02 nx-lab-05 %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the Cisco Smart \
License Utility (CSLU) : Fail to send out Smart Licensing message to: {PROXY_URL}:8080/cslu/v1/pi
2026 May 20 10:00:03.250 nx-lab-05 %SMART_LIC-6-AGENT_REG_SUCCESS: Smart Agent for Licensing Registration with the \
Cisco Smart Software Manager (CSSM) succeeded: idtoken {IDTOKEN}
<187>nx-lab-05: 2026 May 20 10:00:04 UTC: %LICMGR-3-LOG_SMART_LIC_COMM_FAILED: Communications failure with the \
Cisco Smart Software Manager (CSSM) : Proxy authentication failed for user {PROXY_USER} password {PROXY_PASSWORD}
<189>109692: nx-lab-05: May 20 10:00:05.003: %CALL_HOME-5-SL_MESSAGE_FAILED: Fail to send out Smart Licensing \
message to: {PROXY_URL}:8080/DDCEService (ERR 205 : Request Aborted)
2026 May 20 10:00:06 nx-lab-05 %VSHD-5-VSHD_SYSLOG_CONFIG_I: Configured from vty by admin on 10.0.0.9@pts/0: \
license smart register idtoken {IDTOKEN} force
2026 May 20 10:00:07 nx-lab-05 %VSHD-5-VSHD_SYSLOG_CONFIG_I: Configured from vty by admin on 10.0.0.9@pts/0: \
callhome ; email-contact {EMAIL} ; phone-contact {PHONE} ; streetaddress {STREET}
<187>1 2026-05-20T10:00:08.000Z nx-lab-05 - - - - %SMART_LIC-3-AGENT_REG_FAILED: Smart Agent for Licensing \
Registration with the Cisco Smart Software Manager (CSSM) failed: {PROXY_URL}:8080 Proxy authentication required
Nov 20 05:00:09 logs01.example.net local7.err: nx-lab-05: 2026 May 20 10:00:09.500 UTC: \
%CALLHOME-2-EVENT: callhome contact: email-contact {EMAIL} phone-contact {PHONE}
2026 May 20 10:00:10 nx-lab-05 %LICMGR-6-LOG_SMART_LIC_COMM_RESTORED: Communications with Cisco Smart Software \
Manager (CSSM) restored
"""

# relative file name (folder = device, as collection tools save them) -> text
PLANTED: dict[str, str] = {
    "nx-lab-02/show_license_status.txt": _STATUS_NXOS,
    "c9300-lab-07/show_license_status.txt": _STATUS_POLICY,
    "nx-lab-03/show_running-config_callhome.txt": _RUNNING_CALLHOME,
    "nx-lab-03/show_callhome.txt": _SHOW_CALLHOME,
    "sessions/nx-lab-01.log": _SESSION,
    "syslog/nx-lab-05.log": _SYSLOG,
}


@dataclass(frozen=True)
class Base:
    name: str  # shown in reports: fixtures/..., corpus/..., planted/...
    file_name: str  # where the mutated copy is written, relative to the case folder
    data: bytes
    planted: bool = False


def load_bases(fixtures: Path = FIXTURES, corpus: Path | None = CORPUS) -> list[Base]:
    """Fixtures (*.txt, *.log), corpus samples (when the corpus is there), planted inputs."""
    bases = [Base(f"fixtures/{p.relative_to(fixtures)}", f"{p.parent.name}/{p.name}", p.read_bytes())
             for p in sorted(fixtures.rglob("*")) if p.is_file() and p.suffix in (".txt", ".log")]
    if corpus is not None and corpus.is_dir():
        bases += [Base(f"corpus/{p.relative_to(corpus)}", f"{p.parent.name}/{p.name}", p.read_bytes())
                  for p in sorted(corpus.rglob("*")) if p.is_file() and not p.name.endswith(_NOT_SAMPLES)]
    bases += [Base(f"planted/{name}", name, text.encode(), planted=True) for name, text in PLANTED.items()]
    return bases


# ---------------------------------------------------------------------------------------------
# Mutations: each takes (rng, data) and returns (new data, description), or None where it does
# not apply to this input (no number to enlarge, no zone word, ...).

Mutation = Callable[[random.Random, bytes], "tuple[bytes, str] | None"]
HUGE = b"9" * 400
_INSERTS = (b"\x00", b"\r", b"\x1b[31m", b"\x1b]0;", b"\x1b]0;title\x07", b"\xff\xfe", HUGE, b"\x08\x08\x08",
            b"\t", b"\r\n", b"\n", b"\x0c", b"\xe2\x80\xa8", b"\xc2\x85", b"\xef\xbb\xbf", b"#", b"> ",
            b" --More-- ", b":", b"%", b"\x1b[", b"\xc3", b"nx-lab-09# ", b"\nnx-lab-09# show license status\n")
_WORD_CHARS = (b"%", b"0", b"\x1b[31m", b"\x08", b"\xc3\xa9", b"\xff", b"-", b"_", b" ", b":", b".", b"@", b"/")
_WORD = re.compile(rb"[A-Za-z][A-Za-z0-9'_-]*[A-Za-z0-9]")
_NUMBER = re.compile(rb"\d+")
_MONTH_DAY = re.compile(rb"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)(\s+)(\d{1,2})\b")
_CLOCK = re.compile(rb"\b\d{1,2}:\d{2}:\d{2}\b")
_YEAR = re.compile(rb"\b(?:19|20)\d{2}\b")
_ISO_DATE = re.compile(rb"\b\d{4}-\d{2}-\d{2}")
_ZONE = re.compile(rb"\b(UTC|GMT|EDT|EST|CET|CEST|PST|PDT|IST|JST|est|utc|Z)\b")
_ZONE_JUNK = (b"pacific", b"Pacific/Kiritimati", b"PACIFICSTANDARDTIME", b"XYZ", b"UTC+25:00", b"+14:00",
              b"\xff\xfeT", b"Z" * 300, b"utc", b"", b"UTC UTC", b"12345")


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _pick(rng: random.Random, matches: Sequence[re.Match[bytes]]) -> re.Match[bytes] | None:
    return rng.choice(matches) if matches else None


def _show(chunk: bytes, limit: int = 24) -> str:
    text = repr(chunk[:limit])[2:-1]
    return f"'{text}...'({len(chunk)}B)" if len(chunk) > limit else f"'{text}'"


def m_flip_byte(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    if not data:
        return None
    at = rng.randrange(len(data))
    new = data[at] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
    return data[:at] + bytes([new]) + data[at + 1:], f"byte@{at}:{data[at]:#04x}->{new:#04x}"


def m_insert(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    chunk = rng.choice(_INSERTS) if rng.random() < 0.8 else rng.randbytes(rng.randint(1, 8))
    at = rng.randint(0, len(data))
    if rng.random() < 0.3:  # at a line start or end, where it changes how a line reads
        starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]
        at = rng.choice(starts)
    return data[:at] + chunk + data[at:], f"insert@{at}:{_show(chunk)}"


def m_delete_line(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    lines = _lines(data)
    if not lines:
        return None
    i = rng.randrange(len(lines))
    return b"".join(lines[:i] + lines[i + 1:]), f"delete-line {i + 1}"


def m_duplicate_line(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    lines = _lines(data)
    if not lines:
        return None
    i = rng.randrange(len(lines))
    line = lines[i] if lines[i].endswith(b"\n") else lines[i] + b"\n"
    return b"".join([*lines[:i], line, *lines[i:]]), f"duplicate-line {i + 1}"


def m_swap_lines(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    lines = _lines(data)
    if len(lines) < 2:
        return None
    i = rng.randrange(len(lines) - 1)
    a, b = lines[i], lines[i + 1]
    if not b.endswith(b"\n"):  # the last line, without its newline: keep the file's ending
        a, b = a.rstrip(b"\r\n"), b + a[len(a.rstrip(b"\r\n")):]
    lines[i], lines[i + 1] = b, a
    return b"".join(lines), f"swap-lines {i + 1}/{i + 2}"


def m_reindent(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    lines = _lines(data)
    if not lines:
        return None
    i = rng.randrange(len(lines))
    stripped = lines[i].lstrip(b" \t")
    if stripped != lines[i] and rng.random() < 0.5:
        lines[i] = stripped
        return b"".join(lines), f"dedent-line {i + 1}"
    spaces = rng.choice((1, 2, 3, 4, 8, 40))
    lines[i] = b" " * spaces + lines[i]
    return b"".join(lines), f"indent-line {i + 1} +{spaces}"


def m_join_lines(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    lines = _lines(data)
    if len(lines) < 2:
        return None
    i = rng.randrange(len(lines) - 1)
    glue = rng.choice((b"", b" "))
    lines[i] = lines[i].rstrip(b"\r\n") + glue + lines.pop(i + 1)
    return b"".join(lines), f"join-lines {i + 1}+{i + 2}"


def m_cut(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    if not data:
        return None
    at = rng.randrange(len(data))
    return data[:at], f"cut@{at}"


def m_damage_word(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    """Replace or insert one character inside a word; secret keywords first."""
    found = None
    if rng.random() < 0.6:
        keyword = [m for k in KEYWORDS for m in re.finditer(re.escape(k.encode()), data)]
        found = _pick(rng, keyword)
    found = found or _pick(rng, list(_WORD.finditer(data)))
    if found is None:
        return None
    word = found.group()
    inside = rng.randint(1, len(word) - 1)
    char = rng.choice(_WORD_CHARS) if rng.random() < 0.5 else bytes([rng.choice(b"abcdefghijklmnopqrstuvwxyz0123")])
    replace = rng.random() < 0.5 and word[inside:inside + 1] != char  # else insert
    damaged = word[:inside] + char + word[inside + replace:]
    return (data[:found.start()] + damaged + data[found.end():],
            f"damage-word@{found.start()}:{_show(word)}->{_show(damaged)}")


def m_huge_number(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    found = _pick(rng, list(_NUMBER.finditer(data)))
    if found is None:
        return None
    new = rng.choice((HUGE, HUGE, b"99999999999999999999", b"0" * 50 + b"1", b"-1"))
    described = f"number@{found.start()}:{_show(found.group())}->{_show(new)}"
    return data[:found.start()] + new + data[found.end():], described


def m_bad_date(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    candidates: list[tuple[re.Match[bytes], bytes]] = []
    for found in _MONTH_DAY.finditer(data):
        bad = rng.choice((b"Feb 30", b"Feb 31", b"Apr 31", b"Jan 00", b"Dec 32", b"Jun 99", b"Foo 12"))
        candidates.append((found, bad))
    for found in _CLOCK.finditer(data):
        candidates.append((found, rng.choice((b"24:00:00", b"25:61:61", b"99:99:99", b"23:59:60", b"-1:00:00"))))
    for found in _YEAR.finditer(data):
        candidates.append((found, rng.choice((b"0000", b"0001", b"9999", b"10000", b"1969", b"1900"))))
    for found in _ISO_DATE.finditer(data):
        candidates.append((found, rng.choice((b"2026-02-30", b"2026-13-01", b"0000-00-00", b"9999-12-31"))))
    if not candidates:
        return None
    found, bad = rng.choice(candidates)
    return data[:found.start()] + bad + data[found.end():], f"date@{found.start()}:{_show(found.group())}->{_show(bad)}"


def m_zone(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    found = _pick(rng, list(_ZONE.finditer(data)))
    if found is None:
        return None
    new = rng.choice(_ZONE_JUNK)
    return data[:found.start()] + new + data[found.end():], f"zone@{found.start()}:{_show(found.group())}->{_show(new)}"


def m_line_endings(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    if b"\r\n" in data:
        return data.replace(b"\r\n", b"\n"), "crlf->lf"
    if b"\n" not in data:
        return None
    return data.replace(b"\n", b"\r\n"), "lf->crlf"


def m_bom(rng: random.Random, data: bytes) -> tuple[bytes, str] | None:
    return b"\xef\xbb\xbf" + data, "bom"


MUTATIONS: tuple[tuple[Mutation, int], ...] = (  # (mutation, weight)
    (m_flip_byte, 3), (m_insert, 3), (m_delete_line, 3), (m_duplicate_line, 2), (m_swap_lines, 2),
    (m_reindent, 2), (m_join_lines, 2), (m_cut, 2), (m_damage_word, 6), (m_huge_number, 2), (m_bad_date, 3),
    (m_zone, 2), (m_line_endings, 1), (m_bom, 1),
)


def mutate(rng: random.Random, data: bytes, count: int) -> tuple[bytes, list[str]]:
    functions = [f for f, _ in MUTATIONS]
    weights = [w for _, w in MUTATIONS]
    done: list[str] = []
    for _ in range(count):
        for _attempt in range(20):
            result = rng.choices(functions, weights)[0](rng, data)
            if result is not None:
                data, description = result
                done.append(description)
                break
    if len(data) > MAX_BYTES:
        data = data[:MAX_BYTES]
        done.append(f"cap@{MAX_BYTES}")
    return data, done


@dataclass(frozen=True)
class Case:
    seed: int
    base: Base
    data: bytes
    mutations: tuple[str, ...]


def make_case(seed: int, bases: Sequence[Base], base_name: str | None = None) -> Case:
    """The seed picks the base and, from a generator of its own, the mutations: a case named
    by seed and base is rebuilt the same even after fixtures were added (base_name pins it)."""
    pick = random.Random(seed)
    if base_name is not None:
        [base] = [b for b in bases if b.name == base_name] or [None]
        if base is None:
            raise ValueError(f"no base input named {base_name!r}")
    else:
        planted = [b for b in bases if b.planted]
        others = [b for b in bases if not b.planted]
        base = pick.choice(planted if planted and (not others or pick.random() < PLANTED_SHARE) else others)
    rng = random.Random(f"mutations:{seed}")
    data, done = mutate(rng, base.data, rng.randint(1, 3))
    return Case(seed, base, data, tuple(done))


def case_seeds(seed: int, count: int) -> list[int]:
    master = random.Random(seed)
    return [master.randrange(10**12) for _ in range(count)]


# ---------------------------------------------------------------------------------------------
# Running one CLI call and judging its outcome


@dataclass
class CallResult:
    argv: list[str]
    exit_code: object = None  # main()'s return value (or SystemExit's code)
    stdout: str = ""
    stderr: str = ""
    logs: str = ""
    exception: str | None = None  # traceback of an exception that escaped main()
    seconds: float = 0.0


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception as exc:  # a record that cannot be formatted is itself worth seeing
            self.lines.append(f"UNFORMATTABLE {record.name}: {record.msg!r} {exc!r}")


def run_cli(argv: list[str], main: Callable[[list[str]], int] | None = None) -> CallResult:
    """main(argv) in-process: stdout, stderr and every log record (root logger, all levels)
    captured; the garbage collector re-enabled afterwards (the CLI turns it off)."""
    if main is None:
        from lic_exporter.cli.main import main
    result = CallResult(argv)
    out, err, records = io.StringIO(), io.StringIO(), _Records()
    root, own = logging.getLogger(), logging.getLogger("lic_exporter")
    saved_handlers, saved_level, saved_own_level = root.handlers[:], root.level, own.level
    root.handlers[:] = [records]
    root.setLevel(logging.DEBUG)
    own.setLevel(logging.NOTSET)  # an earlier in-process `serve`/`collect` set its own level
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result.exit_code = main(argv)
    except SystemExit as exc:
        result.exit_code = exc.code
        result.exception = traceback.format_exc()
    except Exception:
        result.exception = traceback.format_exc()
    finally:
        result.seconds = time.perf_counter() - start
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        own.setLevel(saved_own_level)
        gc.enable()
    result.stdout, result.stderr, result.logs = out.getvalue(), err.getvalue(), "\n".join(records.lines)
    return result


def find_leaks(text: str) -> list[tuple[str, int]]:
    """(secret name, position) of every planted secret (or identifying part) in text; case-blind."""
    lowered = text.lower()
    found = []
    for name, needle in SECRET_NEEDLES:
        at = lowered.find(needle.lower())
        if at >= 0:
            found.append((name, at))
    return found


@dataclass(frozen=True)
class Problem:
    kind: str  # exception, internal-error, traceback, leak, slow, bad-exit
    signature: str  # groups problems with one cause
    excerpt: str  # short, for listings
    detail: str = ""  # traceback or leaked text in full (capped)
    secrets: tuple[str, ...] = ()  # leaks: the names of what leaked


_FRAME = re.compile(r'File "[^"]*?(lic_exporter/[\w/]+\.py)", line (\d+), in (\S+)')
_EXC_LINE = re.compile(r"^(\w+(?:\.\w+)*(?:Error|Exception|Exit|Interrupt|Warning)\b.*)$", re.MULTILINE)


def _where(trace: str) -> str:
    """The innermost lic_exporter frame and the exception type of a traceback."""
    frames = _FRAME.findall(trace)
    where = f"{frames[-1][0]}:{frames[-1][2]}" if frames else "?"
    errors = _EXC_LINE.findall(trace)
    error = errors[-1].split(":", 1)[0] if errors else "?"
    return f"{error} in {where}"


def _around(text: str, at: int, width: int = 160) -> str:
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    end = len(text) if end < 0 else end
    line = text[start:end]
    if len(line) > width:
        offset = max(at - start - width // 2, 0)
        line = ("..." if offset else "") + line[offset:offset + width] + "..."
    return line


def _leak_field(stream: str, text: str, at: int) -> str:
    """Where a leak sits: the JSON key, the issue message's start, the metric or table column."""
    line = _around(text, at, 100_000)
    column = at - (text.rfind("\n", 0, at) + 1)
    keys = re.findall(r'"(\w+)"\s*:', line[:column])
    if keys:
        return f'"{keys[-1]}"'
    if stream == "stderr":
        message = re.sub(r"^.*?:(\d+:)? ", "", line, count=1)
        return " ".join(re.sub(r"[^A-Za-z ]", " ", message).split()[:3]) or "?"
    if stream == "logs":
        return line.split(":", 1)[0]
    metric = re.match(r"(?:# (?:HELP|TYPE) )?([A-Za-z_:][\w:]*)[{ ]", line)
    return metric[1] if metric and "_" in metric[1] else "text"


def check(call: CallResult, seconds: float = CALL_SECONDS) -> list[Problem]:
    """Every problem with one call's outcome."""
    command = " ".join(call.argv[:3])
    problems: list[Problem] = []
    if call.exception is not None:
        problems.append(Problem("exception", f"{command}: {_where(call.exception)}",
                                call.exception.strip().splitlines()[-1][:300], call.exception[-6000:]))
    streams = (("stdout", call.stdout), ("stderr", call.stderr), ("logs", call.logs))
    internal = [(name, text) for name, text in streams if "internal error" in text.lower()]
    if internal:
        name, text = internal[0]
        trace = call.logs if "Traceback" in call.logs else ""
        line = _around(text, text.lower().find("internal error"), 300)
        cause = _where(trace) if trace else re.sub(r"\d+", "N", line.split("internal error", 1)[-1])[:120]
        problems.append(Problem("internal-error", cause, line, (line + "\n" + trace)[-6000:]))
    for name, text in streams:
        at = text.find("Traceback")
        if at >= 0 and not (internal and name == "logs"):  # the log's traceback explains the internal error
            problems.append(Problem("traceback", f"{name}: {_where(text[at:])}", _around(text, at),
                                    text[at:at + 6000]))
    for name, text in streams:
        leaks = find_leaks(text)
        if leaks:
            secret, at = leaks[0]
            names = tuple(s for s, _ in leaks)
            problems.append(Problem("leak", f"{secret} in {name} at {_leak_field(name, text, at)}",
                                    f"{name} ({', '.join(names)}): {_around(text, at)}",
                                    "\n".join(f"{s} in {name}: {_around(text, a, 400)}" for s, a in leaks), names))
    if call.seconds > seconds:
        problems.append(Problem("slow", command, f"{call.seconds:.1f} s for {command}"))
    if call.exception is None and call.exit_code not in (0, 1):
        problems.append(Problem("bad-exit", f"{command}: exit {call.exit_code!r}",
                                f"exit code {call.exit_code!r}; stderr: {call.stderr[-300:]}"))
    return problems


@dataclass
class Failure:
    kind: str
    signature: str
    seed: int
    base: str
    mutations: tuple[str, ...]
    commands: list[str]
    excerpt: str
    detail: str
    secret_intact: bool | None = None  # leaks: whether the mutated input still held the leaked secrets whole

    def reproduce(self) -> str:
        return f"python -m bench.fuzz --replay {self.seed} --base {self.base}  # mutations={list(self.mutations)}"

    def describe(self) -> str:
        lines = [f"[{self.kind}] {self.signature}", f"  seed {self.seed}  base {self.base}",
                 f"  mutations {list(self.mutations)}", f"  commands {', '.join(self.commands)}",
                 f"  {self.excerpt}"]
        if self.secret_intact is not None:
            lines.append(f"  leaked secret intact in the input: {self.secret_intact}")
        return "\n".join(lines)


@dataclass
class Summary:
    cases: int = 0
    runs: int = 0
    exit_codes: Counter[object] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    bases: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def merge(self, other: Summary) -> None:
        self.cases += other.cases
        self.runs += other.runs
        self.exit_codes.update(other.exit_codes)
        self.failures.extend(other.failures)
        self.bases.update(other.bases)
        self.seconds = max(self.seconds, other.seconds)

    def by_kind(self) -> Counter[str]:
        return Counter(f.kind for f in self.failures)

    def groups(self) -> dict[tuple[str, str], list[Failure]]:
        grouped: dict[tuple[str, str], list[Failure]] = {}
        for failure in self.failures:
            grouped.setdefault((failure.kind, failure.signature), []).append(failure)
        return dict(sorted(grouped.items(), key=lambda item: (item[0][0], -len(item[1]), item[0][1])))

    def report(self, per_group: int = 3) -> str:
        codes = ", ".join(f"{code!r}: {n}" for code, n in sorted(self.exit_codes.items(), key=str))
        lines = [f"cases {self.cases}, runs {self.runs}, exit codes {{{codes}}}, {len(self.failures)} failure(s)"]
        if self.failures:
            kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.by_kind().items()))
            lines.append(f"failures by kind: {kinds}")
        for (kind, signature), failures in self.groups().items():
            lines.append(f"\n== {kind} x{len(failures)}: {signature}")
            for failure in failures[:per_group] if per_group else failures:
                lines.append(failure.describe())
                lines.append(f"  reproduce: {failure.reproduce()}")
        return "\n".join(lines)


def _secrets_intact(data: bytes, names: Iterable[str]) -> bool:
    text = data.decode("utf-8", errors="replace").lower()
    needles = dict(SECRET_NEEDLES)
    return all(needles[name].lower() in text for name in names)


def run_case(case: Case, folder: Path, main: Callable[[list[str]], int] | None = None,
             seconds: float = CALL_SECONDS) -> tuple[list[CallResult], list[Failure]]:
    """Write the case's bytes under folder (with its base's name) and run every command on it."""
    path = folder / case.base.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(case.data)
    calls = []
    found: dict[tuple[str, str], Failure] = {}
    for command, form in COMMANDS:
        call = run_cli([command, "--format", form, "--jobs", "1", "--now", NOW, str(path)], main)
        calls.append(call)
        for problem in check(call, seconds):
            signature = problem.signature.replace(f"{command} --format {form}", "*")
            key = (problem.kind, signature)
            if key in found:
                found[key].commands.append(f"{command} --format {form}")
                continue
            failure = Failure(problem.kind, signature, case.seed, case.base.name, case.mutations,
                              [f"{command} --format {form}"], problem.excerpt, problem.detail)
            if problem.kind == "leak":
                failure.secret_intact = _secrets_intact(case.data, problem.secrets)
            found[key] = failure
    return calls, list(found.values())


def run_seeds(seeds: Iterable[int], bases: Sequence[Base] | None = None,
              main: Callable[[list[str]], int] | None = None, seconds: float = CALL_SECONDS) -> Summary:
    bases = bases if bases is not None else load_bases()
    summary = Summary()
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="lic-fuzz-"))
    try:
        for seed in seeds:
            case = make_case(seed, bases)
            folder = work / str(seed)
            calls, failures = run_case(case, folder, main, seconds)
            shutil.rmtree(folder, ignore_errors=True)
            summary.cases += 1
            summary.runs += len(calls)
            summary.bases[case.base.name] += 1
            summary.exit_codes.update(call.exit_code for call in calls)
            summary.failures.extend(failures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary.seconds = time.perf_counter() - start
    return summary


def run_cases(count: int, seed: int, bases: Sequence[Base] | None = None) -> Summary:
    return run_seeds(case_seeds(seed, count), bases)
