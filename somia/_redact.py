"""Redaction: the API key taken out of anything a server sent, before the SDK shows it.

A server may echo the key (in an error body, a reason phrase, a header, a stream event, the
text of a protocol error). Every piece of server text the SDK puts into an exception, a log
line or a span goes through the `Redactor` of the call's client, bound once per call
(`PreparedCall.redact`), so that no function in between handles the key itself.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from somia._nesting import MAX_JSON_DEPTH, nested_deeper_than

REDACTED = "<redacted>"


class Redactor:
    """Replaces one API key with `<redacted>`; a no-op without a key."""

    __slots__ = ("_api_key",)

    def __init__(self, api_key: str | None) -> None:
        self._api_key = api_key or None

    def __repr__(self) -> str:
        return f"Redactor(api_key={REDACTED if self._api_key else None})"

    def __bool__(self) -> bool:
        return self._api_key is not None

    def found_in(self, text: str) -> bool:
        """Whether `text` holds the key."""
        return self._api_key is not None and self._api_key in text

    def text(self, text: str) -> str:
        """`text` without the key."""
        key = self._api_key
        return text.replace(key, REDACTED) if key and key in text else text

    def data(self, data: Any) -> Any:
        """Decoded JSON with the key redacted from every string in it (keys included); data
        nested deeper than a request may be (MAX_JSON_DEPTH) becomes redacted JSON text."""
        if not self._api_key:
            return data
        if nested_deeper_than(data, MAX_JSON_DEPTH):  # the same on every Python
            return self.text(json.dumps(data, ensure_ascii=False, default=str))
        return _walk(data, self._api_key)

    def headers(self, headers: httpx.Headers) -> httpx.Headers:
        """`headers`, with the key redacted from their values (the same object when none
        holds it)."""
        key = self._api_key
        if not key or not any(key in value for value in headers.values()):
            return headers
        return httpx.Headers([(name, self.text(value)) for name, value in headers.multi_items()])

    def chain(self, exc: BaseException | None) -> None:
        """Redact the key in place from `exc` and the exceptions chained to it, which a
        traceback prints with the SDK's own."""
        key = self._api_key
        if not key:
            return
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            if any(isinstance(arg, str) and key in arg for arg in exc.args):
                exc.args = tuple(self.text(a) if isinstance(a, str) else a for a in exc.args)
            exc = exc.__cause__ or exc.__context__


NO_KEY = Redactor(None)  # for answers parsed outside a call (tests, users' own responses)


def _walk(data: Any, api_key: str) -> Any:
    if isinstance(data, str):
        return data.replace(api_key, REDACTED)
    if isinstance(data, dict):
        return {_walk(k, api_key): _walk(v, api_key) for k, v in data.items()}
    if isinstance(data, list):
        return [_walk(item, api_key) for item in data]
    return data
