"""What a contract run is pointed at: the variables (named here and nowhere else), the target.

`make contract` reads them from the environment; a test builds a `Target` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import httpx

BUDGET = 20
"""Paid agent turns a run may spend (`SOMIA_CONTRACT_BUDGET`)."""
DEADLINE = 600.0
"""Seconds a run may take (`SOMIA_CONTRACT_DEADLINE`)."""
REQUEST_TIMEOUT = 120.0


class Variable(NamedTuple):
    name: str
    required: bool
    meaning: str


VARIABLES = (
    Variable("SOMIA_CONTRACT_BASE_URL", True, "the deployment's base URL"),
    Variable("SOMIA_API_KEY", True, "its API key (reports show $SOMIA_API_KEY, never the key)"),
    Variable("SOMIA_AGENT_ID", True, "an agent the key may run: point it at a test agent"),
    Variable("SOMIA_API_KEY_HEADER", False, "the key's header, when not the document's"),
    Variable(
        "SOMIA_OTHER_AGENT_ID",
        False,
        "another agent of the account: a session through it is not found, and an "
        "Idempotency-Key sent to it is another request",
    ),
    Variable("SOMIA_FORBIDDEN_AGENT_ID", False, "an agent the key may not run: provokes 403"),
    Variable("SOMIA_PIPELINE_VERSION", False, "the pipeline version the paid turns ask for"),
    Variable("SOMIA_CONTRACT_BUDGET", False, f"paid turns the run may spend ({BUDGET})"),
    Variable("SOMIA_CONTRACT_DEADLINE", False, f"seconds the run may take ({DEADLINE:g})"),
    Variable(
        "SOMIA_CONTRACT_REPORT_DIR",
        False,
        "where the run's report folder is made (contract-reports)",
    ),
)
REQUIRED = tuple(variable.name for variable in VARIABLES if variable.required)
KEY_VARIABLE = "SOMIA_API_KEY"


class SettingsError(ValueError):
    """A variable of the run is missing or malformed: a configuration error (exit 2)."""


@dataclass(frozen=True)
class Target:
    """The deployment a run tests, and how far the run may go."""

    base_url: str
    api_key: str = field(repr=False)
    agent_id: int
    api_key_header: str | None = None
    """The key's header; None: the document's apiKey scheme's."""
    other_agent_id: int | None = None
    forbidden_agent_id: int | None = None
    pipeline_version: str | int | None = None
    budget: int = BUDGET
    deadline: float = DEADLINE
    request_timeout: float = REQUEST_TIMEOUT

    def resources(self, kind: str) -> dict[str, int]:
        """The ids the target names for each resource: `kind` is "own" (the agent the key
        runs), "other" (another of the account) or "forbidden" (one the key may not run)."""
        value = {
            "own": self.agent_id,
            "other": self.other_agent_id,
            "forbidden": self.forbidden_agent_id,
        }[kind]
        return {} if value is None else {"agent": value}


def missing_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """The required variables that are not set."""
    env = os.environ if environ is None else environ
    return [name for name in REQUIRED if not env.get(name)]


def settings_help() -> str:
    """Every variable, one line each."""
    return "\n".join(
        f"  {v.name}{' (required)' if v.required else ''}: {v.meaning}" for v in VARIABLES
    )


def target_from_env(environ: Mapping[str, str] | None = None) -> Target:
    """The target the variables name; SettingsError when one is missing or malformed."""
    env = os.environ if environ is None else environ
    missing = missing_settings(env)
    if missing:
        raise SettingsError(
            f"the contract run needs {', '.join(missing)}. Its variables:\n{settings_help()}"
        )
    version = env.get("SOMIA_PIPELINE_VERSION") or None
    return Target(
        base_url=env["SOMIA_CONTRACT_BASE_URL"].rstrip("/"),
        api_key=env["SOMIA_API_KEY"],
        agent_id=_positive(env, "SOMIA_AGENT_ID"),
        api_key_header=env.get("SOMIA_API_KEY_HEADER") or None,
        other_agent_id=_positive(env, "SOMIA_OTHER_AGENT_ID", optional=True) or None,
        forbidden_agent_id=_positive(env, "SOMIA_FORBIDDEN_AGENT_ID", optional=True) or None,
        pipeline_version=int(version) if version and version.isdigit() else version,
        budget=_positive(env, "SOMIA_CONTRACT_BUDGET", optional=True) or BUDGET,
        deadline=_seconds(env, "SOMIA_CONTRACT_DEADLINE", DEADLINE),
    )


def _positive(env: Mapping[str, str], name: str, *, optional: bool = False) -> int:
    text = env.get(name, "")
    if optional and not text:
        return 0
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SettingsError(f"{name} must be a positive integer, not {text!r}")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise SettingsError(f"{name} must be a positive number of seconds, not {text!r}")
    return value


def check_reachable(target: Target) -> None:
    """SettingsError when nothing answers at the base URL (any HTTP answer will do)."""
    try:
        with httpx.Client(timeout=10.0) as client:
            client.get(target.base_url)
    except httpx.HTTPError as exc:
        raise SettingsError(
            f"SOMIA_CONTRACT_BASE_URL {target.base_url} is unreachable: {type(exc).__name__}: {exc}"
        ) from None
