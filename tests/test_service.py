"""The shipped systemd unit: systemd itself accepts it, and its command line is one that the real
argument parser takes (the options in the environment file included).

`systemd-analyze` comes from Debian's `systemd` package; where it is missing this skips, except under
LIC_EXPORTER_REQUIRE_PROMETHEUS=1 (CI), which requires every real component."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lic_exporter.cli.main import build_parser
from tests.support.prometheus import binary

SYSTEMD = Path(__file__).resolve().parent.parent / "examples" / "systemd"
UNIT = SYSTEMD / "lic-exporter.service"
ENV_FILE = SYSTEMD / "lic-exporter.env"


def _directives(section: str) -> dict[str, list[str]]:
    """`Key=value` lines of one unit section (keys may repeat)."""
    found: dict[str, list[str]] = {}
    current = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        if current == section:
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def _environment() -> dict[str, str]:
    values = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _exec_start_argv() -> list[str]:
    """ExecStart as systemd runs it: `$VAR` replaced by the variable's words (split at white space)."""
    (command,) = _directives("Service")["ExecStart"]
    env = _environment()
    argv: list[str] = []
    for word in shlex.split(command):
        argv.extend(env[word[1:]].split() if word.startswith("$") else [word])
    return argv


def test_unit_runs_serve_as_a_dedicated_user_with_reload_and_sandbox():
    service = _directives("Service")
    assert service["User"] == ["lic_exporter"] and service["Group"] == ["lic_exporter"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # SIGHUP: rescan and re-read
    assert service["EnvironmentFile"] == ["/etc/lic_exporter/lic-exporter.env"]
    for hardening in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert service[hardening] == ["true"], hardening
    assert service["ProtectSystem"] == ["strict"]
    # Everything the daemon writes (collected transcripts, known_hosts) lies under the state folder.
    assert service["ReadWritePaths"] == ["/var/lib/lic_exporter"]
    args = build_parser().parse_args(_exec_start_argv()[1:])
    writes = [args.collect_dir] if args.collect_dir else []
    assert all(str(path).startswith("/var/lib/lic_exporter/") for path in writes)


def test_exec_start_parses_with_the_real_argument_parser():
    argv = _exec_start_argv()
    assert argv[0] == "/opt/lic_exporter/bin/lic-exporter" and argv[1] == "serve"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve"
    assert [str(path) for path in args.watch] == ["/var/lib/lic_exporter/outputs"]
    assert args.syslog == ["/var/log/network/*.log"]
    assert str(args.config_file) == "/etc/lic_exporter/collect.yml"


def test_a_broken_option_in_the_environment_file_would_be_caught(capsys):
    """The check above could fail: a misspelt option is refused by the same parser."""
    argv = [word.replace("--collect.dir", "--collect.folder") for word in _exec_start_argv()]
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv[1:])
    assert exit_info.value.code == 2
    assert "--collect.folder" in capsys.readouterr().err


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    analyze = binary("systemd-analyze", "apt-get install systemd")
    # verify checks that the program exists: point it at this environment's installed command, and
    # at the shipped environment file; everything else is verified as shipped.
    installed = Path(sys.executable).parent / "lic-exporter"
    assert installed.is_file(), "lic-exporter is not installed in this environment"
    unit = tmp_path / "lic-exporter.service"
    unit.write_text(UNIT.read_text()
                    .replace("/opt/lic_exporter/bin/lic-exporter", str(installed))
                    .replace("/etc/lic_exporter/lic-exporter.env", str(ENV_FILE)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "lic-exporter.service" not in result.stderr, result.stderr  # no warning about our unit


def test_systemd_analyze_verify_would_refuse_a_broken_unit(tmp_path):
    analyze = binary("systemd-analyze", "apt-get install systemd")
    unit = tmp_path / "lic-exporter.service"
    unit.write_text(UNIT.read_text().replace("/opt/lic_exporter/bin/lic-exporter", str(tmp_path / "missing")))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 or "missing" in result.stderr
