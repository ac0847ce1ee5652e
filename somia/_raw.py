"""`client.request(...)`: an operation the SDK does not curate yet, with the client's rules.

The call is checked and prepared here, then sent by the client's one send loop, so it gets
the client's key, headers, timeouts, retries, error classes and streams. Only a path
relative to the base URL is accepted: an absolute URL would carry the key to another host.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from somia._base import (
    ACCEPT_STREAM,
    PreparedCall,
    call_timeouts,
    extra_headers,
    idempotency_key,
)
from somia._bridge import encode_json, idempotency_header
from somia._config import ClientConfig
from somia._errors import InvalidResponseError
from somia._nesting import check_nesting
from somia._redact import Redactor
from somia._validation import (
    check_header_name,
    merge_headers,
)

_KEYED = frozenset({"POST", "PUT", "PATCH"})  # methods that may run a paid turn


def check_path(path: object) -> str:
    """A path relative to the base URL ("/api/..."), with an optional query."""
    if not isinstance(path, str):
        raise TypeError(f"path must be a str, not {type(path).__name__}")
    if not path.startswith("/") or path.startswith("//") or "#" in path:
        raise ValueError(
            "path must be relative to the base URL and start with one '/' (no scheme, host "
            "or fragment: the API key must not go to another address)"
        )
    try:
        url = httpx.URL(path)
    except httpx.InvalidURL as exc:
        raise ValueError("path is not a valid URL path") from exc
    if url.is_absolute_url or url.host:
        raise ValueError("path must be relative to the base URL")
    return path


def prepare_request(
    config: ClientConfig,
    method: object,
    path: object,
    *,
    body: object,
    stream: bool,
    options: Mapping[str, Any],
    base_headers: dict[str, str],
) -> PreparedCall:
    """Check and encode a call of `method` on `path`; TypeError/ValueError before any I/O."""
    verb = check_header_name("method", method).upper()  # a method is a token too
    relative = check_path(path)
    layers: list[Mapping[str, str]] = [base_headers]
    content = b""
    if body is not None:
        check_nesting(body, "json")
        content = encode_json(body, "json")
        layers.append({"Content-Type": "application/json"})
    if verb in _KEYED:  # retried with the same key: a server that honours it runs it once
        layers.append({idempotency_header(): idempotency_key(options)})
    if stream:
        layers.append(ACCEPT_STREAM)
    layers.append(extra_headers(config, options))
    timeout, total_timeout, idle_timeout = call_timeouts(config, options, stream=stream)
    return PreparedCall(
        config=config,
        url=config.base_url + relative,
        headers=merge_headers(*layers),
        content=content,
        timeout=timeout,
        total_timeout=total_timeout,
        stream=stream,
        what=f"{verb} {relative.partition('?')[0]}",  # a query may hold a secret
        method=verb,
        parse=json_from_response,
        idle_timeout=idle_timeout,
    )


def json_from_response(response: httpx.Response, redact: Redactor) -> Any:
    """The decoded JSON of a read 2xx answer (None for an empty body)."""
    content = response.content
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise InvalidResponseError(
            f"the server's {response.status_code} answer is not JSON",
            status_code=response.status_code,
            body=redact.text(content.decode("utf-8", errors="replace")),
        ) from exc
