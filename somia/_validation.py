"""Argument checks that run before any request, each naming the argument it rejects."""

from __future__ import annotations

import ipaddress
import math
import sys
import warnings
from collections.abc import Mapping
from typing import Literal

import httpx

from somia._bridge import check_parameter
from somia._http import as_timeout


def _has_control_characters(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def check_agent_id(agent_id: object) -> int:
    """`agent_id` as an int within the document's bounds; bool, float and str are refused."""
    if isinstance(agent_id, bool) or not isinstance(agent_id, int):
        raise TypeError(f"agent_id must be an int, not {type(agent_id).__name__}")
    checked: int = check_parameter("agent_id", agent_id)
    return checked


def check_session_id(session_id: object) -> str:
    """`session_id` as a non-blank str that can only ever be one path segment."""
    if not isinstance(session_id, str):
        raise TypeError(f"session_id must be a str, not {type(session_id).__name__}")
    if not session_id.strip():
        raise ValueError("session_id must not be blank")
    # Percent-encoding keeps "/" and "?" inside the segment, but "." and ".." would still be
    # read as path steps by URL normalisation.
    if session_id in {".", ".."}:
        raise ValueError(f"session_id must not be {session_id!r}")
    checked: str = check_parameter("session_id", session_id)  # the document's lengths
    return checked


# The longest timeout of any kind the SDK accepts: 2,000,000 s (about 23 days), below 2**31
# milliseconds, the limit of 32-bit millisecond waits (Windows, poll), and far below the limits
# of sockets (about 292 years, OverflowError past them) and threads: no wait the SDK hands to
# httpx, httpcore, asyncio or the watchdog can overflow. Longer is no limit: say None.
MAX_TIMEOUT = 2_000_000.0
_SECONDS = f"a number of seconds above 0 and at most {MAX_TIMEOUT:.0f}"


def _seconds(name: str, value: object, *, more: str = "") -> float:
    """A number of seconds within (0, MAX_TIMEOUT]: TypeError for anything but an int or
    float (bool and str included), ValueError for a number out of range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be {_SECONDS}{more}, not {type(value).__name__} {value!r}")
    if not (0 < value <= MAX_TIMEOUT):  # NaN fails both comparisons
        raise ValueError(f"{name} must be {_SECONDS}{more}, not {value!r}")
    return float(value)


def check_timeout(name: str, timeout: object) -> httpx.Timeout:
    """A number of seconds, or an httpx (or httpx2) Timeout whose phases are each such a
    number or None (no limit), as an httpx.Timeout."""
    given = None if isinstance(timeout, int | float) else as_timeout(timeout)
    if given is None:
        return httpx.Timeout(_seconds(name, timeout, more=", or an httpx.Timeout"))
    for phase in ("connect", "read", "write", "pool"):
        value = getattr(given, phase)
        if value is not None:
            _seconds(f"{name}.{phase}", value, more=", or None")
    return given


def check_total_timeout(name: str, value: object) -> float | None:
    """None (no limit) or a number of seconds (see `MAX_TIMEOUT`)."""
    return None if value is None else _seconds(name, value, more=", or None")


def check_idle_timeout(name: str, value: object) -> float | Literal["read"] | None:
    """A stream idle timeout: "read" (the read timeout), None (none), or a number of seconds
    (see `MAX_TIMEOUT`). A str other than "read" is of the wrong type, as "5" is for the other
    timeouts."""
    if value is None:
        return None
    if value == "read" and isinstance(value, str):
        return "read"
    return _seconds(name, value, more=', "read", or None')


def check_count(name: str, value: object) -> int:
    """A non-negative int."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a non-negative int, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, not {value!r}")
    return value


