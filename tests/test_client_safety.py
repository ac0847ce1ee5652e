"""What a client refuses to do, over real loopback: follow a redirect, use a closed pool,
share a parent's connections after fork, cross event loops, or let a caller's event hook
turn a status into a transport error.

Each runs for both clients where both apply (`call` drives SomiaClient directly and
AsyncSomiaClient through asyncio.run), and on both HTTP libraries (`both_stacks`) where the
client is a caller's.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType

import httpx
import pytest

import somia
from somia import AsyncSomiaClient, SomiaClient
from tests.harness import (
    KEY,
    OK,
    Events,
    Reply,
    ScriptedServer,
    Sdk,
    Trickle,
    chunk,
    client_options,
    render,
    scripted_server,
    sse,
    sync_client,
)

pytestmark = pytest.mark.both_stacks

# -- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_never_followed_even_by_a_following_http_client(
    server: ScriptedServer, sdk: Sdk, status: int
) -> None:
    with scripted_server() as elsewhere:
        target = f"{elsewhere.base_url}/collect?from=somia"
        server.script(Reply(status, b"", {"Location": target}), OK)
        following = sdk.stack.Client(follow_redirects=True)
        with pytest.raises(somia.RedirectError) as caught:
            sdk.call(
                server.base_url,
                "create_session",
                1,
                client={"http_client": following, "api_key_header": "apikey"},
                input_data="a paid turn's input",
            )
        assert elsewhere.received == []  # neither the key nor the body went there
    assert len(server.received) == 1  # and a redirect is not retried
    error = caught.value
    assert isinstance(error, somia.ApiError)
    assert error.status_code == status
    assert f"a redirect to {elsewhere.base_url}," in str(error)
    assert "collect" not in str(error)  # the origin only: a path or query may hold a token
    assert error.headers["location"] == target
    assert KEY not in str(error)


def test_a_relative_redirect_names_the_apis_own_origin(
    server: ScriptedServer, stack: ModuleType
) -> None:
    server.script(Reply(307, b"", {"Location": "/elsewhere"}))
    with pytest.raises(somia.RedirectError, match=f"a redirect to {server.base_url},"):
        Sdk("sync", stack).call(server.base_url, "create_session", 1)


# -- closed clients -------------------------------------------------------------------------


def test_a_call_after_close_is_a_client_closed_error_and_sends_nothing(
    server: ScriptedServer,
) -> None:
    client = SomiaClient(**client_options(base_url=server.base_url))
    client.close()
    with pytest.raises(somia.ClientClosedError, match="this client was closed: create a new"):
        client.sessions.create_session(1)
    assert server.received == []


def test_an_async_call_after_aclose_is_a_client_closed_error(server: ScriptedServer) -> None:
    async def run() -> None:
        async with AsyncSomiaClient(**client_options(base_url=server.base_url)) as client:
            pass
        with pytest.raises(somia.ClientClosedError, match="this client was closed"):
            await client.sessions.create_session(1)

    asyncio.run(run())
    assert server.received == []


def test_a_given_http_client_closed_by_its_owner_is_a_client_closed_error(
    server: ScriptedServer, stack: ModuleType
) -> None:
    http = stack.Client()
    client = SomiaClient(**client_options(base_url=server.base_url, http_client=http))
    http.close()
    with pytest.raises(somia.ClientClosedError, match="http_client given to this client"):
        client.sessions.create_session(1)
    assert server.received == []


# -- event loops ----------------------------------------------------------------------------


# The connection of an event loop that has ended cannot be closed any more (the client
# leaves it to be collected, as documented): collected within the test, its warning expected.
_ENDED_LOOPS_CONNECTION = "ignore:unclosed:ResourceWarning"  # its transport and socket


@pytest.mark.filterwarnings(_ENDED_LOOPS_CONNECTION)
def test_an_async_client_reused_in_a_second_asyncio_run_is_a_wrong_event_loop_error(
    server: ScriptedServer,
) -> None:
    server.script(OK, OK)
    client = AsyncSomiaClient(**client_options(base_url=server.base_url))
    assert asyncio.run(client.sessions.create_session(1)).session_id == "s-1"
    with pytest.raises(somia.WrongEventLoopError, match=r"asyncio\.run") as caught:
        asyncio.run(client.sessions.create_session(1))
    assert "one client per event loop" in str(caught.value)
    assert len(server.received) == 1
    asyncio.run(client.aclose())  # closing from another loop does not raise either
    del client, caught
    gc.collect()


# -- a caller's event hooks -----------------------------------------------------------------


def _raise_for_status(response: httpx.Response) -> None:
    response.raise_for_status()


def _read_then_raise(response: httpx.Response) -> None:
    if not response.is_success:
        response.read()
    response.raise_for_status()


_read_then_raise.reads_body = True  # type: ignore[attr-defined]


def test_a_hook_raising_for_a_404_still_gives_not_found(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(Reply(404, {"detail": "no such agent"}))
    http = sdk.stack.Client(event_hooks={"response": [_raise_for_status]})
    with pytest.raises(somia.NotFoundError) as caught:
        sdk.call(server.base_url, "create_session", 1, client={"http_client": http})
    assert caught.value.status_code == 404
    assert len(server.received) == 1


def test_a_hook_raising_for_a_503_is_retried_by_the_documented_rules(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Reply(503, {"detail": "busy"}), Reply(503, b""), OK)
    http = sdk.stack.Client(event_hooks={"response": [_raise_for_status]})
    answer = sdk.call(server.base_url, "create_session", 1, client={"http_client": http})
    assert answer.session_id == "s-1"
    assert [r.headers.get("x-somia-retry-attempt") for r in server.received] == [None, "1", "2"]


def test_a_hook_that_read_the_error_body_keeps_its_details(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Reply(422, {"detail": "input_data is required"}))
    http = sdk.stack.Client(event_hooks={"response": [_read_then_raise]})
    with pytest.raises(somia.UnprocessableEntityError, match="input_data is required"):
        sdk.call(server.base_url, "create_session", 1, client={"http_client": http})


# -- bad input ------------------------------------------------------------------------------


# -- fork -----------------------------------------------------------------------------------


def _in_child(work: Callable[[], object]) -> int:
    """Run `work` in a forked child; its exit status (0: no exception)."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            work()
        except BaseException as exc:  # reported through the exit status
            print(f"child failed: {exc!r}", file=sys.stderr)
            code = 1
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("use", ["client", "copy"])
def test_after_fork_the_child_opens_its_own_connection_and_leaves_the_parents_open(
    server: ScriptedServer, use: str
) -> None:
    server.script(OK, OK, OK)
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        user = client if use == "client" else client.with_options(timeout=4.0)
        client.sessions.create_session(1, input_data="parent, before")
        assert _in_child(lambda: user.sessions.create_session(1, input_data="child")) == 0
        client.sessions.create_session(1, input_data="parent, after")
    before, child, after = server.received
    assert child.json()["input_data"] == "child"
    assert child.peer != before.peer  # the child never wrote on the parent's connection
    assert after.peer == before.peer  # which is still open and still the parent's


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.filterwarnings(_ENDED_LOOPS_CONNECTION)
def test_an_async_client_works_in_a_forked_child_on_its_own_connection(
    server: ScriptedServer,
) -> None:
    server.script(OK, OK)
    client = AsyncSomiaClient(**client_options(base_url=server.base_url))
    asyncio.run(client.sessions.create_session(1, input_data="parent"))

    def child(client: AsyncSomiaClient = client) -> None:
        async def run() -> None:
            async with client:
                await client.sessions.create_session(1, input_data="child")

        asyncio.run(run())

    assert _in_child(child) == 0
    parent, in_child = server.received
    assert in_child.json()["input_data"] == "child"
    assert in_child.peer != parent.peer
    del client, child  # the parent's connection, of the parent's ended event loop
    gc.collect()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_in_a_forked_child_a_client_made_there_is_held_to_its_total_timeout(
    server: ScriptedServer, stack: ModuleType
) -> None:
    # The parent's watchdog thread (started by its first total_timeout) is not in the child:
    # the child's first deadline starts its own, whichever library the client sends through.
    server.script(OK, Trickle(render(OK), every=0.1))
    options = client_options(base_url=server.base_url, total_timeout=1.0)
    with sync_client(stack, **options) as client:
        client.sessions.create_session(1, input_data="parent")

    def child() -> None:
        with sync_client(stack, **options) as client:
            started = time.monotonic()
            with pytest.raises(somia.RequestTimeoutError, match="total timeout of 1 s"):
                client.sessions.create_session(1, input_data="child")
            assert time.monotonic() - started < 2.5

    assert _in_child(child) == 0
    assert [r.json()["input_data"] for r in server.received] == ["parent", "child"]


