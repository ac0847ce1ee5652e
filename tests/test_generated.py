"""The generated low-level client builds the documented requests."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from somia._document import shipped
from somia_api import AuthenticatedClient
from somia_api.api.sessions import create_session, interact_session
from somia_api.models import AgentExecutionRequest, AgentSessionResponse

BASE = "https://api.example.test"


def _recording_client(seen: list[httpx.Request]) -> AuthenticatedClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"session_id": "s-1", "message": "hi", "history": [], "extra": 1}
        )

    return AuthenticatedClient(
        base_url=BASE,
        token="k-123",
        prefix="",
        auth_header_name="x-api-key",
        httpx_args={"transport": httpx.MockTransport(handler)},
    )


def test_create_session_posts_defaults_and_key_to_the_create_path() -> None:
    seen: list[httpx.Request] = []
    answer = create_session.sync_detailed(
        123, client=_recording_client(seen), body=AgentExecutionRequest(input_data="Hello")
    )
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/api/v1/external/agent/123/session"
    assert request.headers["x-api-key"] == "k-123"
    assert request.headers["content-type"] == "application/json"
    # The generated models send every field that has a default in the document.
    document = shipped()
    fields = document.properties(document.request_schema(document.operation("createSession")))
    defaults = {name: schema["default"] for name, schema in fields.items() if "default" in schema}
    assert defaults
    assert json.loads(request.content) == {"input_data": "Hello", **defaults}
    assert isinstance(answer.parsed, AgentSessionResponse)
    assert answer.parsed.session_id == "s-1"
    assert answer.parsed.additional_properties == {"extra": 1}


def test_interact_session_quotes_the_session_id_into_one_segment() -> None:
    seen: list[httpx.Request] = []
    interact_session.sync_detailed(
        7,
        "a/b?c",
        client=_recording_client(seen),
        body=AgentExecutionRequest(input_data={"q": 1}, stream=True, tags=["x"]),
        idempotency_key="key-1",
    )
    (request,) = seen
    assert request.url.raw_path == b"/api/v1/external/agent/7/session/a%2Fb%3Fc"
    assert request.headers["idempotency-key"] == "key-1"
    body = json.loads(request.content)
    assert body["input_data"] == {"q": 1}
    assert body["stream"] is True
    assert body["tags"] == ["x"]


@pytest.mark.slow
def test_the_facts_module_imports_before_somia() -> None:
    code = "import somia_api.facts as f; print(sorted(f.OPERATIONS))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "createSession" in result.stdout
