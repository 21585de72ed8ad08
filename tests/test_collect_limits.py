"""Configuration input is bounded: every file a collection configuration names (the configuration,
the Nornir, Oxidized and Ansible inventories) is a regular file of bounded size, nested and
aliased within bounds, and every number in it is finite and in range. Each case ends at once
with one line naming the file and the key or place, never a traceback, a RecursionError or a
process that grows without end."""

from __future__ import annotations

import json
import os
import textwrap
import threading
from pathlib import Path

import pytest

from lic_exporter.cli.main import main
from lic_exporter.collect.loading import load_config
from lic_exporter.collect.targets import ConfigError
from lic_exporter.sources.documents import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_NODES,
    DocumentError,
    read_json,
    read_yaml,
    within,
)

ENV = "LIC_LIMITS_TEST_PASSWORD"
BASE = f"defaults: {{username: licmon, password_env: {ENV}}}\n"
TOO_MANY = f"more than {MAX_NODES:,} values once its aliases are expanded"
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv(ENV, "not-a-real-password")


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    for problem in caught.value.problems:
        assert "\n" not in problem and len(problem) < 400
    return caught.value.problems


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def alias_bomb(key: str = "platform", levels: int = 9) -> str:
    """Nine anchors, each a list of nine aliases of the one before: 9**9 values once expanded,
    in ten short lines (the last one uses it where a host's `key` belongs)."""
    lines = ["x-anchors:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
    lines.append(f"sw1: {{hostname: 192.0.2.1, {key}: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# ---------------------------------------------------------------- aliases and depth (YAML)

@pytest.mark.parametrize("key", ["platform", "groups"])
def test_a_nornir_alias_bomb_is_one_line_naming_the_file(tmp_path, key):
    hosts = write(tmp_path / "hosts.yaml", alias_bomb(key))
    config = write(tmp_path / "collect.yaml", BASE + "inventories: {nornir: {hosts: hosts.yaml}}\n")
    [problem] = problems(config)
    assert problem.startswith(f"inventories.nornir.hosts: {hosts}:")
    assert problem.endswith(TOO_MANY)


def test_an_alias_bomb_in_a_nornir_groups_file_too(tmp_path):
    write(tmp_path / "hosts.yaml", "sw1: {hostname: 192.0.2.1, platform: nxos, groups: [dc1]}\n")
    groups = write(tmp_path / "groups.yaml", alias_bomb("data").replace("sw1:", "dc1:"))
    config = write(tmp_path / "collect.yaml",
                   BASE + "inventories: {nornir: {hosts: hosts.yaml, groups: groups.yaml}}\n")
    [problem] = problems(config)
    assert problem.startswith(f"inventories.nornir.groups: {groups}:") and problem.endswith(TOO_MANY)


def test_an_alias_bomb_in_the_configuration_itself(tmp_path):
    config = write(tmp_path / "collect.yaml", BASE + alias_bomb().replace("sw1:", "targets:\n  sw1:"))
    [problem] = problems(config)
    line, column, message = problem.split(":", 2)
    assert line.isdigit() and column.isdigit() and message == " " + TOO_MANY


def test_aliases_that_stay_within_the_bounds_are_fine(tmp_path):
    targets = "".join(f"  sw{n}: {{<<: *common, host: 192.0.2.{n}}}\n" for n in range(1, 200))
    config = write(tmp_path / "collect.yaml", BASE + "x-common: &common {port: 2222, platform: iosxe}\n"
                   "targets:\n" + targets)
    # x-common is an unknown section (reported), the targets it feeds are read all the same
    assert problems(config) == ["x-common: unknown key"]
    config.write_text(config.read_text().replace("x-common: &common", "groups: {common: &common").replace(
        "iosxe}\n", "iosxe}}\n", 1))
    loaded = load_config(config)
    assert len(loaded.targets) == 199 and {(t.port, t.platform) for t in loaded.targets} == {(2222, "iosxe")}


def test_aliases_that_nest_past_the_depth_bound(tmp_path):
    chain = ["x-chain:", "  c0: &c0 [x]"] + [f"  c{n}: &c{n} [*c{n - 1}]" for n in range(1, MAX_DEPTH + 5)]
    path = write(tmp_path / "chain.yaml", "\n".join(chain) + "\n")
    with pytest.raises(DocumentError) as caught:
        read_yaml(path)
    assert str(caught.value) == f"{TOO_DEEP} (aliases expanded)"


def test_an_alias_inside_the_node_it_names(tmp_path):
    path = write(tmp_path / "loop.yaml", "a: &a [1, *a]\n")
    with pytest.raises(DocumentError) as caught:
        read_yaml(path)
    assert caught.value.located() == "1:11: an alias inside the node it names (a loop)"


@pytest.mark.parametrize("where", ["configuration", "nornir"])
def test_yaml_nested_5000_deep_is_one_line_not_a_recursion_error(tmp_path, where):
    deep = f"sw1: {{hostname: 192.0.2.1, data: {nested(5000)}}}\n"
    if where == "nornir":
        hosts = write(tmp_path / "hosts.yaml", deep)
        config = write(tmp_path / "collect.yaml", BASE + "inventories: {nornir: {hosts: hosts.yaml}}\n")
        [problem] = problems(config)
        assert problem.startswith(f"inventories.nornir.hosts: {hosts}:1:") and problem.endswith(TOO_DEEP)
    else:
        config = write(tmp_path / "collect.yaml", BASE + "targets:\n  " + deep)
        [problem] = problems(config)
        assert problem.startswith("3:") and problem.endswith(TOO_DEEP)


def test_the_same_answers_with_or_without_libyaml(tmp_path):
    """The fast reader (libyaml) and PyYAML's own give the same: the limits are checked on the
    events of either; a syntax error is told in PyYAML's words whichever found it."""
    from lic_exporter.sources import documents

    def outcome(loader: type, text: str) -> object:
        try:
            return documents._load(loader, text)
        except DocumentError as error:
            return error.located()

    cases = [alias_bomb(), f"a: {nested(200)}\n", "a: 1\na: 2\n", "a: &x [1, 2]\nb: *x\n", "a: &a [1, *a]\n"]
    for text in cases:
        assert outcome(documents._LOADERS[0], text) == outcome(documents._Loader, text), text
    path = write(tmp_path / "bad.yaml", "targets:\n  sw1: {port: 22\n")
    with pytest.raises(DocumentError) as caught:
        read_yaml(path)
    assert caught.value.located() == "3:1: not valid YAML: expected ',' or '}', but got '<stream end>'"


def test_a_raw_control_character_is_located_and_not_shown(tmp_path):
    path = tmp_path / "collect.yaml"
    path.write_bytes(b'targets:\n  "sw\x1b[2J": {}\n')
    assert problems(path) == ["2:6: not valid YAML: a control character (in double quotes, write it as an escape "
                              "such as \\t or \\x1b)"]


# ---------------------------------------------------------------- JSON (Ansible)

@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 100_000])
def test_ansible_json_nested_too_deep_is_one_line(tmp_path, depth):
    inventory = tmp_path / "inventory.json"
    inventory.write_text('{"_meta": {"hostvars": {"sw1": {"ansible_host": ' + nested(depth) + "}}}}")
    config = write(tmp_path / "collect.yaml", BASE + "inventories: {ansible: {path: inventory.json}}\n")
    assert problems(config) == [f"inventories.ansible.path: {inventory}: {TOO_DEEP}"]


