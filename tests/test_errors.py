"""somia._errors: the status map, the message of every kind of error body, the class tree."""

from __future__ import annotations

import copy
import inspect
import multiprocessing
import pickle
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx
import pytest

import somia
from somia import _errors
from somia._bridge import documented_statuses
from somia._errors import (
    AgentStreamError,
    ApiError,
    AuthError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    RequestTimeoutStatusError,
    ServerError,
    ServiceUnavailableError,
    SomiaError,
    StreamParseError,
    TransportError,
    UnprocessableEntityError,
    error_from_response,
    status_code_to_error,
    translate_transport_error,
)

STATUS_CLASSES: list[tuple[int, type[ApiError]]] = [
    (400, BadRequestError),
    (401, AuthError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (408, RequestTimeoutStatusError),
    (409, ConflictError),
    (413, PayloadTooLargeError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (503, ServiceUnavailableError),
    (504, ServiceUnavailableError),
    (500, ServerError),
    (502, ServerError),
    (520, ServerError),
    (599, ServerError),
    (418, ApiError),
]


def _response(
    status: int,
    *,
    json: object = None,
    content: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    if json is not None:
        return httpx.Response(status, json=json, headers=headers)
    return httpx.Response(status, content=content or b"", headers=headers)


# -- the status map -----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_each_error_status_maps_to_exactly_its_documented_class(
    status: int, cls: type[ApiError]
) -> None:
    assert status_code_to_error(status) is cls
    err = error_from_response(_response(status, json={"detail": "x"}))
    assert type(err) is cls
    assert err.status_code == status


def test_every_error_status_the_document_lists_has_a_class_of_its_own() -> None:
    unnamed = [
        status
        for status in sorted(documented_statuses())
        if status >= 400 and status_code_to_error(status) is ApiError
    ]
    assert unnamed == [], f"documented statuses without a named error class: {unnamed}"


def test_422_maps_to_unprocessable_entity_which_is_a_bad_request_error() -> None:
    err = error_from_response(_response(422, json={"detail": []}))
    assert isinstance(err, UnprocessableEntityError)
    assert isinstance(err, BadRequestError)


@pytest.mark.parametrize("status", [503, 504])
def test_503_and_504_are_service_unavailable_and_not_a_generic_server_error(status: int) -> None:
    err = error_from_response(_response(status))
    assert isinstance(err, ServiceUnavailableError)
    assert not isinstance(err, ServerError)


@pytest.mark.parametrize("status", [418, 451])
def test_any_other_4xx_is_a_plain_api_error(status: int) -> None:
    assert type(error_from_response(_response(status))) is ApiError


# -- messages from every kind of body -------------------------------------------------------


def test_detail_string_is_the_message_with_status_and_request_id() -> None:
    err = error_from_response(
        _response(404, json={"detail": "Agent 7 not found"}, headers={"X-Request-Id": "req-42"})
    )
    text = str(err)
    assert "404" in text
    assert "Agent 7 not found" in text
    assert "req-42" in text
    assert err.request_id == "req-42"


def test_validation_list_is_summarised_with_location_and_message() -> None:
    body = {
        "detail": [
            {"loc": ["body", "input_data", "query"], "msg": "field required", "type": "missing"},
            {"loc": ["path", "agent_id"], "msg": "must be positive", "type": "value_error"},
        ]
    }
    err = error_from_response(_response(422, json=body))
    text = str(err)
    assert "input_data.query: field required" in text
    assert "path.agent_id: must be positive" in text
    assert "[{" not in text  # a summary, not the raw list
    assert err.body == body


def test_a_long_validation_list_names_how_many_problems_were_left_out() -> None:
    body = {"detail": [{"loc": ["body", f"f{i}"], "msg": "bad"} for i in range(5)]}
    text = str(error_from_response(_response(422, json=body)))
    assert "f0: bad" in text
    assert "f4" not in text
    assert "2 more" in text


@pytest.mark.parametrize("key", ["message", "error"])
def test_message_or_error_key_is_the_message_when_there_is_no_detail(key: str) -> None:
    err = error_from_response(_response(429, json={key: "Slow down please"}))
    assert "Slow down please" in str(err)
    assert "429" in str(err)


def test_a_nested_error_object_gives_its_inner_message() -> None:
    err = error_from_response(_response(403, json={"error": {"message": "quota used up"}}))
    assert "quota used up" in str(err)


def test_empty_body_gives_the_status_and_reason_and_an_empty_body() -> None:
    err = error_from_response(_response(502))
    assert isinstance(err, ServerError)
    assert err.body == ""
    assert str(err) == "502 Bad Gateway"


def test_plain_text_body_is_quoted_in_the_message_and_kept_as_text() -> None:
    err = error_from_response(_response(503, content="upstream overloaded, try later"))
    assert isinstance(err, ServiceUnavailableError)
    assert "upstream overloaded, try later" in str(err)
    assert err.body == "upstream overloaded, try later"


def test_html_body_from_a_proxy_is_kept_but_not_dumped_into_the_message() -> None:
    html = (
        "<html>\n<head><title>502 Bad Gateway</title></head>\n"
        "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>\n"
        "</html>\n"
    )
    err = error_from_response(_response(502, content=html, headers={"Content-Type": "text/html"}))
    assert isinstance(err, ServerError)
    assert "<" not in str(err)
    assert "nginx" not in str(err)
    assert "502" in str(err)
    assert err.body == html


def test_non_utf8_body_does_not_raise_and_is_decoded_with_replacement() -> None:
    err = error_from_response(_response(500, content=b"\xff\xfe broken \xc3("))
    assert isinstance(err, ServerError)
    assert isinstance(err.body, str)
    assert "broken" in str(err)


def test_a_huge_text_body_is_cut_to_an_excerpt_in_the_message() -> None:
    err = error_from_response(_response(500, content="y" * 50_000))
    assert len(str(err)) < 300
    assert len(err.body) == 50_000


def test_a_json_body_without_a_known_key_is_shown_as_json() -> None:
    err = error_from_response(_response(400, json={"code": 17}))
    assert '"code": 17' in str(err)


def test_status_body_headers_and_request_id_are_carried() -> None:
    err = error_from_response(
        _response(
            409,
            json={"detail": "key reused"},
            headers={"X-Request-Id": "r-1", "X-Custom": "yes"},
        )
    )
    assert err.status_code == 409
    assert err.body == {"detail": "key reused"}
    assert isinstance(err.headers, httpx.Headers)
    assert err.headers["x-custom"] == "yes"
    assert err.request_id == "r-1"


def test_without_a_request_id_none_is_carried_and_the_message_does_not_mention_one() -> None:
    err = error_from_response(_response(404, json={"detail": "gone"}))
    assert err.request_id is None
    assert "request id" not in str(err)


@pytest.mark.parametrize("status", [520, 599])
def test_a_non_standard_status_without_reason_phrase_still_names_the_status(status: int) -> None:
    err = error_from_response(_response(status, json={"detail": "edge failure"}))
    assert isinstance(err, ServerError)
    assert str(err).startswith(str(status))
    assert "edge failure" in str(err)


# -- transport errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectTimeout("t"), "connect timeout"),
        (httpx.ReadTimeout("t"), "read timeout"),
        (httpx.WriteTimeout("t"), "write timeout"),
        (httpx.PoolTimeout("t"), "pool timeout"),
    ],
)
def test_httpx_timeouts_become_request_timeout_errors_naming_the_call_and_the_kind(
    exc: httpx.TimeoutException, kind: str
) -> None:
    err = translate_transport_error(exc, what="POST /api/x")
    assert type(err) is RequestTimeoutError
    assert isinstance(err, TransportError)
    assert "POST /api/x" in str(err)
    assert kind in str(err)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("reset by peer"),
    ],
)
def test_other_httpx_errors_become_transport_errors_naming_the_cause(
    exc: httpx.HTTPError,
) -> None:
    err = translate_transport_error(exc, what="POST /api/x")
    assert type(err) is TransportError
    assert "POST /api/x" in str(err)
    assert str(exc) in str(err)


