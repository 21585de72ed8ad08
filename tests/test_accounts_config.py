"""The `accounts:` section of --config.file: what it may say, every problem at once with its key
path (never the value), secrets by file or variable only, file-mode warnings, and how
`serve --config.check` and the collection's loader treat a file with account sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lic_exporter.accounts.loading import load_accounts, read_accounts
from lic_exporter.accounts.settings import DEFAULT_API_URL, DEFAULT_TOKEN_URL, AccountsConfigError
from lic_exporter.cli.main import main
from lic_exporter.collect.loading import load_config
from tests.support.account_servers import CLIENT_ID, CLIENT_SECRET, make_tls, secret_files


def entry(tmp_path: Path, **keys: Any) -> dict[str, Any]:
    id_file, secret_file = secret_files(tmp_path / "secrets")
    base = {"type": "cssm", "smart_account": "example.com", "client_id_file": str(id_file),
            "client_secret_file": str(secret_file)}
    base.update(keys)
    return {key: value for key, value in base.items() if value is not None}


def problems(section: Any, base: Path) -> list[str]:
    with pytest.raises(AccountsConfigError) as caught:
        read_accounts(section, base)
    return caught.value.problems


def write(tmp_path: Path, document: Any, name: str = "lic.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_cssm_source_with_defaults(tmp_path: Path) -> None:
    config = read_accounts({"sources": {"cisco": entry(tmp_path, virtual_accounts=["DC1-Fabric", "DC2"])}}, tmp_path)
    [source] = config.sources
    assert (config.poll_interval, source.timeout) == (6 * 3600, 60)
    assert (source.name, source.type, source.account) == ("cisco", "cssm", "example.com")
    assert (source.token_url, source.api_url) == (DEFAULT_TOKEN_URL, DEFAULT_API_URL)
    assert source.virtual_accounts == ("DC1-Fabric", "DC2")
    assert source.secrets == (CLIENT_ID, CLIENT_SECRET)
    assert CLIENT_SECRET not in repr(config) and CLIENT_ID not in repr(config)


def test_an_onprem_source_with_its_ca(tmp_path: Path) -> None:
    ca = make_tls(tmp_path / "tls")
    keys = entry(tmp_path, type="onprem", smart_account=None, url="https://ssm.example.net:8443/",
                 account="Example Networks", ca_file=str(ca.ca_file), timeout="30s")
    config = read_accounts({"poll_interval": "15m", "sources": {"dc1-onprem": keys}}, tmp_path)
    [source] = config.sources
    assert (config.poll_interval, source.timeout, source.ca_file) == (900, 30, ca.ca_file)
    assert source.token_url == "https://ssm.example.net:8443/backend/oauth/token"
    assert source.url("/api/v1/accounts/{account}/licenses") == \
        "https://ssm.example.net:8443/api/v1/accounts/Example%20Networks/licenses"


@pytest.mark.parametrize(("keys", "expected"), [
    ({"colour": "blue"}, "accounts.sources.cisco.colour: unknown key"),
    ({"client_secret": "hunter2-inline"}, "accounts.sources.cisco.client_secret: unknown key (put it in a file "
                                          "(client_secret_file) or a variable (client_secret_env))"),
    ({"timeout": "90s"}, "accounts.sources.cisco.timeout: at most 1m"),
    ({"timeout": 0}, "accounts.sources.cisco.timeout: must be longer than 0s"),
    ({"api_url": "http://swapi.cisco.com/services/api"},
     "accounts.sources.cisco.api_url: plain http:// only for a loopback address; use https://"),
    ({"token_url": "ftp://id.cisco.com/token"}, "accounts.sources.cisco.token_url: expected an https:// URL"),
    ({"api_url": "https://user:pw@swapi.cisco.com"},
     "accounts.sources.cisco.api_url: must not hold a user or password (the client's id and secret go in files)"),
    ({"virtual_accounts": []},
     "accounts.sources.cisco.virtual_accounts: expected a list of virtual account names, e.g. [DC1-Fabric, DC2]"),
    ({"smart_account": None}, "accounts.sources.cisco.smart_account: missing"),
    ({"type": "satellite"}, "accounts.sources.cisco.type: expected cssm or onprem"),
    ({"type": None}, "accounts.sources.cisco.type: missing (cssm or onprem)"),
    ({"proxy": "http://svc:pw@proxy.example.net:8080"}, "accounts.sources.cisco.proxy: must not hold a user or "
                                                        "password (allow the exporter's address on the proxy instead)"),
    ({"proxy": "proxy.example.net:8080"}, "accounts.sources.cisco.proxy: expected http://HOST:PORT"),
    ({"proxy": "http://proxy.example.net"},
     "accounts.sources.cisco.proxy: needs a port, e.g. http://proxy.example.net:8080"),
], ids=["unknown", "inline-secret", "timeout-long", "timeout-zero", "plain-http", "scheme", "userinfo", "no-vas",
        "no-domain", "type", "no-type", "proxy-userinfo", "proxy-scheme", "proxy-port"])
def test_a_bad_key_is_named_by_its_path(tmp_path: Path, keys: dict[str, Any], expected: str) -> None:
    assert problems({"sources": {"cisco": entry(tmp_path, **keys)}}, tmp_path) == [expected]


def test_plain_http_is_accepted_for_a_loopback_address(tmp_path: Path) -> None:
    keys = entry(tmp_path, api_url="http://127.0.0.1:8080/services/api", token_url="http://localhost:8080/token")
    assert read_accounts({"sources": {"cisco": keys}}, tmp_path).sources[0].api_url.startswith("http://127.0.0.1")


@pytest.mark.parametrize(("interval", "expected"), [
    ("5m", "accounts.poll_interval: at least 15m"), ("14m59s", "accounts.poll_interval: at least 15m"),
    ("60d", "accounts.poll_interval: at most 31d"), (".inf", "accounts.poll_interval: not a duration (e.g. 90s, "
                                                             "15m, 6h, 1d or a number of seconds)")])
def test_poll_interval_bounds(tmp_path: Path, interval: str, expected: str) -> None:
    section = yaml.safe_load(f"poll_interval: {interval}")
    section["sources"] = {"cisco": entry(tmp_path)}
    assert problems(section, tmp_path) == [expected]


def test_secrets_missing_given_twice_or_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIC_TEST_UNSET_ID", raising=False)
    monkeypatch.setenv("LIC_TEST_SECRET", CLIENT_SECRET)
    missing = tmp_path / "nowhere.secret"
    found = problems({"sources": {
        "gone": entry(tmp_path, client_secret_file=str(missing)),
        "twice": entry(tmp_path, client_secret_env="LIC_TEST_SECRET"),
        "none": entry(tmp_path, client_id_file=None),
        "unset": entry(tmp_path, client_id_file=None, client_id_env="LIC_TEST_UNSET_ID")}}, tmp_path)
    assert found == [
        f"accounts.sources.gone.client_secret_file: {missing}: no such file",
        "accounts.sources.twice: exactly one of client_secret_file, client_secret_env is needed "
        "(client_secret_file, client_secret_env given)",
        "accounts.sources.none: exactly one of client_id_file, client_id_env is needed (none given)",
        "accounts.sources.unset.client_id_env: environment variable LIC_TEST_UNSET_ID is not set (set it where the "
        "exporter starts, e.g. in the service's environment file)"]


def test_a_secret_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIC_TEST_SECRET", CLIENT_SECRET)
    keys = entry(tmp_path, client_secret_file=None, client_secret_env="LIC_TEST_SECRET")
    assert read_accounts({"sources": {"cisco": keys}}, tmp_path).sources[0].client_secret == CLIENT_SECRET


def test_ca_file_missing_or_not_a_certificate(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    found = problems({"sources": {
        "a": entry(tmp_path, type="onprem", smart_account=None, url="https://ssm.example.net", account="A",
                   ca_file="missing-ca.pem"),
        "b": entry(tmp_path, ca_file=str(junk))}}, tmp_path)
    assert found == [f"accounts.sources.a.ca_file: {tmp_path / 'missing-ca.pem'}: no such file",
                     f"accounts.sources.b.ca_file: {junk}: holds no PEM certificate TLS can use"]


def test_every_problem_at_once_and_no_value_quoted(tmp_path: Path) -> None:
    leaked = "s3cr3t-looking-value-9f8e"
    found = problems({"poll_interval": "1m", "colour": leaked, "sources": {
        "cisco": entry(tmp_path, timeout=leaked, api_url=leaked + "://x"),
        "bad name!": entry(tmp_path)}}, tmp_path)
    assert len(found) == 5, found
    assert all(leaked not in problem for problem in found)
    assert "accounts.colour: unknown key" in found and "accounts.poll_interval: at least 15m" in found


def test_a_secret_file_others_may_read_is_a_warning(tmp_path: Path) -> None:
    id_file, secret_file = secret_files(tmp_path / "open", mode=0o644)
    section = {"sources": {"cisco": entry(tmp_path, client_id_file=str(id_file), client_secret_file=str(secret_file))}}
    config = load_accounts(write(tmp_path, {"accounts": section}))
    assert config.warnings == (f"{id_file}: readable by group and others (chmod 600)",
                               f"{secret_file}: readable by group and others (chmod 600)")
    assert read_accounts({"sources": {"cisco": entry(tmp_path)}}, tmp_path).warnings == ()  # 0600: no word


def test_the_file_as_a_whole(tmp_path: Path) -> None:
    assert load_accounts(write(tmp_path, {"targets": {}})).sources == ()  # no section: no sources
    path = write(tmp_path, {"acounts": {"sources": {}}, "targets": {}})
    with pytest.raises(AccountsConfigError) as caught:
        load_accounts(path, other_sections=("defaults", "groups", "targets", "collect", "inventories"))
    assert caught.value.located(path) == [f"{path}: acounts: unknown key"]
    twice = tmp_path / "twice.yml"
    twice.write_text(f"accounts:\n  poll_interval: 1h\n  poll_interval: 2h\n  sources: {{cisco: {entry(tmp_path)}}}\n")
    with pytest.raises(AccountsConfigError) as caught:
        load_accounts(twice)
    assert caught.value.located(twice) == [f"{twice}:3:3: key 'poll_interval' given twice"]


# ---------------------------------------------------------------- with the rest of the file

def test_the_collection_accepts_and_ignores_an_accounts_section(tmp_path: Path) -> None:
    only_accounts = write(tmp_path, {"accounts": {"sources": {"cisco": entry(tmp_path)}}})
    assert load_config(only_accounts).targets == ()


def check(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["serve", *args, "--config.check"])
    out, err = capsys.readouterr()
    return code, out, err


def test_serve_config_check_with_account_sources_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {"accounts": {"sources": {"cisco": entry(tmp_path)}}})
    code, out, err = check("--config.file", str(path), "--collect.dir", str(tmp_path / "out"), capsys=capsys)
    assert (code, err) == (0, "")
    assert "1 account source(s) to poll" in out and "0 target(s) to collect" in out


def test_serve_config_check_names_the_accounts_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = {"sw1": {"host": "192.0.2.1", "username": "admin", "password_file": str(tmp_path / "secrets" /
                                                                                      "client.secret")}}
    path = write(tmp_path, {"targets": targets, "colour": 1,
                            "accounts": {"poll_interval": "1m", "sources": {"cisco": entry(tmp_path, typo=1)}}})
    code, out, err = check("--config.file", str(path), "--collect.dir", str(tmp_path / "out"), capsys=capsys)
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert f"{path}: accounts.poll_interval: at least 15m" in lines
    assert f"{path}: accounts.sources.cisco.typo: unknown key" in lines
    assert sum("colour: unknown key" in line for line in lines) == 1  # the unknown section, once
