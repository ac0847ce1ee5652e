"""somia._config: the declaration of the client's options, held to the constructor, to
`ClientOptions`, to the command line and to docs/configuration.md; environment fallbacks,
default headers and a key-free repr."""

from __future__ import annotations

import inspect
import math
import re
import typing
import warnings
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

import somia
from somia._bridge import API_KEY_HEADER
from somia._config import DEFAULT_BASE_URL, OPTIONS, ClientConfig, option_of, with_environment
from somia._pool import USER_AGENT

ROOT = Path(__file__).resolve().parent.parent

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


def test_the_api_key_header_falls_back_to_the_environment_then_to_the_documents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _create().api_key_header == API_KEY_HEADER
    monkeypatch.setenv("SOMIA_API_KEY_HEADER", "apikey")
    config = _create()
    assert config.api_key_header == "apikey"
    assert config.headers["apikey"] == KEY
    assert _create(api_key_header="X-Key").api_key_header == "X-Key"  # the keyword wins


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "")
    monkeypatch.setenv("SOMIA_API_KEY_HEADER", "")
    assert with_environment({"base_url": None, "api_key_header": None, "timeout": None}) == {
        "base_url": DEFAULT_BASE_URL,
        "api_key_header": API_KEY_HEADER,
        "timeout": None,  # no variable: left as given
    }
    assert with_environment({"retries": 3}) == {"retries": 3}  # only what is given


def test_replace_with_base_url_none_reads_the_environment_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _create(base_url="https://first.example.com")
    monkeypatch.setenv("SOMIA_BASE_URL", "https://later.example.com")
    assert config.replace({"timeout": 5}).base_url == "https://first.example.com"
    assert config.replace({"base_url": None}).base_url == "https://later.example.com"


def test_derived_state_is_computed_from_the_options_not_stored() -> None:
    config = _create(retries=4)
    assert [field.name for field in attrs.fields(ClientConfig)] == list(OPTION_NAMES_IN_ORDER)
    assert config.retry.retries == 4
    assert config.redact.text(f"echo {KEY}") == "echo <redacted>"


# -- the declaration, held to the constructor, ClientOptions and the docs --------------------

OPTION_NAMES_IN_ORDER = [field.name for field in OPTIONS]


def _constructor_options(cls: type) -> list[inspect.Parameter]:
    parameters = inspect.signature(cls, eval_str=True).parameters.values()
    return [p for p in parameters if p.name not in ("self", "http_client")]


@pytest.mark.parametrize("cls", [somia.SomiaClient, somia.AsyncSomiaClient])
def test_the_constructor_takes_each_declared_option_as_a_keyword_with_its_default(
    cls: type,
) -> None:
    parameters = _constructor_options(cls)
    assert [p.name for p in parameters] == OPTION_NAMES_IN_ORDER
    assert {p.kind for p in parameters} == {inspect.Parameter.KEYWORD_ONLY}
    assert [p.default for p in parameters] == [field.default for field in OPTIONS]
    assert list(inspect.signature(cls).parameters)[-1] == "http_client"


def test_client_options_has_each_keyword_with_the_constructors_type() -> None:
    constructor = {p.name: p.annotation for p in _constructor_options(somia.SomiaClient)}
    assert typing.get_type_hints(somia.ClientOptions) == constructor
    assert somia.ClientOptions.__optional_keys__ == set(constructor)


def _documented_arguments() -> dict[str, str]:
    """The constructor docstring's `Args:` entries, each as one line."""
    doc = inspect.getdoc(somia.SomiaClient.__init__) or ""
    entries: dict[str, str] = {}
    name = ""
    for line in doc.partition("Args:\n")[2].splitlines():
        match = re.fullmatch(r"    (\w+): (.*)", line)
        if match:
            name = match.group(1)
            entries[name] = match.group(2)
        elif line.startswith("        ") and name:
            entries[name] += " " + line.strip()
    return entries


def _options_table() -> str:
    """The table of docs/configuration.md, as the declaration and the docstring make it."""
    documented = _documented_arguments()
    rows = [
        "| Keyword | Default | When `None` | `somia` flag | What it sets |",
        "|---|---|---|---|---|",
    ]
    for field in OPTIONS:
        option = option_of(field)
        fallback = ""
        if option.env:
            fallback = f"`${option.env}`" + (
                f", else `{option.fallback}`" if option.fallback is not None else ""
            )
        flag = ""
        if option.flag:
            first, *aliases = option.flag.names
            flag = f"`{first}`" + "".join(f" (also `{alias}`)" for alias in aliases)
        rows.append(
            f"| `{field.name}` | `{field.default!r}` | {fallback} | {flag} | "
            f"{documented[field.name]} |"
        )
    return "\n".join(rows)


def test_the_docs_table_of_options_is_the_declarations() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = page.split("<!-- options table: start -->\n")[1].split("\n<!-- options table: end")[0]
    assert table == _options_table()  # on a change, paste the expected table into the page


def test_every_constructor_keyword_is_documented_for_ide_hover() -> None:
    # Both clients take BaseClient's constructor, signature and docstring alike.
    assert list(_documented_arguments()) == [*OPTION_NAMES_IN_ORDER, "http_client"]
