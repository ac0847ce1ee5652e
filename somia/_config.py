"""The client's options, declared once: names, defaults, checks, environment variables and
command-line flags.

`ClientConfig` is the declaration. From it come the checked configuration of a client (its
constructor and `with_options`), the `somia` command's connection flags, and the table of
docs/configuration.md (a test renders it and compares). The constructor's explicit keyword
signature and `ClientOptions` are written out for type checkers and IDEs; a test holds them
to this declaration, name by name, default by default.

Adding an option: a field here, its keyword (and docstring line) in `BaseClient.__init__`,
its key in `ClientOptions`; the tests say what is missing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple, TypedDict

import attrs
import httpx

from somia._bridge import API_KEY_HEADER
from somia._http import AnyTimeout
from somia._pool import SDK_HEADERS
from somia._redact import Redactor
from somia._retry import RetryPolicy
from somia._validation import (
    MAX_TIMEOUT,
    check_api_key,
    check_base_url,
    check_count,
    check_header_name,
    check_headers,
    check_idle_timeout,
    check_seconds,
    check_timeout,
    check_total_timeout,
    merge_headers,
    warn_if_plain_http,
)

DEFAULT_BASE_URL = "https://api.somia-platform.com"
RETRY_ATTEMPT_HEADER = "X-Somia-Retry-Attempt"


class ClientOptions(TypedDict, total=False):
    """The constructor's keywords that `with_options(...)` takes (all but `http_client`).

    Each means what it means in `SomiaClient(...)`; a keyword left out keeps the original
    client's value, `default_headers` merge over the original's by name, and None for an
    option read from the environment reads it again.
    """

    base_url: str | None
    api_key: str | None
    api_key_header: str | None
    timeout: float | AnyTimeout
    total_timeout: float | None
    stream_idle_timeout: float | Literal["read"] | None
    retries: int
    retry_backoff_seconds: float
    max_retry_after: float
    default_headers: Mapping[str, str] | None


def positive_seconds(text: str) -> float:
    """A command-line number of seconds: above 0 and at most `MAX_TIMEOUT`."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value <= MAX_TIMEOUT):  # NaN fails both
        raise ValueError(f"not a positive number of seconds, at most {MAX_TIMEOUT:.0f}: {text!r}")
    return value


class Flag(NamedTuple):
    """An option's command-line flag: its names (the first is its name, the others aliases),
    a help line, a metavar and the function that reads its text (ValueError when it cannot)."""

    names: tuple[str, ...]
    help: str
    metavar: str | None = None
    parse: Callable[[str], Any] = str


class Option(NamedTuple):
    """What the declaration says of one option besides its default and check."""

    check: Callable[[str, Any], Any]  # (name, value) -> checked value; TypeError/ValueError
    env: str | None = None  # read when the option is None
    fallback: Any = None  # when the variable is unset too
    flag: Flag | None = None  # on the `somia` command line
    hidden: bool = False  # kept out of every repr
    default_text: str | None = None  # the default in words, where its value does not say it


def declare(check: Callable[[str, Any], Any], **more: Any) -> dict[str, Option]:
    """The metadata of an option's field: its `Option`."""
    return {"option": Option(check, **more)}


