"""somia._validation: every argument check accepts good values and names what it refuses."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
import pytest

from somia import SomiaClient
from somia._validation import (
    MAX_TIMEOUT,
    check_agent_id,
    check_api_key,
    check_base_url,
    check_count,
    check_header_name,
    check_headers,
    check_idempotency_key,
    check_seconds,
    check_session_id,
    check_timeout,
    warn_if_plain_http,
)
from somia.testing import FakeServer
from tests.harness import OK, SESSION, ScriptedServer

# -- agent_id -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 123, 10**12])
def test_a_positive_int_agent_id_is_accepted(value: int) -> None:
    assert check_agent_id(value) == value


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None, [1]])
def test_an_agent_id_that_is_not_an_int_is_a_type_error_naming_agent_id(value: object) -> None:
    with pytest.raises(TypeError, match="agent_id"):
        check_agent_id(value)


@pytest.mark.parametrize("value", [0, -1, -(10**9)])
def test_a_zero_or_negative_agent_id_is_a_value_error_naming_agent_id(value: int) -> None:
    with pytest.raises(ValueError, match="agent_id"):
        check_agent_id(value)


# -- session_id -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["3f2a8c1e-1111-4c2b-9f00-0123456789ab", "abc", "a/b?c#d", "...", " x "]
)
def test_a_non_blank_session_id_is_accepted_as_is(value: str) -> None:
    assert check_session_id(value) == value


@pytest.mark.parametrize("value", ["", " ", "\t\n"])
def test_a_blank_session_id_is_a_value_error_naming_session_id(value: str) -> None:
    with pytest.raises(ValueError, match="session_id"):
        check_session_id(value)


@pytest.mark.parametrize("value", [".", ".."])
def test_a_dot_segment_session_id_that_would_change_the_path_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="session_id"):
        check_session_id(value)


@pytest.mark.parametrize("value", [123, None, b"abc", ["abc"]])
def test_a_session_id_that_is_not_a_str_is_a_type_error_naming_session_id(value: object) -> None:
    with pytest.raises(TypeError, match="session_id"):
        check_session_id(value)


# -- base_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://api.somia-platform.com", "https://api.somia-platform.com"),
        ("https://api.somia-platform.com/", "https://api.somia-platform.com"),
        ("https://gw.example.com:8443/somia/", "https://gw.example.com:8443/somia"),
    ],
)
def test_an_https_base_url_is_accepted_without_its_trailing_slash(
    value: str, expected: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_base_url("base_url", value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "ftp://api.example.com",
        "file:///etc/passwd",
        "api.example.com",
        "https://",
        "https:///path-only",
        "https://api.example.com?x=1",
        "https://api.example.com/#frag",
        "https://api.example.com?",
        "https://api.example.com/v1?",
        "https://api.example.com#",
        "https://api.example.com/v1/#",
        "https://api.example.com/?#",
    ],
)
def test_a_base_url_that_is_not_http_with_a_host_and_nothing_else_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        check_base_url("base_url", value)


def test_a_base_url_with_credentials_is_refused_without_quoting_them() -> None:
    with pytest.raises(ValueError, match="base_url") as info:
        check_base_url("base_url", "https://user:hunter2@api.example.com")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("value", [None, 5, b"https://api.example.com"])
def test_a_base_url_that_is_not_a_str_is_a_type_error_naming_base_url(value: object) -> None:
    with pytest.raises(TypeError, match="base_url"):
        check_base_url("base_url", value)


@pytest.mark.parametrize("value", ["http://api.example.com", "http://10.0.0.5:8000"])
def test_plain_http_to_a_remote_host_warns_that_the_key_travels_in_clear(value: str) -> None:
    with pytest.warns(UserWarning, match="plain http"):
        warn_if_plain_http(check_base_url("base_url", value))


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.1:8000",
        "http://127.0.0.2",
        "http://localhost:8000",
        "http://LOCALHOST",
        "http://[::1]:8000",
    ],
)
def test_plain_http_to_loopback_does_not_warn(value: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_plain_http(check_base_url("base_url", value))


# -- api_key --------------------------------------------------------------------------------


def test_a_printable_ascii_api_key_is_accepted() -> None:
    assert check_api_key("api_key", "sk-live_ABC.123~") == "sk-live_ABC.123~"


def test_a_missing_api_key_says_how_to_give_one() -> None:
    with pytest.raises(ValueError, match="api_key") as info:
        check_api_key("api_key", None)
    assert "SOMIA_API_KEY" in str(info.value)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_api_key_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="api_key"):
        check_api_key("api_key", value)


def test_an_api_key_that_is_not_a_str_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="api_key"):
        check_api_key("api_key", 12345)


@pytest.mark.parametrize(
    "value",
    [
        "SECRETKEY\r\nX-Injected: 1",  # header injection
        "SECRETKEY\n",
        "SECRETKEY\x00",
        "SECRETKEY\x7f",
        "SECRETKEY\tx",
        "SECRETKEY-clé",  # not ASCII
        "SECRETKEY-\u200b",
    ],
)
def test_an_api_key_with_control_or_non_ascii_characters_is_refused_without_quoting_it(
    value: str,
) -> None:
    with pytest.raises(ValueError, match="api_key") as info:
        check_api_key("api_key", value)
    assert "SECRETKEY" not in str(info.value)
    assert "SECRETKEY" not in repr(info.value)


# -- timeouts and other numbers -------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 0.5, 60.0])
def test_a_positive_timeout_becomes_an_httpx_timeout(value: float) -> None:
    assert check_timeout("timeout", value) == httpx.Timeout(float(value))


def test_an_httpx_timeout_is_used_as_given() -> None:
    given = httpx.Timeout(5.0, connect=1.0)
    assert check_timeout("timeout", given) is given


@pytest.mark.both_stacks
def test_a_timeout_of_either_http_library_is_taken_as_an_httpx_timeout(stack: ModuleType) -> None:
    taken = check_timeout("timeout", stack.Timeout(5.0, connect=1.0, pool=None))
    assert type(taken) is httpx.Timeout
    assert taken == httpx.Timeout(5.0, connect=1.0, pool=None)


@pytest.mark.parametrize("value", [0, 0.0, -1, -0.5, math.nan, math.inf])
def test_a_zero_negative_or_non_finite_timeout_is_a_value_error_naming_it(value: float) -> None:
    with pytest.raises(ValueError, match="read_timeout"):
        check_timeout("read_timeout", value)


@pytest.mark.parametrize("value", [True, "5", None, [5]])
def test_a_timeout_that_is_not_a_number_is_a_type_error_naming_it(value: object) -> None:
    with pytest.raises(TypeError, match="read_timeout"):
        check_timeout("read_timeout", value)


def test_non_negative_counts_and_delays_are_accepted_as_int_and_float() -> None:
    assert check_count("retries", 0) == 0
    assert check_count("retries", 3) == 3
    assert check_seconds("retry_backoff_seconds", 0.25) == 0.25
    assert type(check_seconds("retry_backoff_seconds", 1)) is float


@pytest.mark.parametrize(
    ("value", "check", "error"),
    [
        (-1, check_count, ValueError),
        (1.5, check_count, TypeError),
        (True, check_count, TypeError),
        ("2", check_count, TypeError),
        (-0.1, check_seconds, ValueError),
        (math.nan, check_seconds, ValueError),
        (math.inf, check_seconds, ValueError),
        (None, check_seconds, TypeError),
        (True, check_seconds, TypeError),
    ],
)
def test_a_negative_or_mistyped_count_or_delay_is_refused_naming_it(
    value: object, check: Callable[[str, object], object], error: type[Exception]
) -> None:
    with pytest.raises(error, match="some_option"):
        check("some_option", value)


# The same mistake is the same error, whichever timeout option it is given to: a value of the
# wrong type (a str, a bool) is a TypeError, a number out of range a ValueError, including
# the absurdly large ones sockets and event loops refuse only once a call is made.
BAD_TIMEOUTS = [
    ("5", TypeError),
    ("soon", TypeError),
    (True, TypeError),
    ([5], TypeError),
    (0, ValueError),
    (-1, ValueError),
    (math.nan, ValueError),
    (math.inf, ValueError),
    (1e10, ValueError),
    (MAX_TIMEOUT * 1.5, ValueError),
]


@pytest.mark.parametrize("option", ["timeout", "total_timeout", "stream_idle_timeout"])
@pytest.mark.parametrize(("value", "error"), BAD_TIMEOUTS)
def test_a_bad_timeout_is_one_error_class_per_mistake_wherever_it_is_given(
    server: ScriptedServer, option: str, value: object, error: type[Exception]
) -> None:
    given: dict[str, Any] = {option: value}
    with pytest.raises(error, match=option):
        SomiaClient(base_url=server.base_url, api_key="sk-k", **given)
    with SomiaClient(base_url=server.base_url, api_key="sk-k") as client:
        with pytest.raises(error, match=option):
            client.with_options(**given)
        for stream in (False, True):
            with pytest.raises(error, match=option):
                client.sessions.create_session(1, stream=stream, **given)
    assert server.received == []  # refused before any request


@pytest.mark.parametrize(
    "value",
    [
        httpx.Timeout(-1),
        httpx.Timeout(math.nan),
        httpx.Timeout(5.0, read=1e10),
        httpx.Timeout(5.0, pool=0),
        httpx.Timeout(5.0, connect=math.inf),
    ],
)
def test_an_httpx_timeout_with_a_bad_phase_is_a_value_error_naming_the_phase(
    server: ScriptedServer, value: httpx.Timeout
) -> None:
    phase = r"timeout\.(connect|read|write|pool)"
    with pytest.raises(ValueError, match=phase):
        SomiaClient(base_url=server.base_url, api_key="sk-k", timeout=value)
    with SomiaClient(base_url=server.base_url, api_key="sk-k") as client:
        with pytest.raises(ValueError, match=phase):
            client.with_options(timeout=value)
        with pytest.raises(ValueError, match=phase):
            client.sessions.create_session(1, timeout=value)
    assert server.received == []


def test_timeouts_up_to_the_bound_and_phases_without_a_limit_are_accepted(
    server: ScriptedServer,
) -> None:
    server.script(OK)
    options: dict[str, Any] = {
        "timeout": httpx.Timeout(MAX_TIMEOUT, pool=None),
        "total_timeout": MAX_TIMEOUT,
    }
    with SomiaClient(base_url=server.base_url, api_key="sk-k", **options) as client:
        answer = client.sessions.create_session(1, stream_idle_timeout=MAX_TIMEOUT)
    assert answer.session_id == SESSION["session_id"]


# -- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["x-api-key", "apikey", "X_Custom-Header", "a!#$%&'*+.^`|~"])
def test_a_token_header_name_is_accepted(value: str) -> None:
    assert check_header_name("api_key_header", value) == value


@pytest.mark.parametrize("value", ["", "bad header", "x:y", "clé", "a\r\nb", "x-key\n"])
def test_a_header_name_that_is_not_a_token_is_a_value_error_naming_the_argument(
    value: str,
) -> None:
    with pytest.raises(ValueError, match="api_key_header"):
        check_header_name("api_key_header", value)


def test_a_header_name_that_is_not_a_str_is_a_type_error_naming_the_argument() -> None:
    with pytest.raises(TypeError, match="api_key_header"):
        check_header_name("api_key_header", b"x-api-key")


def test_headers_none_is_no_headers_and_a_good_mapping_is_copied() -> None:
    assert check_headers("extra_headers", None) == {}
    given = {"X-Trace": "t-1", "X-Empty": ""}
    checked = check_headers("extra_headers", given)
    assert checked == given
    assert checked is not given


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00"])
def test_a_header_value_with_control_characters_is_refused_naming_the_argument_and_key(
    value: str,
) -> None:
    with pytest.raises(ValueError, match=r"extra_headers\['X-Trace'\]"):
        check_headers("extra_headers", {"X-Trace": value})


def test_a_header_value_that_is_not_a_str_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="extra_headers"):
        check_headers("extra_headers", {"X-Count": 3})


def test_a_bad_header_name_in_a_mapping_is_refused_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="extra_headers"):
        check_headers("extra_headers", {"Bad Name": "x"})


@pytest.mark.parametrize("value", [["X-A", "1"], "X-A: 1", 5])
def test_headers_that_are_not_a_mapping_are_a_type_error_naming_the_argument(
    value: object,
) -> None:
    with pytest.raises(TypeError, match="default_headers"):
        check_headers("default_headers", value)


def test_a_non_ascii_header_value_is_refused_naming_the_argument() -> None:
    # httpx can only send ASCII header values given as str; it raises a bare
    # UnicodeEncodeError at call time otherwise.
    with pytest.raises(ValueError, match="extra_headers"):
        check_headers("extra_headers", {"X-User": "José"})


@pytest.mark.parametrize("value", ["SECRETKEY ", " SECRETKEY"])
def test_an_api_key_with_surrounding_whitespace_is_refused_before_it_reaches_the_wire(
    value: str,
) -> None:
    # HTTP/1.1 (h11) refuses such a header value at send time, quoting it in the error.
    with pytest.raises(ValueError, match="api_key") as info:
        check_api_key("api_key", value)
    assert "SECRETKEY" not in str(info.value)


@pytest.mark.parametrize("url", ["http://127.evil.example", "http://127.0.0.1.nip.io"])
def test_plain_http_to_a_name_that_merely_starts_with_127_warns(url: str) -> None:
    with pytest.warns(UserWarning, match="plain http"):
        warn_if_plain_http(check_base_url("base_url", url))


@pytest.mark.parametrize("url", ["http://[0:0:0:0:0:0:0:1]:8000", "http://127.1.2.3"])
def test_plain_http_to_any_loopback_address_does_not_warn(url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_plain_http(check_base_url("base_url", url))


@pytest.mark.parametrize(
    "url", ["https://api.example.test/?token=s3cr3t", "ftp://user:s3cr3t@api.example.test"]
)
def test_a_rejected_base_url_is_not_quoted_whole(url: str) -> None:
    with pytest.raises(ValueError, match="base_url") as info:
        check_base_url("base_url", url)
    assert "s3cr3t" not in str(info.value)


# -- headers the SDK must own: framing, hop-by-hop, padded values -----------------------------

CONNECTION_HEADERS = [
    "Content-Length",
    "Transfer-Encoding",
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "TE",
    "Trailer",
    "Upgrade",
]


@pytest.mark.parametrize("header", [*CONNECTION_HEADERS, "content-length", "TRANSFER-ENCODING"])
@pytest.mark.parametrize("argument", ["extra_headers", "default_headers"])
def test_a_framing_or_hop_by_hop_header_is_refused_naming_the_argument_and_header(
    argument: str, header: str
) -> None:
    with pytest.raises(ValueError, match=argument) as info:
        check_headers(argument, {"X-Fine": "1", header: "5"})
    assert repr(header) in str(info.value)


def test_a_host_header_is_allowed() -> None:
    assert check_headers("extra_headers", {"Host": "api.example.com"}) == {
        "Host": "api.example.com"
    }


@pytest.mark.parametrize("value", [" secret", "secret ", "  ", "a b "])
@pytest.mark.parametrize("argument", ["extra_headers", "default_headers"])
def test_a_header_value_with_surrounding_spaces_is_refused_without_quoting_it(
    argument: str, value: str
) -> None:
    with pytest.raises(ValueError, match=rf"{argument}\['X-Token'\].*white space") as info:
        check_headers(argument, {"X-Token": value})
    assert "secret" not in str(info.value)


def test_spaces_inside_a_header_value_are_allowed() -> None:
    assert check_headers("extra_headers", {"X-Note": "a b"}) == {"X-Note": "a b"}


@pytest.mark.parametrize("header", CONNECTION_HEADERS)
def test_a_framing_or_hop_by_hop_api_key_header_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="api_key_header"):
        check_header_name("api_key_header", header)


# The same refusals through a client, against a real server: nothing reaches it.

BAD_HEADERS = [
    {"Content-Length": "5"},
    {"Transfer-Encoding": "chunked"},
    {"Connection": "close"},
    {"TE": "trailers"},
    {"X-Token": "padded "},
]


@pytest.mark.parametrize("headers", BAD_HEADERS, ids=lambda h: next(iter(h)))
def test_bad_extra_headers_raise_value_error_before_any_request(
    somia_server: FakeServer, headers: dict[str, str]
) -> None:
    with SomiaClient(base_url=somia_server.base_url, api_key=somia_server.api_key) as client:
        with pytest.raises(ValueError, match="extra_headers"):
            client.sessions.run(1, input_data="hi", extra_headers=headers)
        with pytest.raises(ValueError, match="extra_headers"):
            client.sessions.run(1, input_data="hi", stream=True, extra_headers=headers)

    assert somia_server.requests == []


@pytest.mark.parametrize("headers", BAD_HEADERS, ids=lambda h: next(iter(h)))
def test_bad_default_headers_raise_value_error_when_the_client_is_made(
    somia_server: FakeServer, headers: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="default_headers"):
        SomiaClient(
            base_url=somia_server.base_url, api_key=somia_server.api_key, default_headers=headers
        )

    assert somia_server.requests == []


def test_a_host_header_is_sent_as_given(somia_server: FakeServer) -> None:
    with SomiaClient(base_url=somia_server.base_url, api_key=somia_server.api_key) as client:
        answer = client.sessions.run(
            1, input_data="hi", extra_headers={"Host": "agents.example.test"}
        )

    assert answer.message == "You said: hi"
    assert somia_server.requests[0].headers["host"] == "agents.example.test"


@pytest.mark.parametrize("tail", ["?", "/?", "#", "/#"])
def test_a_base_url_with_a_bare_query_or_fragment_mark_is_refused_by_the_client(
    somia_server: FakeServer, tail: str
) -> None:
    with pytest.raises(ValueError, match="query or fragment"):
        SomiaClient(base_url=somia_server.base_url + tail, api_key=somia_server.api_key)

    assert somia_server.requests == []


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (check_agent_id, 0, "agent_id must be at least 1"),
        (check_agent_id, 2**63, "agent_id must be at most 9223372036854775807"),
        (check_session_id, "s" * 257, "session_id must have 1 to 256 characters"),
        (check_idempotency_key, "key\n", "idempotency_key must match the pattern"),
        (check_idempotency_key, "k" * 256, "idempotency_key must have 1 to 255 characters"),
    ],
)
def test_parameters_are_held_to_the_documents_schemas(
    check: Callable[[object], object], value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check(value)
