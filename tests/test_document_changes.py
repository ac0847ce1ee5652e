"""A change to openapi/somia.yaml reaches users after `make generate`, with no other edit.

Each changed document is generated once into a temporary folder that shadows the committed
package. On one, the SDK (sync and async), its type checking and the compiled checks follow
the changes. On another, grown the ways a document grows without breaking anyone (a new
optional request field, a new answer field, a new status of an existing error class), the
project's own tests that read the document pass unchanged: no test restates the document.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import generate

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _changed_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "openapi/somia.yaml").read_text())
    schemas = document["components"]["schemas"]
    request = schemas["AgentExecutionRequest"]["properties"]
    # A new optional field with a range, and one with a camelCase wire name.
    request["temperature"] = {"type": "number", "minimum": 0, "maximum": 2}
    request["maxTokens"] = {"type": "integer", "minimum": 1}
    # A closed nested object: a TypedDict for type checkers.
    request["options"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"depth": {"type": "integer"}},
    }
    # A field deprecated.
    request["source"]["deprecated"] = True
    # A type narrowed: integers only, no default.
    request["pipeline_version"] = {"type": "integer", "description": "A version number."}
    answer = schemas["AgentSessionResponse"]["properties"]
    # A new answer object, and an answer field removed.
    answer["usage"] = {
        "type": "object",
        "properties": {"input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}},
    }
    del answer["pending"]
    return document


def _grown_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "openapi/somia.yaml").read_text())
    schemas = document["components"]["schemas"]
    # Names the README and the tests like to use for fields a document lacks.
    schemas["AgentExecutionRequest"]["properties"]["locale"] = {
        "type": "string",
        "description": "The caller's locale.",
    }
    schemas["AgentSessionResponse"]["properties"]["usage"] = {
        "type": "object",
        "description": "What the turn used.",
        "properties": {"input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}},
    }
    for item in document["paths"].values():  # 504 raises ServiceUnavailableError
        item["post"]["responses"]["504"] = {"$ref": "#/components/responses/Unavailable"}
    return document


def _generate(tmp: Path, document: dict[str, Any]) -> Path:
    spec = tmp / "somia.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False))
    generate.generate(tmp, spec=spec)
    return tmp


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("changed"), _changed_document())


# The tests that read the document (through somia._document or the generated code), and
# those that name fields the document lacks.
DOCUMENT_READING = [
    "tests/test_openapi.py",
    "tests/test_document.py",
    "tests/test_patterns.py",
    "tests/test_bridge.py",
    "tests/test_models.py",
    "tests/test_errors.py",
    "tests/test_generated.py",
    "tests/test_api_diff.py",
    "tests/test_tracing.py",
    "tests/testing/test_fake_document.py",
    "tests/testing/test_fake_server.py",
    "tests/testing/test_fake_validation.py",
    "tests/testing/test_fake_agrees_with_sdk.py",
    "tests/contract/test_fake_strict_answers.py",
]


def test_the_tests_that_read_the_document_pass_on_a_grown_document(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    grown = _generate(tmp_path_factory.mktemp("grown"), _grown_document())
    env = {**os.environ, "PYTHONPATH": str(grown)}
    seen = _run(grown, "import somia._bridge as b; print(sorted(b.BODY_FIELDS))")
    assert "locale" in seen  # the tests below read the grown package, not the committed one
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "not slow", *DOCUMENT_READING],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    assert " passed" in result.stdout.splitlines()[-1]


def _run(generated: Path, code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(generated)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=generated,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


_CLIENT = """
    import asyncio, json, warnings
    import httpx, somia, somia_api

    assert somia_api.__file__.startswith({where!r}), somia_api.__file__
    sent = []
    answer = {answer}

    def handler(request):
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=answer, headers={{"X-Somia-Session-Id": "s-1"}})

    client = somia.SomiaClient(
        base_url="https://somia.test", api_key="k",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    aclient = somia.AsyncSomiaClient(
        base_url="https://somia.test", api_key="k",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
"""


def test_a_new_request_field_is_an_option_of_every_method_sent_under_its_wire_name(
    generated: Path,
) -> None:
    out = _run(
        generated,
        _CLIENT.format(where=str(generated), answer={"session_id": "s-1"})
        + """
    client.sessions.create_session(1, input_data="hi", temperature=0.2, max_tokens=5)
    client.sessions.interact_session(1, "s-1", temperature=0, max_tokens=None)
    client.sessions.run(1, session_id="s-1", temperature=2)
    asyncio.run(aclient.sessions.create_session(1, temperature=1.5))
    asyncio.run(aclient.sessions.interact_session(1, "s-1", max_tokens=7))
    asyncio.run(aclient.sessions.run(1, temperature=0.5))
    print(json.dumps(sent))
    print(json.dumps(somia.AgentExecutionRequest(max_tokens=3, temperature=1).to_dict()))
    """,
    )
    bodies, model = out.splitlines()
    assert json.loads(bodies) == [
        {"input_data": "hi", "temperature": 0.2, "maxTokens": 5, "stream": False},
        {"temperature": 0, "stream": False},
        {"temperature": 2, "stream": False},
        {"temperature": 1.5, "stream": False},
        {"maxTokens": 7, "stream": False},
        {"temperature": 0.5, "stream": False},
    ]
    assert json.loads(model) == {"maxTokens": 3, "temperature": 1}


def test_values_outside_the_new_constraints_are_refused_before_sending(generated: Path) -> None:
    out = _run(
        generated,
        _CLIENT.format(where=str(generated), answer={"session_id": "s-1"})
        + """
    cases = [
        {"temperature": 3}, {"temperature": -5}, {"temperature": "hot"},
        {"max_tokens": 0}, {"pipeline_version": "production"}, {"pipeline_version": 1.5},
    ]
    for options in cases:
        for call in (
            lambda: client.sessions.create_session(1, **options),
            lambda: somia.AgentExecutionRequest(**options),
            lambda: asyncio.run(aclient.sessions.run(1, **options)),
        ):
            try:
                call()
            except (TypeError, ValueError) as exc:
                print(type(exc).__name__, exc)
            else:
                print("accepted", options)
    print("sent", len(sent))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.sessions.create_session(1, source="docs")
    print([(w.category.__name__, str(w.message), w.filename) for w in caught])
    """,
    )
    lines = out.splitlines()
    refusals, sent, warned = lines[:-2], lines[-2], lines[-1]
    assert len(refusals) == 18
    assert not [line for line in refusals if line.startswith("accepted")]
    names = ["temperature"] * 3 + ["max_tokens"] + ["pipeline_version"] * 2
    for i, name in enumerate(names):
        for line in refusals[3 * i : 3 * i + 3]:
            assert name in line
    assert refusals[2 * 3].startswith("TypeError")  # "hot" is a type error
    assert refusals[0].startswith("ValueError")  # 3 is out of range
    assert sent == "sent 0"  # nothing refused was sent
    assert "DeprecationWarning" in warned
    assert "source is deprecated" in warned
    assert "'<string>'" in warned  # points at the caller's line


def test_answer_fields_follow_the_document(generated: Path) -> None:
    answer = {"session_id": "s-1", "usage": {"input_tokens": 3, "output_tokens": 4}, "pending": 1}
    out = _run(
        generated,
        _CLIENT.format(where=str(generated), answer=answer)
        + """
    reply = client.sessions.create_session(1)
    print(reply.usage.input_tokens, reply.usage.output_tokens, type(reply.usage).__name__)
    print(reply.extra, reply.pending)  # a removed field moves to extra
    print(sorted(reply.model_dump()))
    answer["usage"] = {"input_tokens": "3"}
    try:
        client.sessions.create_session(1)
    except somia.InvalidResponseError as exc:
        print("invalid", exc)
    """,
    )
    typed, extra, dumped, invalid = out.splitlines()
    assert typed == "3 4 AgentSessionResponseUsage"
    assert extra == "{'pending': 1} 1"
    assert "pending" in dumped  # from extra: the server still sends it
    assert "usage" in dumped
    assert invalid.startswith("invalid")
    assert "usage.input_tokens is a str" in invalid


def test_mypy_checks_user_code_against_the_changed_document(generated: Path) -> None:
    user = generated / "user_code.py"
    user.write_text(
        textwrap.dedent(
            """
            from somia import SomiaClient

            client = SomiaClient(api_key="k")
            answer = client.sessions.create_session(1, temperature=0.2, max_tokens=5)
            tokens: int | None = answer.usage.input_tokens if answer.usage else None
            client.sessions.create_session(1, temperature="hot")
            client.sessions.run(1, pipeline_version="production")
            client.sessions.run(1, no_such_option=1)
            print(answer.pending)
            client.sessions.run(1, options={"depth": "deep"})
            client.sessions.run(1, options={"depth": 2})
            """
        )
    )
    env = {**os.environ, "MYPYPATH": f"{generated}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--config-file",
            "",
            str(user),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=generated,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    lines = sorted({int(line.split(":")[1]) for line in errors})
    assert lines == [7, 8, 9, 10, 11], result.stdout
    assert '"pending"' in result.stdout
    assert "no_such_option" in result.stdout
