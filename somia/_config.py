"""Client configuration: options, environment fallbacks and the headers every call sends."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from somia._retry import RetryPolicy
from somia._validation import (
    check_api_key,
    check_base_url,
    check_header_name,
    check_headers,
    check_non_negative,
    check_timeout,
    merge_headers,
)
from somia._version import __version__

DEFAULT_BASE_URL = "https://api.somia-platform.com"
USER_AGENT = f"somia-python/{__version__}"
RETRY_ATTEMPT_HEADER = "X-Somia-Retry-Attempt"


@attrs.frozen(repr=False)
class ClientConfig:
    """Checked options of a client. The key is kept out of every repr."""

    base_url: str
    api_key: str = attrs.field(repr=False)
    api_key_header: str
    timeout: httpx.Timeout
    retry: RetryPolicy
    headers: dict[str, str] = attrs.field(repr=False)

    @classmethod
    def create(
        cls,
        *,
        base_url: str | None,
        api_key: str | None,
        api_key_header: str,
        timeout: float | httpx.Timeout,
        retries: int,
        retry_backoff_seconds: float,
        max_retry_delay: float,
        default_headers: Mapping[str, str] | None,
    ) -> ClientConfig:
        """Check every option (environment fallbacks applied) or raise TypeError/ValueError."""
        url = check_base_url(base_url or os.environ.get("SOMIA_BASE_URL") or DEFAULT_BASE_URL)
        key = check_api_key(api_key if api_key is not None else os.environ.get("SOMIA_API_KEY"))
        header = check_header_name("api_key_header", api_key_header)
        check_non_negative("retries", retries, int)
        check_non_negative("retry_backoff_seconds", retry_backoff_seconds, float)
        check_non_negative("max_retry_delay", max_retry_delay, float)
        headers = merge_headers(
            {"User-Agent": USER_AGENT, "Accept": "application/json"},
            check_headers("default_headers", default_headers),
            {header: key},
        )
        return cls(
            base_url=url,
            api_key=key,
            api_key_header=header,
            timeout=check_timeout("timeout", timeout),
            retry=RetryPolicy(
                retries=retries,
                backoff=float(retry_backoff_seconds),
                max_retry_after=float(max_retry_delay),
            ),
            headers=headers,
        )

    def describe(self, owner: Any) -> str:
        """The repr of the client that owns this configuration: no key in it."""
        return (
            f"{type(owner).__name__}(base_url={self.base_url!r}, "
            f"api_key_header={self.api_key_header!r}, api_key=<redacted>)"
        )
