"""The bookkeeping of a live contract run: its target, its turn budget and deadline, its report.

Every request of the run goes through `Ledger.send`: it refuses to send once the paid turns
reach the budget or the deadline has passed (raising `StopRun`), and counts what was sent.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from schemathesis import Case, Response

ENV_BASE_URL = "SOMIA_CONTRACT_BASE_URL"
ENV_API_KEY = "SOMIA_API_KEY"
ENV_AGENT_ID = "SOMIA_AGENT_ID"
REQUIRED_ENV = (ENV_BASE_URL, ENV_API_KEY, ENV_AGENT_ID)

TURN_BUDGET = 15
"""Paid agent turns a run may spend; an honest deployment spends at most `HONEST_TURNS`."""
DEFAULT_DEADLINE = 600.0
REQUEST_TIMEOUT = 120.0
WRONG_API_KEY = "sk-somia-contract-wrong-key"

# Headers the HTTP library adds by itself: a reproduction command leaves them out.
_TRANSPORT_HEADERS = {
    "user-agent",
    "accept-encoding",
    "accept",
    "connection",
    "content-length",
    "x-schemathesis-testcaseid",
}


class SettingsError(ValueError):
    """A variable of the live run is missing or malformed."""


@dataclass(frozen=True)
class Target:
    """The deployment a run tests, and how far the run may go."""

    base_url: str
    api_key: str = field(repr=False)
    agent_id: int
    api_key_header: str = "x-api-key"
    other_agent_id: int | None = None
    """An existing agent of the account: the cross-agent check is weak without it."""
    pipeline_version: str | int | None = None
    budget: int = TURN_BUDGET
    deadline: float = DEFAULT_DEADLINE
    """Seconds the whole run may take."""
    request_timeout: float = REQUEST_TIMEOUT


def missing_settings(environ: dict[str, str] | None = None) -> list[str]:
    """The required variables that are not set."""
    env = os.environ if environ is None else environ
    return [name for name in REQUIRED_ENV if not env.get(name)]


def missing_settings_line(missing: list[str]) -> str:
    """One line saying what to set."""
    return (
        f"the live contract run needs {', '.join(missing)}: set {ENV_BASE_URL} (the deployment's "
        f"base URL), {ENV_API_KEY} (its API key) and {ENV_AGENT_ID} (an agent the key may run); "
        "optional: SOMIA_API_KEY_HEADER, SOMIA_OTHER_AGENT_ID, SOMIA_PIPELINE_VERSION, "
        "SOMIA_CONTRACT_DEADLINE"
    )


def target_from_env(environ: dict[str, str] | None = None) -> Target:
    """The target the variables name; SettingsError when one is missing or malformed."""
    env = dict(os.environ if environ is None else environ)
    missing = missing_settings(env)
    if missing:
        raise SettingsError(missing_settings_line(missing))
    version = env.get("SOMIA_PIPELINE_VERSION") or None
    return Target(
        base_url=env[ENV_BASE_URL].rstrip("/"),
        api_key=env[ENV_API_KEY],
        agent_id=_agent_id(env, ENV_AGENT_ID),
        api_key_header=env.get("SOMIA_API_KEY_HEADER") or "x-api-key",
        other_agent_id=_agent_id(env, "SOMIA_OTHER_AGENT_ID")
        if env.get("SOMIA_OTHER_AGENT_ID")
        else None,
        pipeline_version=int(version) if version and version.isdigit() else version,
        deadline=_seconds(env, "SOMIA_CONTRACT_DEADLINE", DEFAULT_DEADLINE),
    )


def _agent_id(env: dict[str, str], name: str) -> int:
    text = env[name]
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SettingsError(f"{name} must be a positive integer, not {text!r}")
    return int(text)


def _seconds(env: dict[str, str], name: str, default: float) -> float:
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


class StopRun(BaseException):
    """The run must stop now (budget or deadline). A BaseException, so that Hypothesis and
    schemathesis let it through instead of reporting it as a failing example."""

    def __init__(self, check: str, line: str) -> None:
        super().__init__(line)
        self.check = check
        self.line = line


@dataclass
class Finding:
    """One broken promise: a short line, then the detail."""

    check: str
    promise: str
    request: str
    expected: str
    got: str
    detail: str = ""
    reproduce: str = ""
    cause: tuple[str, ...] = ()
    """What makes two findings the same failure (default: check, request, expected, got)."""
    repeats: int = 0

    @property
    def line(self) -> str:
        more = f" (and {self.repeats} more like it)" if self.repeats else ""
        return (
            f"FAIL [{self.check}] {self.promise}: {self.request}: "
            f"expected {self.expected}, got {self.got}{more}"
        )


@dataclass
class Exchange:
    """A request the run sent and what came back (`response` None: no answer)."""

    case: Case[Any]
    response: Response | None
    error: BaseException | None = None
    prepared: requests.PreparedRequest | None = None

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status_code

    @property
    def request_line(self) -> str:
        return f"{self.case.method.upper()} {self.case.formatted_path}"

    def got(self) -> str:
        """The answer in a few words: status and the start of the body."""
        if self.response is None:
            return f"no answer ({type(self.error).__name__}: {self.error})"
        text = self.response.content[:120].decode("utf-8", errors="replace")
        return f"{self.response.status_code} {text!r}" if text else str(self.response.status_code)


def ran_a_turn(status: int | None) -> bool:
    """Whether an answer (None: none came) may have run the agent: 2xx, and 5xx but 503."""
    if status is None:
        return True
    return 200 <= status < 300 or (status >= 500 and status != 503)


class Ledger:
    """Sends every request of a run, within its budget of paid turns and its deadline."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.started = time.monotonic()
        self.requests_sent = 0
        self.turns_spent = 0
        self.session = requests.Session()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def send(self, case: Case[Any], *, key: str = "valid") -> Exchange:
        """Send `case` with the valid key, a wrong one ("wrong") or none ("none").

        Any request could start a turn on a broken server, so each one reserves a turn: none
        is sent once the turns spent reach the budget. The reservation is kept when the
        answer may have run the agent.
        """
        left = self.target.deadline - self.elapsed
        if left <= 0:
            raise StopRun(
                "deadline",
                f"the run's deadline of {self.target.deadline:g} s passed after "
                f"{self.requests_sent} requests (SOMIA_CONTRACT_DEADLINE sets it)",
            )
        if self.turns_spent >= self.target.budget:
            raise StopRun(
                "budget",
                f"the budget of {self.target.budget} paid turns is spent after "
                f"{self.requests_sent} requests: the deployment ran turns where the document "
                "promises none (see the failures above); nothing more was sent",
            )
        headers = {} if key == "none" else {self.target.api_key_header: self._key(key)}
        for name in list(case.headers or {}):
            if name.lower() == self.target.api_key_header.lower():
                del case.headers[name]
        extra: dict[str, Any] = {}
        if isinstance(case.body, dict | list):
            # As the SDK sends it: UTF-8, not \u escapes (schemathesis' serializer escapes).
            extra["data"] = _utf8_json(case.body)
            headers["Content-Type"] = "application/json"
        self.requests_sent += 1
        try:
            response = case.call(
                base_url=self.target.base_url,
                session=self.session,
                headers=headers,
                timeout=min(self.target.request_timeout, left),
                **extra,
            )
        except requests.RequestException as exc:
            self.turns_spent += 1
            prepared = exc.request if isinstance(exc.request, requests.PreparedRequest) else None
            return Exchange(case, None, exc, prepared)
        if ran_a_turn(response.status_code):
            self.turns_spent += 1
        return Exchange(case, response, None, response.request)

    def refund(self) -> None:
        """Give back the turn of an answer known to have run nothing (a replay)."""
        self.turns_spent -= 1

    def _key(self, key: str) -> str:
        return self.target.api_key if key == "valid" else WRONG_API_KEY

    def reproduce(self, exchange: Exchange) -> str:
        """A curl command that sends the same request; the key is `$SOMIA_API_KEY`."""
        prepared = exchange.prepared
        if prepared is None:
            return ""
        parts = ["curl", "-sS", "-i", "-X", str(prepared.method), shlex.quote(str(prepared.url))]
        for name, raw in prepared.headers.items():
            value = raw.decode("latin-1") if isinstance(raw, bytes) else raw
            if name.lower() in _TRANSPORT_HEADERS:
                continue
            if name.lower() == self.target.api_key_header.lower() and value == self.target.api_key:
                parts += ["-H", f'"{name}: ${ENV_API_KEY}"']
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        body = prepared.body
        if body:
            text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
            parts += ["--data-binary", shlex.quote(text)]
        return " ".join(parts)