# -- the class tree -------------------------------------------------------------------------


def _docstring_tree() -> dict[str, str | None]:
    """Class name -> parent class name, read from the tree drawn in the module docstring."""
    doc = _errors.__doc__
    assert doc is not None
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in doc.splitlines():
        root = re.match(r"^    (\w+)\s", line)
        node = re.match(r"^(?P<indent>[ │]*)[├└]── (?P<name>\w+)", line)
        if root and not node:
            stack = [root.group(1)]
            parents[root.group(1)] = None
        elif node:
            depth = (len(node.group("indent")) - 4) // 4 + 1
            name = node.group("name")
            del stack[depth:]
            parents[name] = stack[depth - 1]
            stack.append(name)
    return parents


def _error_classes() -> dict[str, type[SomiaError]]:
    return {
        name: cls
        for name, cls in inspect.getmembers(_errors, inspect.isclass)
        if issubclass(cls, SomiaError) and cls.__module__ == _errors.__name__
    }


def test_the_docstring_tree_names_every_error_class_of_the_module() -> None:
    tree = _docstring_tree()
    assert tree["SomiaError"] is None
    assert set(tree) == set(_error_classes())


def test_the_docstring_tree_matches_the_real_class_hierarchy() -> None:
    classes = _error_classes()
    for name, parent in _docstring_tree().items():
        cls = classes[name]
        if parent is None:
            assert cls.__bases__ == (Exception,)
        else:
            assert cls.__bases__[0] is classes[parent], f"{name} is drawn under {parent}"
            # Every ancestor drawn above the class is a real ancestor.
            assert classes[parent] in cls.__mro__