# -- one stream, two readers ----------------------------------------------------------------


def test_a_stream_read_from_a_second_thread_meanwhile_is_a_stream_busy_error(
    server: ScriptedServer,
) -> None:
    gate = threading.Event()
    server.script(Events([chunk("Hel"), gate, chunk("Hello"), sse(True)]))
    received: list[str] = []
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        stream = client.sessions.create_session(1, stream=True)
        first = threading.Event()

        def read() -> None:
            for event in stream:
                received.append(event.event_type)
                first.set()

        reader = threading.Thread(target=read)
        reader.start()
        assert first.wait(10)
        with pytest.raises(somia.StreamBusyError, match="read it from one thread"):
            for _ in stream:
                pass
        gate.set()
        reader.join(10)
    assert received == ["chunk", "chunk", "end"]  # the first reader lost nothing


def test_an_async_stream_read_from_a_second_task_meanwhile_is_a_stream_busy_error(
    server: ScriptedServer,
) -> None:
    gate = threading.Event()
    server.script(Events([chunk("Hel"), gate, chunk("Hello"), sse(True)]))

    async def run() -> list[str]:
        async with AsyncSomiaClient(**client_options(base_url=server.base_url)) as client:
            stream = await client.sessions.create_session(1, stream=True)
            received: list[str] = []
            first = asyncio.Event()

            async def read() -> None:
                async for event in stream:
                    received.append(event.event_type)
                    first.set()

            task = asyncio.create_task(read())
            await first.wait()
            with pytest.raises(somia.StreamBusyError, match="read it from one task"):
                async for _ in stream:
                    pass
            gate.set()
            await task
            return received

    assert asyncio.run(run()) == ["chunk", "chunk", "end"]


def test_a_stream_opened_in_one_thread_can_be_read_in_another(server: ScriptedServer) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), sse(True)]))
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        stream = client.sessions.create_session(1, stream=True)
        done: list[somia.AgentSessionResponse] = []
        reader = threading.Thread(target=lambda: done.append(stream.final_response()))
        reader.start()
        reader.join(10)
        assert done[0].message == "Hello"
