"""Errors: the server's body under its one name `body`, and its older names kept as aliases
with the same type (read on an instance) or the alias itself (read on the class)."""

from __future__ import annotations

from typing import Any, assert_type

import httpx

from somia import (
    AgentStreamError,
    ApiError,
    InvalidResponseError,
    StreamInterruptedError,
    StreamParseError,
)


def an_api_error_carries_the_servers_answer(error: ApiError) -> None:
    assert_type(error.status_code, int)
    assert_type(error.body, Any)
    assert_type(error.response_body, Any)
    assert_type(error.headers, httpx.Headers)
    assert_type(error.request_id, str | None)
    error.response_body = {"detail": "x"}  # the older name writes `body`


def older_names_read_as_their_body(
    parse: StreamParseError, agent: AgentStreamError, invalid: InvalidResponseError
) -> None:
    assert_type(parse.payload, str)
    assert_type(agent.data, Any)
    assert_type(invalid.body, str)
    parse.payload = 1  # type: ignore[assignment]


def a_cut_stream_says_what_arrived(error: StreamInterruptedError) -> None:
    assert_type(error.events_received, int)
    assert_type(error.last_chunk, Any)
