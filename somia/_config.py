"""Client configuration: options, environment fallbacks and the headers every call sends."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypedDict

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
    check_total_timeout,
    merge_headers,
)
from somia._version import __version__

DEFAULT_BASE_URL = "https://api.somia-platform.com"
USER_AGENT = f"somia-python/{__version__}"
RETRY_ATTEMPT_HEADER = "X-Somia-Retry-Attempt"


class ClientOptions(TypedDict, total=False):
    """The constructor's keywords that `with_options(...)` takes (all but `http_client`).

    Each means what it means in `SomiaClient(...)`; a keyword left out keeps the original
    client's value, and `default_headers` merge over the original's.
    """

    base_url: str | None
    api_key: str | None
    api_key_header: str
    timeout: float | httpx.Timeout
    total_timeout: float | None
    retries: int
    retry_backoff_seconds: float
    max_retry_after: float
    default_headers: Mapping[str, str] | None


_OPTION_NAMES = frozenset(ClientOptions.__annotations__)


@attrs.frozen(repr=False)
class ClientConfig:
    """Checked options of a client. The key is kept out of every repr."""

    base_url: str
    api_key: str = attrs.field(repr=False)
    api_key_header: str
    timeout: httpx.Timeout
    retry: RetryPolicy
    headers: dict[str, str] = attrs.field(repr=False)  # sent with every call; holds the key
    total_timeout: float | None = None
    default_headers: dict[str, str] = attrs.field(factory=dict, repr=False)

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
        max_retry_after: float,
        default_headers: Mapping[str, str] | None,
        total_timeout: float | None = None,
    ) -> ClientConfig:
        """Check every option (environment fallbacks applied) or raise TypeError/ValueError."""
        url = check_base_url(base_url or os.environ.get("SOMIA_BASE_URL") or DEFAULT_BASE_URL)
        return cls._checked(
            url,
            api_key=api_key,
            api_key_header=api_key_header,
            timeout=timeout,
            total_timeout=total_timeout,
            retries=retries,
            retry_backoff_seconds=retry_backoff_seconds,
            max_retry_after=max_retry_after,
            default_headers=default_headers,
        )

    @classmethod
    def _checked(
        cls,
        url: str,
        *,
        api_key: str | None,
        api_key_header: str,
        timeout: float | httpx.Timeout,
        total_timeout: float | None,
        retries: int,
        retry_backoff_seconds: float,
        max_retry_after: float,
        default_headers: Mapping[str, str] | None,
    ) -> ClientConfig:
        key = check_api_key(api_key if api_key is not None else os.environ.get("SOMIA_API_KEY"))
        header = check_header_name("api_key_header", api_key_header)
        check_non_negative("retries", retries, int)
        check_non_negative("retry_backoff_seconds", retry_backoff_seconds, float)
        check_non_negative("max_retry_after", max_retry_after, float)
        extra = check_headers("default_headers", default_headers)
        headers = merge_headers(
            {"User-Agent": USER_AGENT, "Accept": "application/json"}, extra, {header: key}
        )
        return cls(
            base_url=url,
            api_key=key,
            api_key_header=header,
            timeout=check_timeout("timeout", timeout),
            retry=RetryPolicy(
                retries=retries,
                backoff=float(retry_backoff_seconds),
                max_retry_after=float(max_retry_after),
            ),
            headers=headers,
            total_timeout=check_total_timeout("total_timeout", total_timeout),
            default_headers=extra,
        )

    def replace(self, changes: Mapping[str, Any]) -> ClientConfig:
        """This configuration with the constructor options in `changes` given anew, checked
        as the constructor checks them; `default_headers` merge over the current ones."""
        unknown = sorted(set(changes) - _OPTION_NAMES)
        if unknown:
            raise TypeError(f"with_options() got an unexpected keyword argument {unknown[0]!r}")
        if "base_url" in changes:
            base_url = changes["base_url"]
            url = check_base_url(base_url or os.environ.get("SOMIA_BASE_URL") or DEFAULT_BASE_URL)
        else:  # already checked (and warned about): not again
            url = self.base_url
        headers = self.default_headers
        if "default_headers" in changes:
            added = check_headers("default_headers", changes["default_headers"])
            headers = merge_headers(self.default_headers, added)
        return self._checked(
            url,
            api_key=changes.get("api_key", self.api_key),
            api_key_header=changes.get("api_key_header", self.api_key_header),
            timeout=changes.get("timeout", self.timeout),
            total_timeout=changes.get("total_timeout", self.total_timeout),
            retries=changes.get("retries", self.retry.retries),
            retry_backoff_seconds=changes.get("retry_backoff_seconds", self.retry.backoff),
            max_retry_after=changes.get("max_retry_after", self.retry.max_retry_after),
            default_headers=headers,
        )

    def describe(self, owner: Any) -> str:
        """The repr of the client that owns this configuration: no key in it."""
        return (
            f"{type(owner).__name__}(base_url={self.base_url!r}, "
            f"api_key_header={self.api_key_header!r}, api_key=<redacted>)"
        )