def _bind_names(cls: type, fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    # Each check is the converter of its field, told the field's name for its messages.
    return [
        field.evolve(
            converter=functools.partial(option_of(field).check, field.name),
            repr=not option_of(field).hidden,
        )
        for field in fields
    ]


def option_of(field: attrs.Attribute[Any]) -> Option:
    """The declaration of one field of `ClientConfig`."""
    option: Option = field.metadata["option"]
    return option


@attrs.frozen(kw_only=True, slots=False, field_transformer=_bind_names)
class ClientConfig:
    """The checked options of a client; derived state (headers, retry policy, redaction)
    is computed from them once, on first use. The key is kept out of every repr."""

    base_url: str = attrs.field(
        default=None,
        metadata=declare(
            check_base_url,
            env="SOMIA_BASE_URL",
            fallback=DEFAULT_BASE_URL,
            flag=Flag(("--base-url",), "API base URL"),
        ),
    )
    api_key: str = attrs.field(
        default=None,
        metadata=declare(
            check_api_key,
            env="SOMIA_API_KEY",
            hidden=True,
            flag=Flag(("--api-key",), "API key (prefer the variable: arguments show in ps)"),
        ),
    )
    api_key_header: str = attrs.field(
        default=None,
        metadata=declare(
            check_header_name,
            env="SOMIA_API_KEY_HEADER",
            fallback=API_KEY_HEADER,
            flag=Flag(("--api-key-header", "--header-name"), "header that carries the key", "H"),
        ),
    )
    timeout: httpx.Timeout = attrs.field(  # type: ignore[assignment]  # checked into one
        default=60.0,
        metadata=declare(
            check_timeout,
            flag=Flag(
                ("--timeout",),
                "seconds to wait to connect, and for each read of the answer",
                "S",
                positive_seconds,
            ),
        ),
    )
    total_timeout: float | None = attrs.field(
        default=None,
        metadata=declare(
            check_total_timeout,
            flag=Flag(
                ("--total-timeout",),
                "seconds for the whole turn, retries included; a streamed answer only has to "
                "start within them",
                "S",
                positive_seconds,
            ),
        ),
    )
    stream_idle_timeout: float | Literal["read"] | None = attrs.field(
        default="read",
        metadata=declare(
            check_idle_timeout,
            default_text="the read timeout",
            flag=Flag(
                ("--idle-timeout",),
                "seconds a streamed answer may go without an event of the answer (keep-alives "
                "and events of other kinds do not count)",
                "S",
                positive_seconds,
            ),
        ),
    )
    retries: int = attrs.field(default=2, metadata=declare(check_count))
    retry_backoff_seconds: float = attrs.field(default=0.5, metadata=declare(check_seconds))
    max_retry_after: float = attrs.field(default=60.0, metadata=declare(check_seconds))
    default_headers: dict[str, str] = attrs.field(
        default=None, metadata=declare(check_headers, hidden=True)
    )

    @classmethod
    def create(cls, given: Mapping[str, Any]) -> ClientConfig:
        """The configuration of a new client from its constructor's keywords (every option
        in `given`; other keys are ignored): TypeError or ValueError when one is bad."""
        options = with_environment({name: given[name] for name in OPTION_NAMES})
        config = cls(**options)
        warn_if_plain_http(config.base_url)
        return config

    def replace(self, changes: Mapping[str, Any]) -> ClientConfig:
        """This configuration with the options in `changes` given anew (`with_options`)."""
        unknown = sorted(set(changes) - OPTION_NAMES)
        if unknown:
            raise TypeError(f"with_options() got an unexpected keyword argument {unknown[0]!r}")
        options = with_environment(changes)
        if "default_headers" in options:
            added = check_headers("default_headers", options["default_headers"])
            options["default_headers"] = merge_headers(self.default_headers, added)
        config = attrs.evolve(self, **options)
        if "base_url" in options:  # a kept one was warned about already
            warn_if_plain_http(config.base_url)
        return config

    @functools.cached_property
    def headers(self) -> dict[str, str]:
        """The headers every call sends: the SDK's, `default_headers`, then the key."""
        return merge_headers(SDK_HEADERS, self.default_headers, {self.api_key_header: self.api_key})

    @functools.cached_property
    def retry(self) -> RetryPolicy:
        """The retry policy these options make."""
        return RetryPolicy(
            retries=self.retries,
            backoff=self.retry_backoff_seconds,
            max_retry_after=self.max_retry_after,
        )

    @functools.cached_property
    def redact(self) -> Redactor:
        """Takes this configuration's key out of server text."""
        return Redactor(self.api_key)

    def describe(self, owner: object) -> str:
        """The repr of the client that owns this configuration: no key in it."""
        return (
            f"{type(owner).__name__}(base_url={self.base_url!r}, "
            f"api_key_header={self.api_key_header!r}, api_key=<redacted>)"
        )


OPTIONS: tuple[attrs.Attribute[Any], ...] = tuple(attrs.fields(ClientConfig))
OPTION_NAMES = frozenset(field.name for field in OPTIONS)
CONNECTION_FLAGS = tuple(field for field in OPTIONS if option_of(field).flag is not None)


def describe_default(field: attrs.Attribute[Any]) -> str:
    """An option's default in words: its variable and fallback, or its value."""
    option = option_of(field)
    if option.default_text:
        return option.default_text
    if option.env:
        fallback = "" if option.fallback is None else f", else {option.fallback}"
        return f"${option.env}{fallback}"
    if field.default is None:
        return "none"
    return f"{field.default:g}" if isinstance(field.default, float) else str(field.default)


def with_environment(
    options: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> dict[str, Any]:
    """`options` with each one that is None and has an environment variable read from it
    (an empty variable counts as unset), else from its fallback.

    The one place the SDK and the `somia` command read `SOMIA_BASE_URL`, `SOMIA_API_KEY` and
    `SOMIA_API_KEY_HEADER`.
    """
    resolved = dict(options)
    for field in OPTIONS:
        option = option_of(field)
        if option.env and field.name in resolved and resolved[field.name] is None:
            resolved[field.name] = environ.get(option.env) or option.fallback
    return resolved
