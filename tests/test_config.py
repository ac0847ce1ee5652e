"""somia._config: the declaration of the client's options, held to the constructor, to
`ClientOptions`, to the command line and to docs/configuration.md; environment fallbacks,
default headers and a key-free repr."""

from __future__ import annotations

import math
import warnings
from typing import Any

import httpx
import pytest

import somia
from somia._config import DEFAULT_BASE_URL, OPTIONS, ClientConfig
from somia._pool import USER_AGENT

KEY = "sk-test-CONFIGKEY-0001"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SOMIA_BASE_URL", "SOMIA_API_KEY", "SOMIA_API_KEY_HEADER"):
        monkeypatch.delenv(name, raising=False)


def _create(**overrides: Any) -> ClientConfig:
    """The configuration of `SomiaClient(api_key=KEY, **overrides)`."""
    defaults = {field.name: field.default for field in OPTIONS}
    return ClientConfig.create({**defaults, "api_key": KEY, **overrides})


def test_the_base_url_defaults_to_the_hosted_platform() -> None:
    assert DEFAULT_BASE_URL == "https://api.somia-platform.com"
    assert _create().base_url == DEFAULT_BASE_URL


def test_base_url_and_api_key_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "https://env.example.com/")
    monkeypatch.setenv("SOMIA_API_KEY", "sk-from-env")
    config = _create(api_key=None)
    assert config.base_url == "https://env.example.com"
    assert config.api_key == "sk-from-env"
    assert config.headers["x-api-key"] == "sk-from-env"


def test_explicit_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "https://env.example.com")
    monkeypatch.setenv("SOMIA_API_KEY", "sk-from-env")
    config = _create(base_url="https://explicit.example.com", api_key=KEY)
    assert config.base_url == "https://explicit.example.com"
    assert config.api_key == KEY


def test_the_environment_is_read_when_the_client_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "https://env.example.com")
    monkeypatch.setenv("SOMIA_API_KEY", "sk-from-env")
    client = somia.SomiaClient()
    try:
        assert client.base_url == "https://env.example.com"
    finally:
        client.close()


def test_without_a_key_anywhere_the_error_names_api_key_and_the_variable() -> None:
    with pytest.raises(ValueError, match="api_key") as info:
        _create(api_key=None)
    assert "SOMIA_API_KEY" in str(info.value)


def test_a_bad_base_url_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "ftp://env.example.com")
    with pytest.raises(ValueError, match="base_url"):
        _create()


def test_every_call_sends_the_versioned_user_agent_json_accept_and_the_key() -> None:
    config = _create()
    assert f"somia-python/{somia.__version__}" == USER_AGENT
    assert config.headers["User-Agent"] == f"somia-python/{somia.__version__}"
    assert config.headers["Accept"] == "application/json"
    assert config.headers["x-api-key"] == KEY


def test_the_key_goes_under_the_configured_header_name_only() -> None:
    config = _create(api_key_header="apikey")
    headers = httpx.Headers(config.headers)
    assert headers.get_list("apikey") == [KEY]
    assert "x-api-key" not in headers
    assert [v for v in headers.values() if v == KEY] == [KEY]


def test_default_headers_are_added_to_every_call() -> None:
    config = _create(default_headers={"X-Team": "search"})
    assert config.headers["X-Team"] == "search"


def test_default_headers_cannot_replace_the_api_key_header() -> None:
    config = _create(default_headers={"x-api-key": "sk-other"})
    assert httpx.Headers(config.headers).get_list("x-api-key") == [KEY]


def test_retry_options_become_the_retry_policy() -> None:
    config = _create(retries=5, retry_backoff_seconds=0.25, max_retry_after=9)
    assert config.retry.retries == 5
    assert config.retry.backoff == 0.25
    assert config.retry.max_retry_after == 9.0


def test_a_number_timeout_becomes_an_httpx_timeout() -> None:
    assert _create(timeout=12).timeout == httpx.Timeout(12.0)


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("retries", -1, ValueError),
        ("retries", 1.5, TypeError),
        ("retry_backoff_seconds", math.nan, ValueError),
        ("max_retry_after", -1.0, ValueError),
        ("timeout", 0, ValueError),
        ("timeout", "60", TypeError),
        ("api_key_header", "x api key", ValueError),
        ("default_headers", {"X-A": "1\r\nX-B: 2"}, ValueError),
    ],
)
def test_a_bad_option_is_refused_naming_it(
    option: str, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match=option):
        _create(**{option: value})


def test_describe_shows_the_base_url_and_header_name_but_never_the_key() -> None:
    config = _create(base_url="https://gw.example.com", api_key_header="apikey")

    class SomiaClient:
        pass

    text = config.describe(SomiaClient())
    assert text.startswith("SomiaClient(")
    assert "https://gw.example.com" in text
    assert "apikey" in text
    assert KEY not in text
    assert KEY not in repr(config)
    assert KEY not in repr(config.retry)


def test_default_headers_cannot_add_a_second_api_key_header_in_another_letter_case() -> None:
    config = _create(default_headers={"X-API-Key": "sk-other"})
    assert httpx.Headers(config.headers).get_list("x-api-key") == [KEY]


def test_total_timeout_defaults_to_none_and_is_checked() -> None:
    assert _create().total_timeout is None
    assert _create(total_timeout=30).total_timeout == 30.0
    with pytest.raises(ValueError, match="total_timeout"):
        _create(total_timeout=math.inf)


def test_replace_keeps_what_it_is_not_given_and_merges_default_headers() -> None:
    config = _create(
        base_url="https://gw.example.com", default_headers={"X-A": "1", "X-B": "2"}, retries=4
    )
    copy = config.replace({"api_key": "sk-copy", "default_headers": {"x-b": "3"}})
    assert copy.base_url == "https://gw.example.com"
    assert copy.retry == config.retry
    assert copy.timeout == config.timeout
    headers = httpx.Headers(copy.headers)
    assert headers["x-api-key"] == "sk-copy"
    assert (headers["x-a"], headers["x-b"]) == ("1", "3")
    assert httpx.Headers(config.headers)["x-api-key"] == KEY  # the original is unchanged


def test_replace_does_not_warn_again_about_a_kept_plain_http_url() -> None:
    with pytest.warns(UserWarning, match="plain http"):
        config = _create(base_url="http://api.example.com")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config.replace({"retries": 0}).base_url == "http://api.example.com"


def test_replace_refuses_an_unknown_option_naming_it() -> None:
    with pytest.raises(TypeError, match="'http_client'"):
        _create().replace({"http_client": None})
