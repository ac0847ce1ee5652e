"""The pieces of a contract plan: requests described as data, what each must get, promises.

A plan is data so that it can be printed, compared and counted before anything is sent: a
value known only once the run is under way (a session a paid turn created, the run's own
Idempotency-Keys) is a `Ref`, resolved when its probe is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

GROUPS = (
    "security",
    "precedence",
    "bounds",
    "refusals",
    "media",
    "idempotency",
    "generated",
    "accept",
    "stream",
)
"""The groups of promises, in the order a run takes them: those that cost nothing first; the
generated phases before "accept", whose spare turns take what the budget has left; "stream"
last, as it holds every streamed answer of the run."""

NOT_PROVOKABLE = "not provokable"
LEFT_OUT = "left out for budget"


class Ref(NamedTuple):
    """A value the run knows only once under way."""

    kind: str
    """"link": a runtime expression (`$response.header.X`, `$request.path.x`) on the
    exchange of `probe`; "key": the run's Idempotency-Key named `name`."""
    name: str = ""
    probe: str = ""


class Missing:
    """No body at all."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = Missing()


@dataclass(frozen=True)
class Request:
    """One request, as data."""

    operation: str
    path: Mapping[str, Any]
    headers: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    body: Any = MISSING
    """A JSON value, or MISSING; `raw` wins over it."""
    raw: bytes | None = None
    content_type: str | None = "application/json"
    credentials: str = "valid"
    """"valid"; "none"; "wrong:<scheme>" (only that scheme's credential, wrong);
    "moved:<header or query>:<name>" (the valid key in another place)."""
    accept: str | None = "*/*"
    """The Accept header; None sends none."""

    def with_(self, **changes: Any) -> Request:
        return replace(self, **changes)


@dataclass(frozen=True)
class Expect:
    """What the answer must be."""

    status: int
    rule: str | None = None
    """The refusal rule the status stands for (None: the request runs)."""
    names: tuple[str, ...] | None = None
    """A problem of the answer's `detail` has a `loc` starting with this."""
    not_names: tuple[str, ...] | None = None
    """No problem of the answer's `detail` has a `loc` starting with this."""
    media: str | None = None
    """The media type of a 200."""
    replay_of: str | None = None
    """A 200 that replays the answer of this probe."""


@dataclass(frozen=True)
class Probe:
    """One request of the plan and the promise it checks."""

    id: str
    group: str
    operation: str
    promise: str
    request: Request
    expect: Expect
    paid: bool = False
    """An honest deployment runs a turn for it."""
    needs: tuple[str, ...] = ()
    """Probes whose exchanges it reads."""
    keywords: frozenset[str] = frozenset()
    """The request keywords it exercises (`operation label: keyword`)."""
    when_honoured: str | None = None
    """Sent only when this replay probe found the Idempotency-Key honoured."""
    tells_honour: str | None = None
    """Sent whatever this replay probe found: when it found the key not honoured, a 200
    agrees (the deployment ignores keys) and the conflict status shows the replay wrong."""
    spare: bool = False
    """A paid turn sent only with turns nothing else planned needs: left out for budget (not a
    failure) once the budget is spent."""


@dataclass(frozen=True)
class Row:
    """A promise the plan does not send a request for, and why."""

    id: str
    group: str
    operation: str
    promise: str
    status: str
    """NOT_PROVOKABLE or LEFT_OUT."""
    reason: str


@dataclass(frozen=True)
class Watch:
    """A promise checked on every answer of a kind (each event of each stream, say)."""

    id: str
    group: str
    operation: str
    promise: str
    check: str
    """The judge's name for it."""
    arg: str = ""


@dataclass
class Plan:
    """Every promise of the document for one target: probes, watched rules, rows."""

    probes: list[Probe] = field(default_factory=list)
    watches: list[Watch] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    keywords: set[str] = field(default_factory=set)
    """The request keywords of the document (`operation label: keyword`)."""

    def probe(self, probe_id: str) -> Probe:
        return self._index()[probe_id]

    def _index(self) -> dict[str, Probe]:
        return {probe.id: probe for probe in self.probes}

    def of(self, group: str) -> list[Probe]:
        return [probe for probe in self.probes if probe.group == group]

    def paid(self) -> int:
        """The paid turns an honest deployment spends on the probes every run sends."""
        return sum(probe.paid and not probe.spare for probe in self.probes)

    def spares(self) -> int:
        """The spare paid turns, sent with what the budget has left."""
        return sum(probe.spare for probe in self.probes)

    def fingerprint(self) -> list[tuple[str, str]]:
        """The plan in a comparable form: each promise's id and text."""
        return [
            *((p.id, p.promise) for p in self.probes),
            *((w.id, w.promise) for w in self.watches),
            *((r.id, r.promise) for r in self.rows),
        ]


def shown(value: Any, limit: int = 40) -> str:
    """A value as a promise shows it: short, long strings by their length."""
    if isinstance(value, str) and len(value) > limit:
        return (
            f"{len(value)} times {value[:1]!r}" if len(set(value)) == 1 else f"{value[:limit]!r}…"
        )
    text = repr(value)
    return text if len(text) <= limit + 20 else text[: limit + 20] + "…"


@dataclass
class Finding:
    """One broken promise: a short line, then the detail."""

    group: str
    check: str
    """The id of the probe or watched rule."""
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