def test_json_within_the_depth_bound_is_read(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps({"a": json.loads(nested(MAX_DEPTH - 1))}))
    assert read_json(path)["a"] == json.loads(nested(MAX_DEPTH - 1))


def test_an_inventory_value_of_the_wrong_shape_is_refused_not_rendered(tmp_path):
    """A list where a platform or a group name belongs is never turned into text whole."""
    inventory = tmp_path / "inventory.json"
    huge = [["nxos"] * 1000] * 1000
    inventory.write_text(json.dumps({"all": {"hosts": [huge, "sw2"]}, "_meta": {"hostvars": {
        "sw1": {"ansible_host": "192.0.2.1", "ansible_network_os": huge},
        "sw2": {"ansible_host": "192.0.2.2", "ansible_network_os": "nxos"}}}}))
    config = write(tmp_path / "collect.yaml", BASE + "inventories: {ansible: {path: inventory.json}}\n")
    [problem] = problems(config)
    assert problem == "inventories.ansible.sw1.platform: expected nxos or iosxe"


# ---------------------------------------------------------------- what a file must be

def test_a_configuration_must_be_a_regular_file_of_bounded_size(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")  # opening it must not wait for a writer
    (tmp_path / "folder.yaml").mkdir()
    big = tmp_path / "big.yaml"
    with big.open("wb") as file:
        file.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse: costs no disk
    assert problems(Path("/dev/zero")) == ["not a regular file (a device)"]
    assert problems(tmp_path / "fifo.yaml") == ["not a regular file (a FIFO)"]
    assert problems(tmp_path / "folder.yaml") == ["not a regular file (a folder)"]
    assert problems(big) == [f"larger than {MAX_DOCUMENT_BYTES >> 20} MB"]


def test_an_inventory_must_be_a_regular_file_too(tmp_path):
    os.mkfifo(tmp_path / "router.db")
    config = write(tmp_path / "collect.yaml", BASE + "inventories: {oxidized: {path: router.db}}\n")
    assert problems(config) == [f"inventories.oxidized.path: {tmp_path / 'router.db'}: not a regular file (a FIFO)"]


@pytest.mark.parametrize("command", ["collect", "serve", "check"])
def test_config_file_dev_zero_or_a_fifo_exits_2_with_one_line(capsys, tmp_path, command):
    os.mkfifo(tmp_path / "fifo.yaml")
    for config, kind in ((Path("/dev/zero"), "a device"), (tmp_path / "fifo.yaml", "a FIFO")):
        if command == "collect":
            argv = ["collect", "--config.file", str(config), "--out", str(tmp_path / "out")]
        elif command == "serve":
            argv = ["serve", "--config.file", str(config), "--collect.dir", str(tmp_path / "out"),
                    "--web.listen-address", "127.0.0.1:1"]
        else:
            argv = ["collect", "--config.check", "--config.file", str(config)]
        code = main(argv)
        err = capsys.readouterr().err.splitlines()
        assert code == 2 and len(err) == 1, err
        assert err[0].endswith(f"{config}: not a regular file ({kind})") and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- numbers: finite and in range

NOT_A_DURATION = "not a duration (e.g. 90s, 15m, 6h, 1d or a number of seconds)"


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1" + "0" * 400, "'" + "9" * 400 + "s'"])
@pytest.mark.parametrize("key", ["interval", "auth_backoff", "auth_backoff_max", "suspend_window", "suspend_for"])
def test_collect_durations_are_finite(tmp_path, key, value):
    config = write(tmp_path / "collect.yaml", BASE + f"targets: {{sw1: {{}}}}\ncollect: {{{key}: {value}}}\n")
    found = problems(config)
    assert f"collect.{key}: {NOT_A_DURATION}" in found or f"collect.{key}: must be longer than 0s" in found


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1" + "0" * 400])
@pytest.mark.parametrize("key", ["connect_timeout", "command_timeout", "device_timeout"])
def test_timeouts_are_finite_at_every_level(tmp_path, key, value):
    config = write(tmp_path / "collect.yaml", f"""\
        defaults: {{username: licmon, password_env: {ENV}, {key}: {value}}}
        groups: {{g: {{{key}: {value}}}}}
        targets: {{sw1: {{{key}: {value}}}}}
        """)
    found = problems(config)
    assert len(found) == 3
    assert all(problem.split(": ", 1)[1] in (NOT_A_DURATION, "must be longer than 0s") for problem in found)
    assert [problem.split(": ", 1)[0] for problem in found] == [f"defaults.{key}", f"groups.g.{key}",
                                                                f"targets.sw1.{key}"]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("logins_per_second", ".nan", "expected a number above 0, at most 1000"),
    ("logins_per_second", ".inf", "expected a number above 0, at most 1000"),
    ("logins_per_second", "0", "expected a number above 0, at most 1000"),
    ("logins_per_second", "5000", "expected a number above 0, at most 1000"),
    ("jitter", ".nan", "expected a fraction from 0 up to (not including) 1"),
    ("jitter", ".inf", "expected a fraction from 0 up to (not including) 1"),
    ("concurrency", "100000", "expected a whole number from 1 to 1,000"),
    ("concurrency", ".inf", "expected a whole number from 1 to 1,000"),
    ("suspend_after", "1" + "0" * 400, "expected a whole number from 1 to 1,000,000"),
    ("interval", "59s", "at least 1m"),
    ("interval", "400d", "at most 366d"),
])
def test_collect_numbers_in_range(tmp_path, key, value, message):
    config = write(tmp_path / "collect.yaml", BASE + f"targets: {{sw1: {{}}}}\ncollect: {{{key}: {value}}}\n")
    assert problems(config) == [f"collect.{key}: {message}"]


def test_timeouts_at_most_a_day(tmp_path):
    config = write(tmp_path / "collect.yaml", BASE + "targets: {sw1: {connect_timeout: 2d, command_timeout: 1d}}\n")
    assert problems(config) == ["targets.sw1.connect_timeout: at most 1d"]


# ---------------------------------------------------------------- reading within a time

def test_a_read_that_hangs_is_given_up_after_its_time():
    """What a password file on a hung network mount does to a read: it never returns. The load
    gives it SECRET_READ_SECONDS (here a fraction of a second) and goes on with a problem."""
    never = threading.Event()
    with pytest.raises(TimeoutError) as caught:
        within(0.2, never.wait, "/mnt/hung/licmon.pw")
    assert str(caught.value) == "/mnt/hung/licmon.pw: not read within 0.2 s"
    never.set()
    assert within(5, lambda: "read", "x") == "read"
    with pytest.raises(KeyError):
        within(5, lambda: {}["missing"], "x")  # the work's own error reaches the caller
