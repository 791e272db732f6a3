"""ClientConfig: environment, CLI profiles, URLs, headers, and secret hiding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.config import ClientConfig, profile_path, redact_url
from codex_manager.errors import ConfigError


def test_from_env_reads_every_variable() -> None:
    config = ClientConfig.from_env(
        {
            "CODEX_MANAGER_API_BASE": "https://cm.example:8443/root/",
            "CODEX_MANAGER_API_PREFIX": "v2/",
            "CODEX_MANAGER_TIMEOUT_MS": "1500",
            "CODEX_MANAGER_BEARER_TOKEN": "bearer-secret",
            "CODEX_MANAGER_RBAC_TOKEN": "rbac-secret",
            "CODEX_MANAGER_RBAC_ROLE": "admin",
            "CODEX_MANAGER_RBAC_ACTOR": "ci-bot",
        }
    )
    assert config.base_url == "https://cm.example:8443/root"
    assert config.api_prefix == "/v2"
    assert config.timeout == 1.5
    assert config.auth_headers() == {
        "Authorization": "Bearer bearer-secret",
        "x-codex-rbac-token": "rbac-secret",
        "x-codex-rbac-role": "admin",
        "x-codex-rbac-actor": "ci-bot",
    }
    assert config.api_url("/sessions") == "https://cm.example:8443/root/v2/sessions"
    assert config.stream_url("a b/c") == "wss://cm.example:8443/root/v2/stream?threadId=a%20b%2Fc"


def test_from_env_defaults() -> None:
    config = ClientConfig.from_env({})
    assert config.base_url == "http://127.0.0.1:3001"
    assert config.api_prefix == "/api"
    assert config.bearer_token is None
    assert config.auth_headers() == {}
    assert config.stream_url(None) == "ws://127.0.0.1:3001/api/stream"


@pytest.mark.parametrize("value", ["abc", "-5", "0", "nan", "inf", "12ms"])
def test_bad_timeout_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="CODEX_MANAGER_TIMEOUT_MS"):
        ClientConfig.from_env({"CODEX_MANAGER_TIMEOUT_MS": value})
    with pytest.raises(ConfigError, match="CODEX_MANAGER_TIMEOUT_MS"):
        CodexManager.from_env({"CODEX_MANAGER_TIMEOUT_MS": value})


@pytest.mark.parametrize("value", ["localhost:3001", "ftp://host", "http://", "http://h:99999"])
def test_bad_base_url_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="CODEX_MANAGER_API_BASE"):
        ClientConfig.from_env({"CODEX_MANAGER_API_BASE": value})


def test_bad_prefix_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="CODEX_MANAGER_API_PREFIX"):
        ClientConfig.from_env({"CODEX_MANAGER_API_PREFIX": "/api?x=1"})


@pytest.mark.parametrize("prefix", ["/proxý", "/a b", "/v\t2"])
def test_a_prefix_no_request_path_can_carry_is_a_config_error(prefix: str) -> None:
    # Accepted, it broke every call with a raw UnicodeDecodeError (or the request line).
    with pytest.raises(ConfigError, match="CODEX_MANAGER_API_PREFIX must be a path"):
        ClientConfig.from_env({"CODEX_MANAGER_API_PREFIX": prefix})


@pytest.mark.parametrize("name", ["x-é", "x\tb", "a(b", "x;y", ""])
def test_a_header_name_no_request_can_carry_is_a_config_error(name: str) -> None:
    # Accepted, every request failed (ProtocolError), or the client could not be made
    # (a raw UnicodeEncodeError).
    with pytest.raises(ConfigError, match="invalid header name"):
        ClientConfig(headers={name: "v"})


def test_constructor_arguments_are_validated() -> None:
    with pytest.raises(ConfigError, match="timeout"):
        CodexManager("http://127.0.0.1:1", timeout=-1)
    with pytest.raises(ConfigError, match="base_url"):
        CodexManager("127.0.0.1:1")
    with pytest.raises(ConfigError, match="either config= or connection arguments"):
        CodexManager("http://127.0.0.1:1", config=ClientConfig())


def _write_profiles(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def test_from_profile_reads_the_current_profile(tmp_path: Path) -> None:
    file = _write_profiles(
        tmp_path / "codex-manager" / "cli" / "config.json",
        {
            "currentProfile": "staging",
            "profiles": {
                "staging": {
                    "baseUrl": "http://staging:3001",
                    "apiPrefix": "/api",
                    "timeoutMs": 2500,
                    "headers": {"x-team": "blue"},
                    "auth": {"bearer": "tok", "rbacToken": "rt", "role": "ops", "actor": "me"},
                },
                "other": {"baseUrl": "http://other:1"},
            },
        },
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert profile_path(env) == file
    config = ClientConfig.from_profile(environ=env)
    assert config.base_url == "http://staging:3001"
    assert config.timeout == 2.5
    assert config.auth_headers() == {
        "x-team": "blue",
        "Authorization": "Bearer tok",
        "x-codex-rbac-token": "rt",
        "x-codex-rbac-role": "ops",
        "x-codex-rbac-actor": "me",
    }
    assert ClientConfig.from_profile("other", file).base_url == "http://other:1"


def test_missing_profile_file_means_defaults(tmp_path: Path) -> None:
    config = ClientConfig.from_profile(environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert config == ClientConfig()


def test_profile_errors_name_the_problem(tmp_path: Path) -> None:
    file = tmp_path / "config.json"
    file.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ClientConfig.from_profile(config_path=file)
    _write_profiles(file, {"profiles": {"a": {"timeoutMs": "soon"}}})
    with pytest.raises(ConfigError, match=r"profiles\.a\.timeoutMs"):
        ClientConfig.from_profile("a", file)
    with pytest.raises(ConfigError, match="unknown profile 'b'"):
        ClientConfig.from_profile("b", file)
    _write_profiles(file, {"currentProfile": "gone", "profiles": {}})
    with pytest.raises(ConfigError, match="unknown profile 'gone'"):
        ClientConfig.from_profile(config_path=file)
    _write_profiles(file, {"profiles": {"a": {"baseUrl": "no-scheme"}}})
    with pytest.raises(ConfigError, match=r"profiles\.a\.baseUrl"):
        ClientConfig.from_profile("a", file)
    with pytest.raises(ConfigError, match="does not exist"):
        ClientConfig.from_profile(config_path=tmp_path / "absent.json")


def test_from_profile_builds_both_clients(tmp_path: Path) -> None:
    file = _write_profiles(tmp_path / "p.json", {"profiles": {"x": {"baseUrl": "http://x:1"}}})
    with CodexManager.from_profile("x", file) as cm:
        assert cm.client_config.base_url == "http://x:1"
    assert AsyncCodexManager.from_profile("x", file).client_config.base_url == "http://x:1"


def test_secrets_never_in_repr() -> None:
    config = ClientConfig(
        bearer_token="bearer-secret",
        rbac_token="rbac-secret",
        headers={"X-Api-Key": "header-secret", "x-team": "blue", "X-Cred": "odd-name-secret"},
    )
    text = repr(config)
    # No custom header's value: a secret may sit in a header of any name.
    for secret in ("bearer-secret", "rbac-secret", "header-secret", "odd-name-secret", "blue"):
        assert secret not in text
    assert "'x-team': '***'" in text
    with CodexManager(config=config) as cm:
        assert "secret" not in repr(cm)
    assert "secret" not in repr(AsyncCodexManager(config=config))


def test_config_is_hashable_and_compares_by_value() -> None:
    first = ClientConfig(headers={"x-team": "blue"}, bearer_token="t")
    second = ClientConfig(headers={"x-team": "blue"}, bearer_token="t")
    assert first == second
    assert len({first, second}) == 1
    assert first != ClientConfig(headers={"x-team": "red"}, bearer_token="t")


def test_whitespace_around_credentials_is_dropped() -> None:
    # HTTP drops it around a header value, and httpx refuses to send it: every request
    # failed (and GETs were retried) instead.
    env = {
        "CODEX_MANAGER_BEARER_TOKEN": " secret-value ",
        "CODEX_MANAGER_RBAC_TOKEN": "\tother ",
        "CODEX_MANAGER_RBAC_ROLE": " admin",
    }
    config = ClientConfig.from_env(env)
    assert (config.bearer_token, config.rbac_token, config.rbac_role) == (
        "secret-value",
        "other",
        "admin",
    )
    assert ClientConfig(bearer_token=" t ").auth_headers()["Authorization"] == "Bearer t"


@pytest.mark.parametrize("value", ["1e13", "9999999999999999"])
def test_a_timeout_longer_than_a_socket_can_wait_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="CODEX_MANAGER_TIMEOUT_MS"):
        ClientConfig.from_env({"CODEX_MANAGER_TIMEOUT_MS": value})
    with pytest.raises(ConfigError, match="timeout"):
        CodexManager("http://127.0.0.1:9", timeout=1e10)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("tok\u00a0en", "only ASCII"),  # a token pasted with a non-breaking space
        ("t\u00f6ken", "only ASCII"),
        ("tok\x00en", "control characters"),
        ("tok\nen", "line breaks"),
    ],
)
def test_a_credential_no_header_can_carry_is_a_config_error_naming_its_source(
    value: str, problem: str, tmp_path: Path
) -> None:
    # httpx raised a bare UnicodeEncodeError while building the client, naming nothing.
    for variable in (
        "CODEX_MANAGER_BEARER_TOKEN",
        "CODEX_MANAGER_RBAC_TOKEN",
        "CODEX_MANAGER_RBAC_ACTOR",
    ):
        with pytest.raises(ConfigError, match=f"{variable} .*{problem}"):
            ClientConfig.from_env({variable: value})
    with pytest.raises(ConfigError, match=f"bearer_token .*{problem}"):
        CodexManager("http://127.0.0.1:9", bearer_token=value)
    with pytest.raises(ConfigError, match=problem):
        AsyncCodexManager("http://127.0.0.1:9", headers={"x-team": value})
    file = tmp_path / "config.json"
    file.write_text(json.dumps({"profiles": {"p": {"auth": {"bearer": value}}}}))
    with pytest.raises(ConfigError, match=f"auth.bearer .*{problem}"):
        ClientConfig.from_profile("p", file)


def test_credentials_replace_a_custom_header_of_the_same_name_whatever_its_case() -> None:
    config = ClientConfig(
        headers={"authorization": "Basic old", "X-Codex-Rbac-Role": "viewer", "x-team": "a"},
        bearer_token="tok",
        rbac_role="ops",
    )
    assert config.auth_headers() == {
        "x-team": "a",
        "Authorization": "Bearer tok",
        "x-codex-rbac-role": "ops",
    }


def test_credentials_in_the_base_url_travel_in_a_header_and_show_nowhere() -> None:
    config = ClientConfig(base_url="http://alice:p%40ss@server:3001/prefix", bearer_token="tok")
    assert config.base_url == "http://alice:p%40ss@server:3001/prefix"  # as given
    assert config.server_url == "http://server:3001/prefix"
    assert config.api_base == "http://server:3001/prefix/api"
    assert config.stream_url("t") == "ws://server:3001/prefix/api/stream?threadId=t"
    assert config.auth_headers()["Authorization"] == "Basic YWxpY2U6cEBzcw=="  # alice:p@ss
    assert "p%40ss" not in repr(config)
    assert "alice:***@server" in repr(config)
    assert "p%40ss" in config.secrets
    assert redact_url("http://bob@server/x") == "http://bob@server/x"  # no password: as is


@pytest.mark.parametrize(
    "url",
    [
        "http://user:s3cret-pw@host.test:99999",  # a port out of range
        "http://user:s3cret-pw@host.test/base?x=1",  # a query
        "ftp://user:s3cret-pw@host.test",  # another scheme
        "http://user:s3cret-pw@[::1",  # not a URL at all (a ValueError before)
        "user:s3cret-pw@host.test:3001",  # no scheme: urlsplit finds no password in it
        "http:/user:s3cret-pw@host.test",
        "http://user:s3cret/pw@host.test",  # an unencoded / ends the host part early
        "http://user:s3cret#pw@host.test",
    ],
)
def test_a_refused_base_url_shows_no_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ClientConfig(base_url=url)
    assert "s3cret" not in str(caught.value)
    with pytest.raises(ConfigError) as from_env:
        ClientConfig.from_env({"CODEX_MANAGER_API_BASE": url})
    assert "s3cret" not in str(from_env.value)
    assert "CODEX_MANAGER_API_BASE" in str(from_env.value)
