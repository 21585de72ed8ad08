"""The collection configuration: YAML read into validated targets (lic_exporter/collect/loading.py,
schema.py, targets.py) and the inventories it may name (lic_exporter/collect/inventory.py).
Real files throughout: the authored examples in tests/fixtures/collect and files written to
tmp_path."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from lic_exporter.collect.inventory import map_platform
from lic_exporter.collect.loading import load_config
from lic_exporter.collect.targets import CollectConfig, CollectSettings, ConfigError, Credential, Secret, Target
from lic_exporter.sources.config_values import duration_seconds
from lic_exporter.sources.names import device_name

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "collect"
PLANTED = "Planted-Pa55word-7Qx"  # must never show up in an error, a warning or a repr
ENV = "LIC_EXPORTER_TEST_PASSWORD"


def write(folder: Path, *parts: str, name: str = "collect.yaml") -> Path:
    """A file of the parts, each dedented on its own (BASE, then the rest of a configuration)."""
    path = folder / name
    path.write_text("".join(textwrap.dedent(part) for part in parts))
    return path


def secret_file(folder: Path, name: str = "licmon.pw", text: str = "s3cret\n", mode: int = 0o600) -> Path:
    path = folder / name
    path.write_text(text)
    path.chmod(mode)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def by_name(config: CollectConfig) -> dict[str, Target]:
    return {target.name: target for target in config.targets}


@pytest.fixture(autouse=True)
def password_variables(monkeypatch):
    """The variables the configurations here name: secrets are read when a configuration loads."""
    for name in (ENV, "X", "Y", "SW2_PASSWORD", "LICMON_PW"):
        monkeypatch.setenv(name, PLANTED)


BASE = """\
    defaults:
      username: licmon
      password_env: LIC_EXPORTER_TEST_PASSWORD
    """


# ---------------------------------------------------------------- the example and inheritance

def test_the_example_configuration_resolves():
    config = load_config(FIXTURES / "example.yaml")
    targets = by_name(config)
    assert list(targets) == ["nx-dc1-leaf01", "nx-dc1-leaf02", "192.0.2.30"]
    leaf01 = targets["nx-dc1-leaf01"]
    assert (leaf01.host, leaf01.port, leaf01.platform, leaf01.legacy_algorithms) == ("192.0.2.11", 22, "nxos", True)
    assert leaf01.connect_timeout == 30.0
    assert leaf01.known_hosts == FIXTURES / "state" / "known_hosts"
    assert leaf01.credential == Credential(username="licmon", password_env=ENV)
    assert targets["nx-dc1-leaf02"].host == "nx-dc1-leaf02.example.net"  # the name as written
    assert not targets["nx-dc1-leaf02"].legacy_algorithms
    address = targets["192.0.2.30"]
    assert (address.host, address.port, address.platform) == ("192.0.2.30", 2222, "iosxe")
    assert config.collect == CollectSettings(interval=6 * 3600, concurrency=16)
    assert config.warnings == ()


def test_defaults_then_groups_in_order_then_the_target(tmp_path):
    path = write(tmp_path, BASE, """\
      port: 1001
      connect_timeout: 11
      command_timeout: 12
      device_timeout: 13
    groups:
      first: {port: 2002, connect_timeout: 21, command_timeout: 22}
      second: {port: 3003, connect_timeout: 31}
    targets:
      sw1:
        groups: [first, second]
        port: 4004
      sw2:
        groups: [second, first]
      sw3: {}
    """)
    targets = by_name(load_config(path))
    sw1, sw2, sw3 = targets["sw1"], targets["sw2"], targets["sw3"]
    assert (sw1.port, sw1.connect_timeout, sw1.command_timeout, sw1.device_timeout) == (4004, 31, 22, 13)
    assert (sw2.port, sw2.connect_timeout, sw2.command_timeout) == (2002, 21, 22)  # the later group wins
    assert (sw3.port, sw3.connect_timeout) == (1001, 11)


def test_target_names_are_device_names_and_host_defaults_to_the_name_as_written(tmp_path):
    path = write(tmp_path, BASE, """\
    targets:
      NX-DC1-Leaf01.Example.NET: {}
      192.0.2.7: {}
      2001:db8::7: {}
      nx-dc1-leaf02: {host: 192.0.2.12}
    """)
    targets = by_name(load_config(path))
    assert {name: target.host for name, target in targets.items()} == {
        "nx-dc1-leaf01": "NX-DC1-Leaf01.Example.NET", "192.0.2.7": "192.0.2.7", "2001:db8::7": "2001:db8::7",
        "nx-dc1-leaf02": "192.0.2.12"}


@pytest.mark.parametrize("name", ["NX-DC1-Leaf01.example.net", "192.0.2.9", "sw1", "2001:db8::1", "SW-9.lab",
                                  "sw\x1b[31m1.example.net", "10.1.1.1.txt"])
def test_device_names_follow_the_parser_rules(name):
    from lic_exporter.sources.capture import device_name as parser_device_name  # the rule the parser applies

    assert device_name(name) == parser_device_name(name)


def test_two_targets_with_one_device_name_are_an_error(tmp_path):
    path = write(tmp_path, BASE, """\
    targets:
      SW1: {}
      sw1.example.net: {}
    """)
    assert problems(path) == ["targets.sw1.example.net: same device name 'sw1' as targets.SW1"]


def test_a_target_can_change_the_kind_of_credential_it_inherits(tmp_path):
    key = secret_file(tmp_path, "id_ed25519")
    secret_file(tmp_path, "licmon.pw")
    path = write(tmp_path, """\
    defaults:
      username: licmon
      password_file: licmon.pw
    groups:
      keyed: {key_file: id_ed25519, key_passphrase_file: licmon.pw}
    targets:
      sw1: {}
      sw2: {password_env: SW2_PASSWORD}
      sw3: {groups: [keyed]}
      sw4: {groups: [keyed], password: inline-one}
    """)
    targets = by_name(load_config(path))
    assert targets["sw1"].credential == Credential("licmon", password_file=tmp_path / "licmon.pw")
    assert targets["sw2"].credential == Credential("licmon", password_env="SW2_PASSWORD")
    assert targets["sw3"].credential == Credential("licmon", key_file=key, key_passphrase_file=tmp_path / "licmon.pw")
    assert targets["sw4"].credential == Credential("licmon", password="inline-one")  # the passphrase went with the key


def test_relative_paths_start_at_the_configuration_folder(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    secret_file(folder, "licmon.pw")
    write(folder, """\
    defaults: {username: licmon, password_file: licmon.pw, known_hosts: known_hosts}
    targets: {sw1: {}}
    """)
    monkeypatch.chdir(tmp_path)
    target = load_config(Path("etc/collect.yaml")).targets[0]
    assert target.credential.password_file == folder / "licmon.pw"
    assert target.known_hosts == folder / "known_hosts"


def test_collect_settings_default_as_the_spec_says(tmp_path):
    config = load_config(write(tmp_path, BASE, "targets: {sw1: {}}\n"))
    assert config.collect == CollectSettings()
    assert (config.collect.interval, config.collect.concurrency, config.collect.logins_per_second) == (21600, 16, 2.0)


def test_collect_settings_are_read(tmp_path):
    path = write(tmp_path, BASE, """\
    targets: {sw1: {}}
    collect:
      interval: 90s
      concurrency: 4
      logins_per_second: 0.5
      jitter: 0.1
      auth_backoff: 30m
      auth_backoff_max: 1d
      suspend_after: 3
      suspend_window: 5m
      suspend_for: 2h
    """)
    assert load_config(path).collect == CollectSettings(90, 4, 0.5, 0.1, 1800, 86400, 3, 300, 7200)


# ---------------------------------------------------------------- problems, all of them, with their key paths

def test_every_problem_is_listed_with_its_key_path(tmp_path):
    path = write(tmp_path, """\
    frobnicate: 1
    defaults:
      username: licmon
      password_env: LIC_EXPORTER_TEST_PASSWORD
    groups:
      old-nxos:
        legacy_algorithms: maybe
    targets:
      nx-dc1-leaf01:
        port: ssh
      sw2:
        password_env: null
        username: other
        platform: nxos
      sw3:
        groups: [old-nxos, dc2]
    collect:
      interval: 30s
    """)
    assert set(problems(path)) == {
        "frobnicate: unknown key",
        "groups.old-nxos.legacy_algorithms: expected true or false",
        "targets.nx-dc1-leaf01.port: not a port number",
        "targets.sw3.groups: no group named 'dc2'",
        "collect.interval: at least 1m",
    }


def test_none_given_is_reported_for_the_target(tmp_path):
    path = write(tmp_path, """\
    defaults: {username: licmon}
    targets:
      sw2: {}
    """)
    assert problems(path) == [
        "targets.sw2: exactly one of password_file, password_env, password, key_file is needed (none given)"]


@pytest.mark.parametrize(("where", "text", "expected"), [
    ("top", "frobnicate: 1\n", "frobnicate: unknown key"),
    ("defaults", "defaults: {username: licmon, password_env: X, colour: red}\n", "defaults.colour: unknown key"),
    ("defaults", "defaults: {username: licmon, password_env: X, pasword_file: x}\n",
     "defaults.pasword_file: unknown key (did you mean password_file?)"),
    ("defaults", "defaults: {username: licmon, password_env: X, host: 192.0.2.1}\n",
     "defaults.host: unknown key (host belongs to a target)"),
    ("group", "groups: {g: {groups: [h]}}\n", "groups.g.groups: unknown key (groups belongs to a target)"),
    ("target", "targets: {sw9: {hostname: 192.0.2.1}}\n", "targets.sw9.hostname: unknown key"),
    ("collect", "collect: {intervall: 6h}\n", "collect.intervall: unknown key (did you mean interval?)"),
    ("inventories", "inventories: {netbox: {url: x}}\n", "inventories.netbox: unknown key"),
    ("nornir", "inventories: {nornir: {hosts: h.yaml, hostz: x}}\n",
     "inventories.nornir.hostz: unknown key (did you mean hosts?)"),
    ("oxidized map", "inventories: {oxidized: {path: r.db, map: {name: 0, vendor: 1}}}\n",
     "inventories.oxidized.map.vendor: unknown key"),
    ("ansible", "inventories: {ansible: {path: i.json, limit: x}}\n", "inventories.ansible.limit: unknown key"),
])
def test_unknown_keys_are_errors_at_every_level(tmp_path, where, text, expected):
    parts = (text, "targets: {}\n") if where == "defaults" else (BASE, "targets: {sw1: {}}\n", text)
    path = write(tmp_path, *parts)
    assert expected in problems(path)


@pytest.mark.parametrize("port", ["0", "65536", "ssh", "true", "22.5", "-22", "[22]"])
def test_ports_are_checked(tmp_path, port):
    path = write(tmp_path, BASE, f"targets: {{sw1: {{port: {port}}}}}\n")
    assert problems(path) == ["targets.sw1.port: not a port number"]


@pytest.mark.parametrize(("port", "expected"), [("22", 22), ("'2222'", 2222), ("65535", 65535)])
def test_good_ports(tmp_path, port, expected):
    path = write(tmp_path, BASE, f"targets: {{sw1: {{port: {port}}}}}\n")
    assert load_config(path).targets[0].port == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", 90), ("15m", 900), ("6h", 21600), ("1d", 86400), ("1h30m", 5400), ("2.5m", 150), (120, 120),
    ("120", 120), (" 6H ", 21600), ("6x", None), ("", None), ("h", None), ("6 h", None), (True, None), (None, None)])
def test_durations(text, expected):
    assert duration_seconds(text) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("59s", "collect.interval: at least 1m"),
    ("30", "collect.interval: at least 1m"),
    ("0", "collect.interval: must be longer than 0s"),
    ("soon", "collect.interval: not a duration (e.g. 90s, 15m, 6h, 1d or a number of seconds)"),
    ("-5m", "collect.interval: not a duration (e.g. 90s, 15m, 6h, 1d or a number of seconds)"),
])
def test_the_interval_is_checked(tmp_path, value, message):
    path = write(tmp_path, BASE, f"targets: {{sw1: {{}}}}\ncollect: {{interval: {value!r}}}\n")
    assert problems(path) == [message]


def test_one_minute_is_the_shortest_interval(tmp_path):
    path = write(tmp_path, BASE, "targets: {sw1: {}}\ncollect: {interval: 1m}\n")
    assert load_config(path).collect.interval == 60


def test_collect_numbers_are_checked(tmp_path):
    path = write(tmp_path, BASE, """\
    targets: {sw1: {}}
    collect:
      concurrency: 0
      logins_per_second: -1
      jitter: 1
      suspend_after: 2.5
      auth_backoff: 2h
      auth_backoff_max: 1h
      suspend_window: never
    """)
    assert set(problems(path)) == {
        "collect.concurrency: expected a whole number from 1 to 1,000",
        "collect.logins_per_second: expected a number above 0, at most 1000",
        "collect.jitter: expected a fraction from 0 up to (not including) 1",
        "collect.suspend_after: expected a whole number from 1 to 1,000,000",
        "collect.suspend_window: not a duration (e.g. 90s, 15m, 6h, 1d or a number of seconds)",
    }
    path = write(tmp_path, BASE, "targets: {sw1: {}}\ncollect: {auth_backoff: 2h, auth_backoff_max: 1h}\n")
    assert problems(path) == ["collect.auth_backoff_max: at least auth_backoff (2h)"]


def test_timeouts_take_durations(tmp_path):
    path = write(tmp_path, BASE, "targets: {sw1: {connect_timeout: 1m, command_timeout: 90, device_timeout: 0}}\n")
    assert problems(path) == ["targets.sw1.device_timeout: must be longer than 0s"]


@pytest.mark.parametrize(("policy", "expected"), [("accept-new", "accept-new"), ("strict", "strict"),
                                                  ("Strict", "strict"), ("insecure", "insecure")])
def test_host_key_policies(tmp_path, policy, expected):
    path = write(tmp_path, BASE, f"targets: {{sw1: {{host_key_policy: {policy}}}}}\n")
    assert load_config(path).targets[0].host_key_policy == expected


def test_an_unknown_policy_or_platform_is_an_error_and_insecure_a_warning(tmp_path):
    path = write(tmp_path, BASE, "targets: {sw1: {host_key_policy: trusting, platform: junos}}\n")
    assert problems(path) == ["targets.sw1.platform: expected nxos or iosxe",
                              "targets.sw1.host_key_policy: expected accept-new, strict or insecure"]
    path = write(tmp_path, BASE, "targets: {sw1: {host_key_policy: insecure}}\n")
    assert load_config(path).warnings == ("targets.sw1.host_key_policy: insecure: host keys are not checked",)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), ("yes", True)])
def test_flags(tmp_path, value, expected):
    path = write(tmp_path, BASE, f"targets: {{sw1: {{legacy_algorithms: {value}}}}}\n")
    assert load_config(path).targets[0].legacy_algorithms is expected


@pytest.mark.parametrize("value", ["maybe", "'true'", "1", "[true]"])
def test_flags_must_be_true_or_false(tmp_path, value):
    path = write(tmp_path, BASE, f"groups: {{old-nxos: {{legacy_algorithms: {value}}}}}\ntargets: {{sw1: {{}}}}\n")
    assert problems(path) == ["groups.old-nxos.legacy_algorithms: expected true or false"]


def test_values_of_the_wrong_kind(tmp_path):
    path = write(tmp_path, BASE, """\
    targets:
      sw1: {username: 1234, host: ''}
      sw2: {groups: old-nxos}
      sw3: {groups: [1]}
      sw4: [a, b]
    """)
    assert set(problems(path)) == {
        "targets.sw1.username: expected text (put it in quotes)",
        "targets.sw1.host: must not be empty",
        "targets.sw2.groups: expected a list of group names, e.g. [old-nxos]",
        "targets.sw3.groups: expected text (put it in quotes)",
        "targets.sw4: expected a mapping (key: value)",
    }


def test_sections_of_the_wrong_kind(tmp_path):
    path = write(tmp_path, "defaults: [a]\ngroups: 3\ntargets: [sw1]\ncollect: fast\ninventories: all\n")
    assert set(problems(path)) == {
        "defaults: expected a mapping (key: value)",
        "groups: expected a mapping of group names to their keys",
        "targets: expected a mapping of target names to their keys",
        "collect: expected a mapping (key: value)",
        "inventories: expected a mapping (key: value)",
    }


# ---------------------------------------------------------------- credentials after inheritance

def test_exactly_one_credential_source(tmp_path):
    secret_file(tmp_path)
    path = write(tmp_path, """\
    defaults: {username: licmon}
    targets:
      sw1: {}
      sw2: {password_file: licmon.pw, password_env: X}
      sw3: {password: one, key_file: licmon.pw, password_env: X}
      sw4: {password_env: X}
    """)
    assert problems(path) == [
        "targets.sw1: exactly one of password_file, password_env, password, key_file is needed (none given)",
        "targets.sw2: exactly one of password_file, password_env, password, key_file is needed "
        "(2 given: password_file, password_env)",
        "targets.sw3: exactly one of password_file, password_env, password, key_file is needed "
        "(3 given: password_env, password, key_file)",
    ]


def test_two_sources_in_the_defaults_are_reported_once_where_they_are(tmp_path):
    path = write(tmp_path, """\
    defaults: {username: licmon, password_env: X, password: y}
    targets: {sw1: {}, sw2: {}}
    """)
    assert problems(path) == [
        "defaults: exactly one of password_file, password_env, password, key_file is needed "
        "(2 given: password_env, password)"]


def test_a_username_is_needed(tmp_path):
    path = write(tmp_path, "defaults: {password_env: X}\ntargets: {sw1: {}}\n")
    assert problems(path) == ["targets.sw1.username: missing (set it here, in a group or in defaults)"]


def test_a_passphrase_needs_a_key(tmp_path):
    secret_file(tmp_path, "phrase")
    path = write(tmp_path, """\
    defaults: {username: licmon, password_env: X}
    groups:
      phrased: {key_passphrase_file: phrase}
    targets:
      sw1: {password_env: Y, key_passphrase_file: phrase}
      sw2: {groups: [phrased]}
    """)
    assert problems(path) == [
        "targets.sw1.key_passphrase_file: needs key_file (a passphrase unlocks a key)",
        "targets.sw2.key_passphrase_file: needs key_file (a passphrase unlocks a key)",
    ]


def test_secret_files_must_exist(tmp_path):
    (tmp_path / "folder.pw").mkdir()
    path = write(tmp_path, """\
    defaults: {username: licmon}
    targets:
      sw1: {password_file: missing.pw}
      sw2: {key_file: folder.pw}
    """)
    assert problems(path) == [f"targets.sw1.password_file: {tmp_path / 'missing.pw'}: no such file",
                              f"targets.sw2.key_file: {tmp_path / 'folder.pw'}: not a regular file"]


def test_group_references(tmp_path):
    path = write(tmp_path, BASE, """\
    groups: {dc1: {}}
    targets:
      sw1: {groups: [dc1]}
      sw3: {groups: [dc1, dc2, dc3]}
      sw4: {groups: [dc2], port: nope}
    """)
    assert set(problems(path)) == {"targets.sw3.groups: no group named 'dc2'",
                                   "targets.sw3.groups: no group named 'dc3'",
                                   "targets.sw4.groups: no group named 'dc2'",
                                   "targets.sw4.port: not a port number"}


def test_a_broken_group_is_reported_once_not_for_every_member(tmp_path):
    path = write(tmp_path, BASE, """\
    groups: {bad: {port: 0}}
    targets: {sw1: {groups: [bad]}, sw2: {groups: [bad]}}
    """)
    assert problems(path) == ["groups.bad.port: not a port number"]


# ---------------------------------------------------------------- the file itself

def test_problems_of_the_file_as_a_whole(tmp_path):
    assert problems(tmp_path / "missing.yaml") == ["no such file"]
    assert problems(write(tmp_path, "")) == ["targets: no targets (give targets, inventories or both)"]
    assert problems(write(tmp_path, "- sw1\n")) == [
        "(top level): expected a mapping of sections (defaults, groups, targets, collect, inventories)"]
    assert problems(write(tmp_path, "targets:\n  sw1: {port: 22\n")) == [
        "3:1: not valid YAML: expected ',' or '}', but got '<stream end>'"]


def test_a_key_given_twice_is_an_error(tmp_path):
    path = write(tmp_path, BASE, "targets:\n  sw1: {}\n  sw1: {port: 23}\n")
    assert problems(path) == ["6:3: key 'sw1' given twice"]
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.located(path) == [f"{path}:6:3: key 'sw1' given twice"]


# ---------------------------------------------------------------- secrets: permissions and never shown

def test_secret_files_open_to_others_are_warned_about(tmp_path):
    secret_file(tmp_path, "licmon.pw", mode=0o644)
    secret_file(tmp_path, "group.pw", mode=0o640)
    secret_file(tmp_path, "own.pw", mode=0o600)
    path = write(tmp_path, """\
    defaults: {username: licmon, password_file: licmon.pw}
    targets:
      sw1: {}
      sw2: {password_file: group.pw}
      sw3: {password_file: own.pw}
      sw4: {}
    """)
    assert load_config(path).warnings == (
        f"{tmp_path / 'licmon.pw'}: readable by group and others (chmod 600)",
        f"{tmp_path / 'group.pw'}: readable by group (chmod 600)",
    )
    (tmp_path / "licmon.pw").chmod(0o600)
    (tmp_path / "group.pw").chmod(0o600)
    assert load_config(path).warnings == ()


def test_a_configuration_holding_a_password_is_a_secret_file(tmp_path):
    path = write(tmp_path, f"defaults: {{username: licmon, password: {PLANTED}}}\ntargets: {{sw1: {{}}}}\n")
    path.chmod(0o644)
    assert load_config(path).warnings == (f"{path}: readable by group and others (chmod 600)",)
    path.chmod(0o600)
    assert load_config(path).warnings == ()


def test_a_planted_password_never_shows(tmp_path):
    path = write(tmp_path, f"""\
    defaults: {{username: licmon, password: {PLANTED}}}
    groups:
      both: {{password: {PLANTED}, password_env: X}}
      listed: {{password: [{PLANTED}]}}
      numbered: {{password: 12345}}
    targets:
      sw1: {{password: {PLANTED}, frobnicate: {PLANTED}}}
      sw2: {{groups: [both, listed, numbered]}}
      sw3: {{port: {PLANTED}, legacy_algorithms: {PLANTED}, connect_timeout: {PLANTED}, platform: {PLANTED}}}
      sw4: {{password: {PLANTED}, key_passphrase_file: phrase}}
    collect: {{interval: {PLANTED}}}
    """)
    path.chmod(0o644)
    secret_file(tmp_path, "phrase")
    found = problems(path)
    assert len(found) == 10
    assert PLANTED not in "\n".join(found)
    assert "12345" not in "\n".join(found)


def test_a_planted_password_never_shows_in_a_yaml_error(tmp_path):
    path = write(tmp_path, 'targets:\n  sw1: {password: "' + PLANTED + '\\q"}\n')
    assert problems(path) == ["2:41: not valid YAML: found unknown escape character …"]
    path = write(tmp_path, "targets:\n  sw1: {password: " + PLANTED + ": x}\n")
    assert PLANTED not in str(problems(path))


def test_a_planted_password_never_shows_in_warnings_or_reprs(tmp_path):
    nornir = tmp_path / "hosts.yaml"
    nornir.write_text(f"sw8: {{hostname: 192.0.2.8, platform: nxos, password: {PLANTED}}}\n")
    nornir.chmod(0o644)
    path = write(tmp_path, f"""\
    defaults: {{username: licmon, password: {PLANTED}, host_key_policy: insecure}}
    targets: {{sw1: {{}}}}
    inventories: {{nornir: {{hosts: hosts.yaml}}}}
    """)
    path.chmod(0o644)
    config = load_config(path)
    assert [target.credential.password for target in config.targets] == [PLANTED, PLANTED]
    assert len(config.warnings) == 3
    for text in (*config.warnings, repr(config), str(config), repr(config.targets[0]), repr(config.targets[1]),
                 repr(config.targets[0].credential), repr(config.targets[0].credential.secret()),
                 config.targets[0].credential.identity):
        assert PLANTED not in text


# ---------------------------------------------------------------- secrets read when the configuration loads

def test_secrets_are_read_when_the_configuration_loads_and_kept_until_the_next_load(tmp_path, monkeypatch):
    secret_file(tmp_path, "licmon.pw", text="first\n")
    secret_file(tmp_path, "phrase", text="unlock\n")
    secret_file(tmp_path, "id_ed25519", text="-----BEGIN OPENSSH PRIVATE KEY-----\n")
    monkeypatch.setenv("SW2_PASSWORD", "from the environment")
    path = write(tmp_path, """\
    defaults: {username: licmon, password_file: licmon.pw}
    targets:
      sw1: {}
      sw2: {password_env: SW2_PASSWORD}
      sw3: {key_file: id_ed25519, key_passphrase_file: phrase}
      sw4: {password: inline}
    """)
    targets = by_name(load_config(path))
    assert [targets[name].credential.secret() for name in ("sw1", "sw2", "sw3", "sw4")] == [
        Secret(password="first"), Secret(password="from the environment"),
        Secret(key_file=tmp_path / "id_ed25519", passphrase="unlock"), Secret(password="inline")]
    (tmp_path / "licmon.pw").write_text("second\n")
    monkeypatch.delenv("SW2_PASSWORD")
    assert targets["sw1"].credential.secret() == Secret(password="first")  # in memory: no file read at connect time
    assert targets["sw2"].credential.secret() == Secret(password="from the environment")
    with pytest.raises(ConfigError, match="SW2_PASSWORD is not set"):
        load_config(path)
    monkeypatch.setenv("SW2_PASSWORD", "x")
    assert by_name(load_config(path))["sw1"].credential.secret() == Secret(password="second")  # the next load


def test_a_secret_problem_is_reported_where_its_key_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv("X")
    path = write(tmp_path, """\
    defaults: {username: licmon, password_env: X}
    groups: {dc1: {password_file: missing.pw}}
    targets:
      sw1: {}
      sw2: {}
      sw3: {groups: [dc1]}
      sw4: {groups: [dc1]}
    """)
    assert problems(path) == [
        "defaults.password_env: environment variable X is not set (set it where the exporter starts, e.g. in the "
        "service's environment file)",
        f"groups.dc1.password_file: {tmp_path / 'missing.pw'}: no such file"]


def test_a_password_file_must_be_one_short_line_in_a_regular_file_links_followed(tmp_path):
    import os

    secret_file(tmp_path, "real.pw", text=PLANTED)
    (tmp_path / "link.pw").symlink_to(tmp_path / "real.pw")  # as Kubernetes mounts a secret: followed
    shadow = tmp_path / "shadow"  # what /etc/shadow looks like: many lines, each a secret
    shadow.write_text("".join(f"user{n}:$6$salt{n}$hash:19000:0:99999:7:::\n" for n in range(26)))
    (tmp_path / "planted.pw").symlink_to(shadow)
    secret_file(tmp_path, "two.pw", text=PLANTED + "\nsecond\n")
    (tmp_path / "loop.pw").symlink_to(tmp_path / "loop.pw")
    os.mkfifo(tmp_path / "fifo.pw")  # opening it must not wait for a writer
    (tmp_path / "fifo-link.pw").symlink_to(tmp_path / "fifo.pw")
    secret_file(tmp_path, "big.pw", text="x" * 5000)
    path = write(tmp_path, """\
    defaults: {username: licmon}
    targets:
      sw0: {password_file: link.pw}
      sw1: {password_file: planted.pw}
      sw2: {password_file: fifo.pw}
      sw3: {password_file: big.pw}
      sw4: {key_file: link.pw}
      sw5: {password_file: two.pw}
      sw6: {password_file: loop.pw}
      sw7: {password_file: fifo-link.pw}
    """)
    assert problems(path) == [
        f"targets.sw1.password_file: {tmp_path / 'planted.pw'} (a link to {shadow}): larger than 512 bytes, not a "
        "password file",
        f"targets.sw2.password_file: {tmp_path / 'fifo.pw'}: not a regular file",
        f"targets.sw3.password_file: {tmp_path / 'big.pw'}: larger than 512 bytes, not a password file",
        f"targets.sw5.password_file: {tmp_path / 'two.pw'}: more than one line; a password file holds the password "
        "alone",
        f"targets.sw6.password_file: {tmp_path / 'loop.pw'}: a loop of symbolic links",
        f"targets.sw7.password_file: {tmp_path / 'fifo-link.pw'} (a link to {tmp_path / 'fifo.pw'}): not a regular "
        "file"]


# ---------------------------------------------------------------- Credential.secret() and identity

def test_secret_from_a_file_is_read_when_asked_without_its_line_end(tmp_path):
    file = secret_file(tmp_path, text="first\n")
    credential = Credential("licmon", password_file=file)
    assert credential.secret() == Secret(password="first")
    file.write_text("second one\r\n")
    assert credential.secret().password == "second one"
    file.write_text("  spaces kept \n")
    assert credential.secret().password == "  spaces kept "
    file.write_text("first\n\n")  # a second line, even an empty one, is no part of one password
    with pytest.raises(ConfigError, match=r"password_file: .*licmon.pw: more than one line"):
        credential.secret()


def test_secret_file_problems(tmp_path):
    file = secret_file(tmp_path, text="\n")
    with pytest.raises(ConfigError, match=r"password_file: .*licmon.pw: empty"):
        Credential("licmon", password_file=file).secret()
    file.unlink()
    with pytest.raises(ConfigError, match=r"password_file: .*licmon.pw: no such file"):
        Credential("licmon", password_file=file).secret()
    file.write_bytes(b"\xff\xfe" + PLANTED.encode("utf-16-le")[:-1])
    with pytest.raises(ConfigError) as caught:
        Credential("licmon", password_file=file).secret()
    assert caught.value.problems == [f"password_file: {file}: not UTF-8 text"]


def test_secret_from_the_environment(monkeypatch):
    credential = Credential("licmon", password_env=ENV)
    monkeypatch.setenv(ENV, PLANTED)
    assert credential.secret() == Secret(password=PLANTED)
    monkeypatch.delenv(ENV)
    with pytest.raises(ConfigError) as caught:
        credential.secret()
    assert caught.value.problems == [f"password_env: environment variable {ENV} is not set (set it where the "
                                     "exporter starts, e.g. in the service's environment file)"]
    monkeypatch.setenv(ENV, "")
    with pytest.raises(ConfigError, match="is empty"):
        credential.secret()


def test_secret_inline_and_key(tmp_path):
    assert Credential("licmon", password=PLANTED).secret() == Secret(password=PLANTED)
    key = secret_file(tmp_path, "id_ed25519", text="-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert Credential("licmon", key_file=key).secret() == Secret(key_file=key)
    phrase = secret_file(tmp_path, "phrase", text=f"{PLANTED}\n")
    secret = Credential("licmon", key_file=key, key_passphrase_file=phrase).secret()
    assert secret == Secret(key_file=key, passphrase=PLANTED)
    assert PLANTED not in repr(secret)
    key.unlink()
    with pytest.raises(ConfigError, match=r"key_file: .*id_ed25519: no such file"):
        Credential("licmon", key_file=key).secret()


def test_a_credential_has_exactly_one_source():
    with pytest.raises(ValueError, match="none given"):
        Credential("licmon")
    with pytest.raises(ValueError, match="2 given: password_env, password") as caught:
        Credential("licmon", password_env=ENV, password=PLANTED)
    assert PLANTED not in str(caught.value)
    with pytest.raises(ValueError, match="needs key_file"):
        Credential("licmon", password=PLANTED, key_passphrase_file=Path("/x"))


def test_credential_identity_is_stable_and_tells_credentials_apart():
    one = Credential("licmon", password_file=Path("/etc/lic_exporter/licmon.pw"))
    assert one.identity == Credential("licmon", password_file=Path("/etc/lic_exporter/licmon.pw")).identity
    others = [Credential("other", password_file=Path("/etc/lic_exporter/licmon.pw")),
              Credential("licmon", password_env="LICMON_PW"), Credential("licmon", password="a"),
              Credential("licmon", password="b"), Credential("licmon", key_file=Path("/etc/lic_exporter/licmon.pw"))]
    identities = {one.identity, *(credential.identity for credential in others)}
    assert len(identities) == 6
    assert all(len(identity) == 12 for identity in identities)
    assert Credential("licmon", password="a").identity == Credential("licmon", password="a").identity


# ---------------------------------------------------------------- inventories

@pytest.fixture
def inventories() -> CollectConfig:
    return load_config(FIXTURES / "inventories.yaml")


@pytest.mark.parametrize(("name", "platform"), [
    ("nxos", "nxos"), ("cisco_nxos", "nxos"), ("cisco.nxos.nxos", "nxos"), ("nexus", "nxos"), ("NX-OS", "nxos"),
    ("ios", "iosxe"), ("iosxe", "iosxe"), ("cisco_xe", "iosxe"), ("cisco_ios", "iosxe"), ("cisco.ios.ios", "iosxe"),
    ("junos", None), ("asa", None), ("cisco_iosxr", None), ("", None)])
def test_platform_names(name, platform):
    assert map_platform(name) == platform


def test_inventory_targets_come_after_the_configuration_targets(inventories):
    assert [target.name for target in inventories.targets] == [
        "nx-dc1-leaf02",                                                       # targets
        "nx-dc1-leaf01", "nx-dc1-leaf03", "cat-dc1-acc01",                     # nornir
        "nx-dc2-spine01", "nx-dc2-spine02", "cat-dc2-acc01",                   # oxidized
        "nx-dc3-leaf01", "cat-dc3-acc01"]                                      # ansible


def test_nornir_hosts(inventories):
    targets = by_name(inventories)
    leaf01, leaf03, access = targets["nx-dc1-leaf01"], targets["nx-dc1-leaf03"], targets["cat-dc1-acc01"]
    assert (leaf01.host, leaf01.port, leaf01.platform) == ("192.0.2.11", 22, "nxos")   # platform from group nexus
    assert (leaf03.host, leaf03.port) == ("192.0.2.13", 2222)
    assert (access.host, access.platform) == ("192.0.2.21", "iosxe")                  # cisco_xe
    assert leaf01.credential == Credential("licmon", password_env=ENV)                  # from the defaults
    # groups [dc1, nexus]: as in Nornir, the first listed group wins
    assert leaf01.command_timeout == 90 and access.command_timeout == 90


def test_a_target_wins_over_an_inventory_host_of_the_same_name(inventories):
    assert by_name(inventories)["nx-dc1-leaf02"].host == "192.0.2.112"


def test_oxidized_hosts(inventories):
    targets = by_name(inventories)
    assert {name: (targets[name].host, targets[name].platform, targets[name].host_key_policy)
            for name in ("nx-dc2-spine01", "nx-dc2-spine02", "cat-dc2-acc01")} == {
        "nx-dc2-spine01": ("192.0.2.51", "nxos", "strict"), "nx-dc2-spine02": ("192.0.2.52", "nxos", "strict"),
        "cat-dc2-acc01": ("192.0.2.53", "iosxe", "strict")}


def test_ansible_hosts(inventories):
    targets = by_name(inventories)
    leaf, access = targets["nx-dc3-leaf01"], targets["cat-dc3-acc01"]
    assert (leaf.host, leaf.platform, leaf.credential.username) == ("192.0.2.61", "nxos", "ansible-ro")
    assert (access.host, access.port, access.platform) == ("192.0.2.62", 2222, "iosxe")
    assert leaf.connect_timeout == 30  # dc3_leaves, a child of dc3, wins over its parent
    assert access.connect_timeout == 15


def test_other_platforms_are_skipped_with_one_warning_each(inventories):
    assert inventories.warnings == (
        "inventory nornir/hosts.yaml: host junos-dc1-edge01 platform junos skipped",
        "inventory nornir/hosts.yaml: host linux-dc1-jump01 has no platform "
        "(none in the inventory or the configuration), skipped",
        "inventory oxidized/router.db: host asa-dc2-fw01 platform asa skipped",
        "inventory oxidized/router.db: line 7 has too few fields, skipped",
        "inventory ansible/inventory.json: host fw-dc3-01 platform fortinet.fortios.fortios skipped",
        "inventory ansible/inventory.json: host web01.example.net has no platform "
        "(none in the inventory or the configuration), skipped",
    )


def test_a_platform_from_the_configuration_takes_in_hosts_without_one(tmp_path):
    shutil.copytree(FIXTURES / "ansible", tmp_path / "ansible")
    path = write(tmp_path, BASE, "  platform: nxos\ninventories: {ansible: {path: ansible/inventory.json}}\n")
    config = load_config(path)
    assert by_name(config)["web01"].platform == "nxos"
    assert "fw-dc3-01" not in by_name(config)


def test_nornir_values_resolve_through_its_groups_and_defaults(tmp_path):
    write(tmp_path, f"""\
    sw1:
      groups: [edge]
    sw2:
      hostname: 192.0.2.2
      username: local
      password: {PLANTED}
      groups: [edge]
    """, name="hosts.yaml").chmod(0o600)
    write(tmp_path, "edge: {groups: [cisco], port: 2200}\ncisco: {platform: nxos, port: 2300}\n", name="groups.yaml")
    write(tmp_path, "username: netops\nport: 22\n", name="defaults.yaml")
    path = write(tmp_path, BASE, """\
    groups: {cisco: {legacy_algorithms: true}}
    inventories: {nornir: {hosts: hosts.yaml, groups: groups.yaml, defaults: defaults.yaml}}
    """)
    config = load_config(path)
    sw1, sw2 = by_name(config)["sw1"], by_name(config)["sw2"]
    assert (sw1.host, sw1.port, sw1.platform, sw1.legacy_algorithms) == ("sw1", 2200, "nxos", True)
    assert sw1.credential == Credential("netops", password_env=ENV)   # the inventory's user name wins
    assert sw2.credential == Credential("local", password=PLANTED)
    assert config.warnings == ()
    (tmp_path / "hosts.yaml").chmod(0o644)
    assert load_config(path).warnings == (f"{tmp_path / 'hosts.yaml'}: readable by group and others (chmod 600)",)


def test_oxidized_column_map_and_delimiter(tmp_path):
    (tmp_path / "router.db").write_text("192.0.2.5,sw5.example.net,cisco_nxos,ro-user\n# comment\n  \n")
    (tmp_path / "router.db").chmod(0o600)
    path = write(tmp_path, BASE, """\
    inventories:
      oxidized: {path: router.db, delimiter: ",", map: {ip: 0, name: 1, model: 2, username: 3}}
    """)
    target = load_config(path).targets[0]
    assert (target.name, target.host, target.platform, target.credential.username) == (
        "sw5", "192.0.2.5", "nxos", "ro-user")


def test_oxidized_map_problems(tmp_path):
    path = write(tmp_path, BASE, "inventories: {oxidized: {path: router.db, map: {name: 0, ip: 0, model: -1}}}\n")
    assert problems(path) == ["inventories.oxidized.map.model: expected a column number (0 is the first)"]
    path = write(tmp_path, BASE, "inventories: {oxidized: {path: router.db, map: {name: 0, ip: 0}}}\n")
    assert problems(path) == ["inventories.oxidized.map: column 0 given for name and ip",
                              f"inventories.oxidized.path: {tmp_path / 'router.db'}: no such file"]


def test_inventory_file_problems(tmp_path):
    (tmp_path / "inventory.json").write_text('{"_meta": {"hostvars": {"sw1": }}}')
    (tmp_path / "hosts.yaml").write_text("- sw1\n")
    path = write(tmp_path, BASE, """\
    inventories:
      ansible: {path: inventory.json}
      nornir: {hosts: hosts.yaml, groups: missing.yaml}
    """)
    assert set(problems(path)) == {
        f"inventories.ansible.path: {tmp_path / 'inventory.json'}: not valid JSON (line 1: Expecting value)",
        "inventories.nornir.hosts: expected a mapping of host names",
        f"inventories.nornir.groups: {tmp_path / 'missing.yaml'}: no such file",
    }


def test_inventory_values_are_validated(tmp_path):
    write(tmp_path, "sw1: {hostname: 192.0.2.1, port: telnet, platform: nxos}\n", name="hosts.yaml")
    path = write(tmp_path, BASE, "inventories: {nornir: {hosts: hosts.yaml}}\n")
    assert problems(path) == ["inventories.nornir.sw1.port: not a port number"]


def test_a_host_in_two_inventories_is_taken_once(tmp_path):
    write(tmp_path, "sw1.example.net: {hostname: 192.0.2.1, platform: nxos}\n", name="hosts.yaml")
    (tmp_path / "router.db").write_text("SW1:ios:192.0.2.2\n")
    path = write(tmp_path, BASE, """\
    inventories:
      nornir: {hosts: hosts.yaml}
      oxidized: {path: router.db, map: {name: 0, model: 1, ip: 2}}
    """)
    config = load_config(path)
    assert [(target.name, target.host) for target in config.targets] == [("sw1", "192.0.2.1")]
    assert config.warnings == (
        "inventory router.db: host SW1 has the same device name as another host (sw1), skipped",)


def test_inventories_alone_need_no_targets_section(tmp_path):
    shutil.copytree(FIXTURES / "oxidized", tmp_path / "oxidized")
    path = write(tmp_path, BASE, """\
    inventories:
      oxidized: {path: oxidized/router.db, map: {name: 0, model: 1, ip: 2}}
    """)
    assert len(load_config(path).targets) == 3  # the password itself is not needed to load