@dataclass
class Report:
    """What a run found, and what it cost."""

    target: Target
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks_run: list[str] = field(default_factory=list)
    stopped: StopRun | None = None
    requests_sent: int = 0
    turns_spent: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.findings and self.stopped is None

    def add(self, finding: Finding) -> None:
        """Record `finding`, or count it as a repeat of one with the same cause."""
        if not finding.cause:
            finding.cause = (finding.check, finding.request, finding.expected, finding.got)
        for known in self.findings:
            if known.cause == finding.cause:
                known.repeats += 1
                return
        self.findings.append(finding)

    def failed_checks(self) -> set[str]:
        """The names of the checks that failed (the budget and deadline included)."""
        names = {finding.check for finding in self.findings}
        if self.stopped is not None:
            names.add(self.stopped.check)
        return names

    def summary(self) -> str:
        return (
            f"{self.turns_spent} of {self.target.budget} paid turns spent, "
            f"{self.requests_sent} requests sent, {self.seconds:.1f} s"
        )

    def render(self) -> str:
        """Short lines first (one per failure), notes, the detail of each failure, the cost."""
        head = (
            f"Somia contract run against {self.target.base_url}, agent {self.target.agent_id}: "
            f"budget {self.target.budget} paid turns, deadline {self.target.deadline:g} s"
        )
        lines = [head]
        lines += [finding.line for finding in self.findings]
        if self.stopped is not None:
            lines.append(f"STOP [{self.stopped.check}] {self.stopped.line}")
        if self.passed:
            lines.append(f"passed: {', '.join(self.checks_run)}")
        lines += [f"note: {note}" for note in self.notes]
        for number, finding in enumerate(self.findings, 1):
            lines += ["", f"--- {number}. [{finding.check}] {finding.promise}"]
            lines += [f"request: {finding.request}", f"expected: {finding.expected}"]
            lines.append(f"got: {finding.got}")
            if finding.detail:
                lines.append(finding.detail.rstrip())
            if finding.reproduce:
                lines += ["reproduce:", f"  {finding.reproduce}"]
        lines += ["", self.summary()]
        text = "\n".join(lines)
        # Never the key's value, whatever a server echoed back.
        return text.replace(self.target.api_key, f"${ENV_API_KEY}") if self.target.api_key else text


def _utf8_json(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only a \u escape can carry it
        return json.dumps(value).encode("ascii")


def short(value: Any, limit: int = 300) -> str:
    """`value` as text, cut to `limit` characters."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
