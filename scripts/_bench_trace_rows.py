"""Row 8 of the bench: what OpenTelemetry tracing (somia/_tracing.py) costs a JSON call.

8a: tracing off in its costliest form (opentelemetry-api imported, no provider set) against
the same call with no tracing hook at all (the client as it was before tracing).
8b: tracing on, the SDK's TracerProvider with an in-memory exporter, against the untraced
call inside one bare SDK span (the floor of any tracing); the note gives the cost against
the untraced call. Run last: 8b sets the process's global tracer provider (then removes it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from scripts._bench_measure import AGENT, API_KEY, Plan, Row, cpu, median, micros, ratios, rounds
from somia import SessionAnswer, SomiaClient
from somia._base import session_from_response
from somia._tracing import start_span


class UntracedClient(SomiaClient):
    """SomiaClient with its JSON call as it was before tracing: no hook at all."""

    def _call(
        self, agent_id: object, session_id: object, stream: bool, options: Mapping[str, object]
    ) -> SessionAnswer:
        return session_from_response(
            self._send(self._encode(agent_id, session_id, stream, options))
        )


@contextmanager
def in_memory_tracing() -> Iterator[InMemorySpanExporter]:
    """A global SDK provider exporting to memory, for the block only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        # The API sets a provider once per process; undo it as OTel's own tests do.
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        trace._TRACER_PROVIDER = None
        provider.shutdown()


def call_in_a_bare_span(client: SomiaClient) -> object:
    """The least any tracing of a call costs: one SDK span with the same attributes."""
    attributes: dict[str, str | int] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "somia",
        "gen_ai.agent.id": "1",
        "server.address": "127.0.0.1",
        "server.port": 8000,
    }
    span = trace.get_tracer("bench").start_span(
        "invoke_agent", kind=trace.SpanKind.CLIENT, attributes=attributes
    )
    answer = client.sessions.create_session(AGENT, input_data="hello")
    span.set_attributes({"http.response.status_code": 200, "gen_ai.conversation.id": "s-1"})
    span.end()
    return answer


def _tracing_rounds(
    plan: Plan, server: str, exporter: InMemorySpanExporter | None = None
) -> dict[str, list[float]]:
    """CPU per block of calls, by kind: SomiaClient's ("somia"), the untraced client's
    ("untraced") and, when tracing, the untraced call inside a bare SDK span ("bare")."""
    base_url = f"{server}/json"
    with (
        SomiaClient(base_url=base_url, api_key=API_KEY) as client,
        UntracedClient(base_url=base_url, api_key=API_KEY) as untraced,
    ):
        calls: dict[str, Callable[[], object]] = {
            "somia": lambda: client.sessions.create_session(AGENT, input_data="hello"),
            "untraced": lambda: untraced.sessions.create_session(AGENT, input_data="hello"),
        }
        if exporter is not None:
            calls["bare"] = lambda: call_in_a_bare_span(untraced)

        def block(call: Callable[[], object]) -> float:
            seconds = cpu(lambda: [call() for _ in range(plan.json_calls)])
            if exporter is not None:
                exporter.clear()  # memory stays flat; clearing is outside the timing
            return seconds

        for call in calls.values():
            block(call)  # warm-up
        return rounds(plan.rounds, {name: partial(block, call) for name, call in calls.items()})


def hook_seconds(calls: int = 100_000) -> float:
    """CPU seconds per call of the tracing hook alone, as the client calls it."""
    with SomiaClient(base_url="http://127.0.0.1:9", api_key=API_KEY) as client:
        call = client._prepare(AGENT, None, False, {"input_data": "hello"})
        options = {"input_data": "hello"}
        start = time.process_time()
        for _ in range(calls):
            start_span(client._config, call, AGENT, None, options)
        return (time.process_time() - start) / calls


def rows_tracing(plan: Plan, server: str) -> list[Row]:
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        raise RuntimeError("a tracer provider is set: row 8a would not measure tracing off")
    off = _tracing_rounds(plan, server)
    hook = hook_seconds()
    del sys.modules["opentelemetry.trace"]  # as in a process that never imported it
    try:
        hook_unimported = hook_seconds()
    finally:
        sys.modules["opentelemetry.trace"] = trace
    with in_memory_tracing() as exporter:
        on = _tracing_rounds(plan, server, exporter)
        exporter.clear()
        with SomiaClient(base_url=f"{server}/json", api_key=API_KEY) as client:
            for _ in range(plan.json_calls):
                client.sessions.create_session(AGENT, input_data="hello")
        traced = len(exporter.get_finished_spans())
    if traced != plan.json_calls:
        raise RuntimeError(f"{traced} spans for {plan.json_calls} calls: tracing is not on")

    def per_call(blocks: list[float]) -> str:
        return micros(median(blocks) / plan.json_calls)

    def added(blocks: list[float]) -> str:  # over the untraced call of the same rounds
        return per_call([a - b for a, b in zip(blocks, on["untraced"], strict=True)])

    return [
        Row(
            "8a",
            "JSON call, sync, tracing off (opentelemetry-api imported, no provider): client "
            "CPU per call (SomiaClient vs the same call without the tracing hook)",
            per_call(off["somia"]),
            per_call(off["untraced"]),
            ratios(off["somia"], off["untraced"]),
            "≤ 1.02; hook < 1 µs",
            lambda ratio: ratio <= 1.02 and hook < 1e-6,
            f"the hook alone costs {hook * 1e9:.0f} ns per call ({hook_unimported * 1e9:.0f} "
            "ns when opentelemetry was never imported)",
        ),
        Row(
            "8b",
            "JSON call, sync, traced by the OpenTelemetry SDK (in-memory exporter): client "
            "CPU per call (SomiaClient vs the untraced call inside one bare SDK span)",
            per_call(on["somia"]),
            per_call(on["bare"]),
            ratios(on["somia"], on["bare"]),
            "≤ 1.10",
            lambda ratio: ratio <= 1.10,
            f"tracing adds {added(on['somia'])} to an untraced call ({per_call(on['untraced'])},"
            f" same rounds); the bare span alone adds {added(on['bare'])}. Target: the span "
            "the SDK must create is the floor; the trace context sent with the request and "
            "the span being current may add at most 10% to a traced call",
        ),
    ]