def test_every_error_class_is_exported_from_somia() -> None:
    for name, cls in _error_classes().items():
        assert getattr(somia, name) is cls
        assert name in somia.__all__
        assert name in _errors.__all__


# -- pickling and copying -------------------------------------------------------------------


def _public_error_classes() -> list[type[BaseException]]:
    """Every exception class `somia` exports, so that a new one is covered without a change."""
    exported = [getattr(somia, name) for name in somia.__all__]
    return [obj for obj in exported if isinstance(obj, type) and issubclass(obj, BaseException)]


# A value for each field an error class takes; a field not listed gets a string.
_FIELD_SAMPLES: dict[str, Any] = {
    "status_code": 404,
    "headers": {"X-Request-Id": "req-7", "Retry-After": "3"},
    "request_id": "req-7",
    "events_received": 3,
    "last_chunk": {"session_id": "s-1", "message": "Once upon"},
    "body": {"detail": "the server's body", "extra": [1, 2]},
}
_OLDER_NAMES = ("response_body", "payload", "data")  # aliases of `body`: left unset


def _sample_error(cls: type[BaseException]) -> BaseException:
    """An instance of `cls` with every field its constructor takes set to a sample value."""
    try:
        params = list(inspect.signature(cls).parameters.values())
    except ValueError:  # no __init__ of its own: Exception's, which takes the message
        return cls(f"{cls.__name__} message")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in _OLDER_NAMES:
            continue
        value = _FIELD_SAMPLES.get(param.name, f"{cls.__name__} {param.name}")
        if param.kind is param.KEYWORD_ONLY:
            kwargs[param.name] = value
        else:
            args.append(value)
    return cls(*args, **kwargs)


def _pickled(exc: BaseException) -> BaseException:
    return pickle.loads(pickle.dumps(exc))  # type: ignore[no-any-return]


def test_the_exported_error_classes_are_found() -> None:
    names = {cls.__name__ for cls in _public_error_classes()}
    assert {"SomiaError", "NotFoundError", "StreamTimeoutError", "InvalidResponseError"} <= names
    assert names == set(_error_classes())


@pytest.mark.parametrize("cls", _public_error_classes(), ids=lambda cls: cls.__name__)
@pytest.mark.parametrize(
    "duplicate",
    [_pickled, copy.copy, copy.deepcopy],
    ids=["pickle", "copy", "deepcopy"],
)
def test_every_public_error_round_trips_with_its_type_message_and_fields(
    cls: type[BaseException], duplicate: Callable[[BaseException], BaseException]
) -> None:
    original = _sample_error(cls)
    original.add_note("raised in job 3")

    twin = duplicate(original)

    assert twin is not original
    assert type(twin) is cls
    assert str(twin) == str(original)
    assert twin.args == original.args
    assert vars(twin) == vars(original)
    assert twin.__notes__ == ["raised in job 3"]


@pytest.mark.parametrize(
    ("cls", "older", "fields"),
    [
        (ApiError, "response_body", {"status_code": 418}),
        (StreamParseError, "payload", {}),
        (AgentStreamError, "data", {}),
    ],
)
def test_the_older_name_of_an_errors_body_is_the_same_attribute_stored_once(
    cls: Callable[..., SomiaError], older: str, fields: dict[str, Any]
) -> None:
    by_older_keyword = cls("m", **fields, **{older: "sent"})
    assert getattr(by_older_keyword, "body") == getattr(by_older_keyword, older) == "sent"  # noqa: B009
    error = cls("m", **fields, body="sent")
    assert getattr(error, older) == "sent"
    setattr(error, older, "redacted")
    assert getattr(error, "body") == "redacted"  # noqa: B009
    assert older not in vars(error)
    assert vars(_pickled(error)) == vars(error)


def test_an_api_error_keeps_every_field_through_pickle() -> None:
    original = error_from_response(
        _response(404, json={"detail": "Agent not found"}, headers={"X-Request-Id": "r-9"})
    )

    twin = _pickled(original)

    assert isinstance(twin, NotFoundError)
    assert str(twin) == "404 Not Found: Agent not found (request id r-9)"
    assert twin.status_code == 404
    assert twin.body == {"detail": "Agent not found"}
    assert twin.request_id == "r-9"
    assert isinstance(twin.headers, httpx.Headers)
    assert twin.headers["x-request-id"] == "r-9"


def _job(agent_id: int) -> int:
    if agent_id == 404:
        raise NotFoundError("404 Not Found", status_code=404, body={"detail": "gone"})
    return agent_id * 2


@pytest.mark.slow
def test_an_error_raised_in_a_process_pool_job_reaches_the_caller_and_spares_the_others() -> None:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_job, agent_id) for agent_id in (1, 404, 3)]
        error = futures[1].exception(timeout=20)
        results = [futures[0].result(timeout=20), futures[2].result(timeout=20)]

    assert isinstance(error, NotFoundError)
    assert (error.status_code, error.body) == (404, {"detail": "gone"})
    assert results == [2, 6]