def check_seconds(name: str, value: object) -> float:
    """A finite, non-negative number of seconds, as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a non-negative float, not {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative float, not {value!r}")
    return float(value)


def check_api_key(name: str, api_key: object) -> str:
    """A non-empty key that cannot inject headers. The key never appears in a message."""
    if api_key is None:
        raise ValueError("api_key is required: pass api_key=... or set SOMIA_API_KEY")
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, not {type(api_key).__name__}")
    if not api_key.strip():
        raise ValueError("api_key must not be empty")
    if api_key != api_key.strip():
        # HTTP/1.1 refuses such a header value at send time, quoting it in its error.
        raise ValueError("api_key must not start or end with white space")
    if _has_control_characters(api_key) or not api_key.isascii():
        raise ValueError("api_key must be printable ASCII without control characters")
    return api_key


# Headers that frame the message or describe one connection (RFC 9112 and 9110 section 7.6.1):
# httpx sets them itself, and a second framing header makes the request ambiguous. Host is
# left to the caller: routing through an address has legitimate uses.
_CONNECTION_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def check_header_name(name: str, value: object) -> str:
    """An HTTP header name (an RFC 9110 token) other than a framing or hop-by-hop header."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    token_chars = "!#$%&'*+-.^_`|~"
    if not value or not all(ch.isascii() and (ch.isalnum() or ch in token_chars) for ch in value):
        raise ValueError(f"{name} must be an HTTP header name, not {value!r}")
    if value.lower() in _CONNECTION_HEADERS:
        raise ValueError(
            f"{name} must not be {value!r}: the SDK frames each request and manages "
            "its connections itself"
        )
    return value


def check_idempotency_key(key: object) -> str:
    """A key the document's `Idempotency-Key` parameter allows."""
    if not isinstance(key, str):
        raise TypeError(f"idempotency_key must be a str, not {type(key).__name__}")
    checked: str = check_parameter("idempotency_key", key)
    return checked


def check_headers(name: str, headers: object) -> dict[str, str]:
    """A mapping of header names to values without control characters or surrounding spaces.

    Framing and hop-by-hop headers (Content-Length, Transfer-Encoding, Connection, ...) are
    refused. Values are never quoted: one may be a credential.
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"{name} must be a mapping of str to str, not {type(headers).__name__}")
    checked: dict[str, str] = {}
    for key, value in headers.items():
        check_header_name(f"{name} key", key)
        if not isinstance(value, str):
            raise TypeError(f"{name}[{key!r}] must be a str, not {type(value).__name__}")
        if _has_control_characters(value) or not value.isascii():
            raise ValueError(f"{name}[{key!r}] must be printable ASCII")
        if value != value.strip():
            # HTTP/1.1 refuses such a value at send time, as a failure to send.
            raise ValueError(f"{name}[{key!r}] must not start or end with white space")
        checked[key] = value
    return checked


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Header layers merged by case-insensitive name; a later layer replaces an earlier one."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for key, value in layer.items():
            merged[key.lower()] = (key, value)
    return dict(merged.values())


def _stacklevel_outside_somia() -> int:
    # The warning should point at the user's line, however deep in somia it was raised.
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("somia"):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address: 127.example.com is not loopback
        return False


def check_base_url(name: str, base_url: object) -> str:
    """An http(s) URL with a host, without a trailing slash.

    Messages quote only the scheme and host: a query or user part may hold a secret.
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, not {type(base_url).__name__}")
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError("base_url is not a valid URL") from exc
    shown = f"{url.scheme}://{url.host}" if url.scheme else "a URL without a scheme"
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError(f"base_url must be an http(s) URL with a host, not {shown}")
    # A bare "?" or "#" parses as an empty query or fragment, yet the paths appended to the
    # base URL would land in it.
    if url.query or url.fragment or "?" in base_url or "#" in base_url:
        raise ValueError(f"base_url must not have a query or fragment ({shown})")
    if url.userinfo:
        raise ValueError("base_url must not carry credentials; pass api_key instead")
    return str(url).rstrip("/")


def warn_if_plain_http(base_url: str) -> None:
    """Warn when a checked base URL is plain http to a host other than this machine."""
    url = httpx.URL(base_url)
    if url.scheme == "http" and not _is_loopback(url.host):
        warnings.warn(
            f"base_url http://{url.host} is plain http to a remote host: the API key would "
            "travel unencrypted. Use https.",
            stacklevel=_stacklevel_outside_somia(),
        )
