"""OpenTelemetry traces: one "invoke agent" client span per session call (GenAI semantic
conventions 1.41.0), recorded by the SDK's in-memory exporter over real loopback HTTP.

Each test that traces installs a global tracer provider and removes it afterwards, so that
the rest of the suite runs untraced, as an application without a provider does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util._once import Once

import somia
from somia import AsyncSomiaClient, SomiaClient
from somia._tracing import CAPTURE_CONTENT_ENV, SCHEMA_URL, SEMCONV_VERSION
from somia.testing import FakeServer
from tests.harness import (
    KEY,
    OK,
    Events,
    Reply,
    ScriptedServer,
    Sdk,
    chunk,
    client_options,
    free_port,
    sse,
)

STREAM = Events([chunk("He"), chunk("Hello"), sse(True)])
# The attributes of every invoke_agent span, whatever its outcome.
BASE_KEYS = {
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.agent.id",
    "server.address",
    "server.port",
}


def _reset_global_provider() -> None:
    # The API lets a process set its provider once; tests set one each, as OTel's own do.
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@pytest.fixture
def install() -> Iterator[Callable[[], InMemorySpanExporter]]:
    """Installs, when called, a global provider that keeps finished spans in memory."""
    providers: list[TracerProvider] = []

    def start() -> InMemorySpanExporter:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        providers.append(provider)
        return exporter

    _reset_global_provider()
    yield start
    _reset_global_provider()
    for provider in providers:
        provider.shutdown()


@pytest.fixture
def spans(install: Callable[[], InMemorySpanExporter]) -> InMemorySpanExporter:
    return install()


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def traceparent_of(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-"


# --- a JSON call ----------------------------------------------------------------------------


def test_a_json_call_is_one_invoke_agent_client_span(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(OK)
    sdk.call(server.base_url, "run", 7, input_data="hello")
    span = only_span(spans)
    assert span.name == "invoke_agent"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET  # success: unset, as the spec asks
    assert attributes(span) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "somia",
        "gen_ai.agent.id": "7",
        "server.address": "127.0.0.1",
        "server.port": int(server.base_url.rsplit(":", 1)[1]),
        "gen_ai.conversation.id": "s-1",
        "http.response.status_code": 200,
    }
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "somia"
    assert span.instrumentation_scope.version == somia.__version__
    assert span.instrumentation_scope.schema_url == SCHEMA_URL
    assert SCHEMA_URL.endswith(f"/{SEMCONV_VERSION}")


def test_the_trace_context_is_sent_with_the_request(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(OK)
    sdk.call(server.base_url, "run", 7, input_data="hello")
    (request,) = server.received
    assert request.headers["traceparent"].startswith(traceparent_of(only_span(spans)))


def test_the_span_is_a_child_of_the_applications_current_span(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    server.script(OK)
    with trace.get_tracer("app").start_as_current_span("handle request") as parent:
        Sdk("sync").call(server.base_url, "run", 7, input_data="hello")
    invoke, app = spans.get_finished_spans()
    assert app.name == "handle request"
    assert invoke.parent is not None
    assert invoke.parent.span_id == parent.get_span_context().span_id
    assert invoke.context is not None
    assert invoke.context.trace_id == parent.get_span_context().trace_id


def test_the_turns_of_one_session_share_its_conversation_id(
    spans: InMemorySpanExporter, somia_server: FakeServer
) -> None:
    options: dict[str, Any] = {"base_url": somia_server.base_url, "api_key": somia_server.api_key}
    with SomiaClient(**options) as client:
        first = client.sessions.create_session(1, input_data="one")
        client.sessions.interact_session(1, first.session_id, input_data="two")
        stream = client.sessions.interact_session(1, first.session_id, stream=True, input_data="3")
        stream.final_response()
    conversations = [attributes(s)["gen_ai.conversation.id"] for s in spans.get_finished_spans()]
    assert conversations == [first.session_id] * 3


def test_usage_in_the_answer_is_recorded(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    usage = {"input_tokens": 12, "output_tokens": 34}
    server.script(Reply(200, {"session_id": "s-1", "message": "hi", "usage": usage}))
    sdk.call(server.base_url, "run", 7, input_data="hello")
    recorded = attributes(only_span(spans))
    assert recorded["gen_ai.usage.input_tokens"] == 12
    assert recorded["gen_ai.usage.output_tokens"] == 34


def test_usage_that_is_not_token_counts_is_left_out(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    usage = {"input_tokens": "12", "output_tokens": True}
    server.script(Reply(200, {"session_id": "s-1", "message": "hi", "usage": usage}))
    with contextlib.suppress(somia.InvalidResponseError):  # a document that types `usage`
        Sdk("sync").call(server.base_url, "run", 7)
    assert not any(key.startswith("gen_ai.usage") for key in attributes(only_span(spans)))


# --- errors and retries ---------------------------------------------------------------------


def test_an_error_status_ends_the_span_as_an_error(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Reply(404, {"detail": "no such agent"}))
    with pytest.raises(somia.NotFoundError):
        sdk.call(server.base_url, "run", 7, input_data="hello")
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert "no such agent" in (span.status.description or "")
    assert set(attributes(span)) == BASE_KEYS | {"error.type", "http.response.status_code"}
    assert attributes(span)["error.type"] == "NotFoundError"
    assert attributes(span)["http.response.status_code"] == 404


def test_a_failed_turn_of_a_session_names_the_session(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    server.script(Reply(404, {"detail": "no such session"}))
    with pytest.raises(somia.NotFoundError):
        Sdk("sync").call(server.base_url, "run", 7, session_id="s-gone", input_data="hello")
    assert attributes(only_span(spans))["gen_ai.conversation.id"] == "s-gone"


def test_a_call_refused_before_sending_has_no_span(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    with pytest.raises(TypeError):
        Sdk("sync").call(server.base_url, "run", 7, tags="not-a-list")
    assert spans.get_finished_spans() == ()
    assert server.received == []


def test_a_connection_failure_ends_the_span_as_an_error(
    spans: InMemorySpanExporter, sdk: Sdk
) -> None:
    with pytest.raises(somia.TransportError) as caught:
        sdk.call(f"http://127.0.0.1:{free_port()}", "run", 7, client={"retries": 0})
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == type(caught.value).__qualname__
    assert "http.response.status_code" not in attributes(span)


def test_each_retry_is_an_event_of_the_one_span(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Reply(503, {"detail": "busy"}), Reply(429, b"", {"Retry-After": "0"}), OK)
    sdk.call(server.base_url, "run", 7, input_data="hello")
    span = only_span(spans)
    assert span.status.status_code is StatusCode.UNSET
    assert attributes(span)["http.request.resend_count"] == 2
    retries: list[tuple[str, dict[str, Any]]] = [
        (event.name, dict(event.attributes or {})) for event in span.events
    ]
    assert [name for name, _ in retries] == ["somia.retry", "somia.retry"]
    assert [set(values) for _, values in retries] == [
        {"somia.retry.number", "somia.retry.reason", "somia.retry.delay"}
    ] * 2
    assert [values["somia.retry.number"] for _, values in retries] == [1, 2]
    assert [values["somia.retry.reason"] for _, values in retries] == [
        "status 503",
        "status 429, Retry-After",
    ]
    assert 0 < retries[0][1]["somia.retry.delay"] <= 0.001
    assert retries[1][1]["somia.retry.delay"] == 0.0
    # Every attempt carries the same span's context: the platform nests them all under it.
    prefix = traceparent_of(span)
    assert all(r.headers["traceparent"].startswith(prefix) for r in server.received)


def test_retries_that_run_out_end_the_span_as_an_error(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    server.script(*[Reply(503, {"detail": "saturated"})] * 2)
    with pytest.raises(somia.ServiceUnavailableError):
        Sdk("sync").call(server.base_url, "run", 7, client={"retries": 1})
    span = only_span(spans)
    assert attributes(span)["error.type"] == "ServiceUnavailableError"
    assert attributes(span)["http.response.status_code"] == 503
    assert attributes(span)["http.request.resend_count"] == 1
    assert len(span.events) == 1


# --- streams --------------------------------------------------------------------------------


def test_a_stream_span_ends_fine_at_the_end_event(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(STREAM)
    assert len(sdk.call(server.base_url, "run", 7, stream=True, input_data="hello")) == 3
    span = only_span(spans)
    assert span.status.status_code is StatusCode.UNSET
    assert attributes(span) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "somia",
        "gen_ai.agent.id": "7",
        "server.address": "127.0.0.1",
        "server.port": int(server.base_url.rsplit(":", 1)[1]),
        "gen_ai.conversation.id": "s-scripted",  # from the answer's header, on a create call
        "http.response.status_code": 200,
        "somia.stream.events_received": 3,
    }
    assert server.received[0].headers["traceparent"].startswith(traceparent_of(span))


def test_a_stream_span_is_open_until_the_stream_ends(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    server.script(STREAM)
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        stream = client.sessions.create_session(7, stream=True)
        assert spans.get_finished_spans() == ()
        stream.final_response()
        assert len(spans.get_finished_spans()) == 1


def test_a_cut_stream_ends_its_span_as_an_error_with_the_events_received(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Events([chunk("He"), chunk("Hello")], finish="cut"))
    with pytest.raises(somia.StreamInterruptedError):
        sdk.call(server.base_url, "run", 7, stream=True)
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "StreamInterruptedError"
    assert attributes(span)["somia.stream.events_received"] == 2
    assert "after 2 events" in (span.status.description or "")


def test_a_reopened_stream_is_a_call_of_its_own_span(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    server.script(Events([chunk("He")], finish="cut"), STREAM)
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        stream = client.sessions.create_session(7, stream=True)
        with pytest.raises(somia.StreamInterruptedError):
            stream.final_response()
        stream.reopen().final_response()
    cut, whole = spans.get_finished_spans()
    assert attributes(cut)["error.type"] == "StreamInterruptedError"
    assert whole.status.status_code is StatusCode.UNSET
    assert whole.context.span_id != cut.context.span_id


def test_an_error_event_ends_the_stream_span_as_an_error(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Events([chunk("He"), sse({"error": True, "detail": "tool crashed"})]))
    assert [e.event_type for e in sdk.call(server.base_url, "run", 7, stream=True)] == [
        "chunk",
        "error",
    ]
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "AgentStreamError"
    assert "tool crashed" in (span.status.description or "")


def test_an_event_that_is_not_json_ends_the_stream_span_as_an_error(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Events([chunk("He"), b"data: {oops\n\n", sse(True)]))
    with pytest.raises(somia.StreamParseError):
        sdk.call(server.base_url, "run", 7, stream=True)
    span = only_span(spans)
    assert attributes(span)["error.type"] == "StreamParseError"
    assert attributes(span)["somia.stream.events_received"] == 1


def test_a_stream_closed_early_by_its_reader_is_not_an_error(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    server.script(STREAM)
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        for _ in client.sessions.create_session(7, stream=True):
            break
    span = only_span(spans)
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in attributes(span)
    assert attributes(span)["somia.stream.closed_early"] is True
    assert attributes(span)["somia.stream.events_received"] == 1


def test_an_async_stream_closed_early_is_not_an_error(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    server.script(STREAM)

    async def run() -> None:
        async with AsyncSomiaClient(**client_options(base_url=server.base_url)) as client:
            stream = await client.sessions.create_session(7, stream=True)
            async for _ in stream:
                break
            await stream.aclose()

    asyncio.run(run())
    span = only_span(spans)
    assert span.status.status_code is StatusCode.UNSET
    assert attributes(span)["somia.stream.closed_early"] is True


def test_an_abandoned_stream_ends_its_span_when_collected(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    server.script(STREAM)
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        client.sessions.create_session(7, stream=True)  # dropped at once
        gc.collect()
        span = only_span(spans)
    assert span.status.status_code is StatusCode.UNSET
    assert attributes(span)["somia.stream.closed_early"] is True
    assert attributes(span)["somia.stream.events_received"] == 0


def test_an_abandoned_async_stream_ends_its_span_when_collected(
    spans: InMemorySpanExporter, server: ScriptedServer
) -> None:
    server.script(STREAM)

    async def run() -> None:
        async with AsyncSomiaClient(**client_options(base_url=server.base_url)) as client:
            await client.sessions.create_session(7, stream=True)  # dropped at once
            gc.collect()
            assert len(spans.get_finished_spans()) == 1

    asyncio.run(run())
    assert attributes(only_span(spans))["somia.stream.closed_early"] is True


def test_usage_in_the_last_chunk_is_recorded(
    spans: InMemorySpanExporter, server: ScriptedServer, sdk: Sdk
) -> None:
    last = {"session_id": "s-1", "message": "Hello", "usage": {"input_tokens": 5}}
    server.script(Events([chunk("He"), sse(last), sse(True)]))
    sdk.call(server.base_url, "run", 7, stream=True)
    recorded = attributes(only_span(spans))
    assert recorded["gen_ai.usage.input_tokens"] == 5
    assert "gen_ai.usage.output_tokens" not in recorded


# --- content and secrets --------------------------------------------------------------------


def test_inputs_and_answers_are_not_recorded_by_default(
    spans: InMemorySpanExporter, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    server.script(OK, STREAM)
    Sdk("sync").call(server.base_url, "run", 7, input_data="my secret question")
    Sdk("sync").call(server.base_url, "run", 7, stream=True, input_data="my secret question")
    for span in spans.get_finished_spans():
        assert "secret question" not in span.to_json()
        assert "gen_ai.input.messages" not in attributes(span)
        assert "gen_ai.output.messages" not in attributes(span)


@pytest.mark.parametrize("value", ["true", "True", "SPAN_ONLY"])
def test_inputs_and_answers_are_recorded_when_the_user_opts_in(
    spans: InMemorySpanExporter,
    server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, value)
    server.script(OK, STREAM)
    Sdk("sync").call(server.base_url, "run", 7, input_data="what is up?")
    Sdk("sync").call(server.base_url, "run", 7, stream=True, input_data={"city": "Paris"})
    whole, streamed = (attributes(span) for span in spans.get_finished_spans())
    user = {"role": "user", "parts": [{"type": "text", "content": "what is up?"}]}
    assert json.loads(whole["gen_ai.input.messages"]) == [user]
    assert json.loads(whole["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hi"}], "finish_reason": "stop"}
    ]
    assert json.loads(streamed["gen_ai.input.messages"])[0]["parts"][0]["content"] == (
        '{"city": "Paris"}'
    )
    assert json.loads(streamed["gen_ai.output.messages"])[0]["parts"][0]["content"] == "Hello"


def test_the_api_key_never_appears_in_a_span(
    spans: InMemorySpanExporter, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    server.script(
        Reply(503, {"detail": f"key {KEY} is busy"}),
        Reply(200, {"session_id": "s-1", "message": "ok"}),
        Reply(401, {"detail": f"bad key {KEY}"}),
        Events([chunk("He"), sse({"error": True, "detail": f"key {KEY}"})]),
    )
    Sdk("sync").call(server.base_url, "run", 7, input_data="hi")
    with pytest.raises(somia.AuthError):
        Sdk("sync").call(server.base_url, "run", 7, client={"retries": 0})
    Sdk("sync").call(server.base_url, "run", 7, stream=True)
    recorded = spans.get_finished_spans()
    assert len(recorded) == 3
    for span in recorded:
        assert KEY not in span.to_json()


# --- when nobody traces ---------------------------------------------------------------------


def test_without_a_provider_no_trace_context_is_sent(server: ScriptedServer) -> None:
    # opentelemetry is imported (by this module) but no provider is set: tracing stays off.
    server.script(OK)
    Sdk("sync").call(server.base_url, "run", 7, input_data="hello")
    assert "traceparent" not in server.received[0].headers


def test_a_provider_set_after_the_client_was_made_is_used(
    install: Callable[[], InMemorySpanExporter], server: ScriptedServer
) -> None:
    server.script(OK, OK)
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        client.sessions.create_session(7)
        exporter = install()
        client.sessions.create_session(7)
    assert len(exporter.get_finished_spans()) == 1
    assert [("traceparent" in r.headers) for r in server.received] == [False, True]


@pytest.mark.slow
def test_import_and_calls_do_not_import_opentelemetry() -> None:
    code = (
        "import sys\n"
        "from tests.harness import Events, Reply, chunk, scripted_server, sse\n"
        "import somia\n"
        "with scripted_server() as server, somia.SomiaClient(\n"
        "    base_url=server.base_url, api_key='k'\n"
        ") as client:\n"
        "    server.script(Reply(200, {'session_id': 's'}), Events([chunk('a'), sse(True)]))\n"
        "    client.sessions.create_session(1)\n"
        "    client.sessions.create_session(1, stream=True).final_response()\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- opentelemetry-instrument ---------------------------------------------------------------


@pytest.mark.slow
def test_opentelemetry_instrument_shows_the_span_of_a_cli_run(somia_server: FakeServer) -> None:
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOMIA_", "OTEL_"))}
    env.update(
        SOMIA_BASE_URL=somia_server.base_url,
        SOMIA_API_KEY=somia_server.api_key,
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="somia-cli-test",
    )
    command = [str(bin_dir / "opentelemetry-instrument"), str(bin_dir / "somia"), "run", "1", "hi"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    answer, _, exported = done.stdout.partition("\n{")
    assert answer == "You said: hi"
    span, _ = json.JSONDecoder().raw_decode("{" + exported)
    assert span["name"] == "invoke_agent"
    assert span["kind"] == "SpanKind.CLIENT"
    assert span["status"]["status_code"] == "UNSET"
    assert span["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert span["attributes"]["gen_ai.agent.id"] == "1"
    assert span["attributes"]["gen_ai.conversation.id"] in done.stderr  # "session: ..."
    assert span["resource"]["attributes"]["service.name"] == "somia-cli-test"
    assert somia_server.api_key not in done.stdout + done.stderr


@pytest.mark.slow
def test_the_documented_setup_exports_the_spans_of_a_conversation() -> None:
    page = (Path(__file__).parent.parent / "docs" / "tracing.md").read_text(encoding="utf-8")
    (block,) = [
        code
        for code in re.findall(r"^```python\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
        if "trace.set_tracer_provider(provider)" in code
    ]
    with FakeServer() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOMIA_", "OTEL_"))}
        env.update(SOMIA_BASE_URL=server.base_url, SOMIA_API_KEY=server.api_key)
        done = subprocess.run(
            [sys.executable, "-c", block], capture_output=True, text=True, timeout=60, env=env
        )
    assert done.returncode == 0, done.stderr
    decoder = json.JSONDecoder()
    exported = [
        decoder.raw_decode(done.stdout, start.start())[0]
        for start in re.finditer(r"^\{", done.stdout, re.MULTILINE)
    ]
    assert [span["name"] for span in exported] == ["invoke_agent", "invoke_agent"]
    conversations = {span["attributes"]["gen_ai.conversation.id"] for span in exported}
    assert len(conversations) == 1
