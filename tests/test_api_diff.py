"""scripts/api_diff.py: each kind of change gets its line and level; the gate's exit codes."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import api_diff, generate
from scripts._api_diff_kinds import KINDS, Change
from somia._document import DocumentError, shipped

ROOT = Path(__file__).resolve().parent.parent


Doc = dict[str, Any]


def _base() -> Doc:
    """A small document: two operations sharing a request body and an answer schema."""
    answer = {
        "description": "The turn ran.",
        "headers": {"X-Session-Id": {"required": True, "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}},
    }
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Turn"}}},
    }

    def operation(op_id: str, *params: Doc) -> Doc:
        return {
            "operationId": op_id,
            "parameters": [{"$ref": "#/components/parameters/AgentId"}, *params],
            "requestBody": body,
            "responses": {"200": answer, "404": {"description": "Not found."}},
        }

    session = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
    key = {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "T", "version": "1"},
        "security": [{"Key": []}],
        "paths": {
            "/agents/{agent_id}": {"post": operation("createSession", key)},
            "/agents/{agent_id}/{session_id}": {"post": operation("interactSession", session)},
        },
        "components": {
            "securitySchemes": {"Key": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "parameters": {
                "AgentId": {
                    "name": "agent_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
            "schemas": {
                "Turn": {
                    "type": "object",
                    "properties": {
                        "input_data": {"description": "The input."},
                        "stream": {"type": "boolean", "default": False},
                        "source": {"type": "string", "maxLength": 100},
                        "mode": {"type": "string", "enum": ["fast", "slow"]},
                        "version": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                        "level": {"type": "integer"},
                    },
                },
                "Answer": {
                    "type": "object",
                    "required": ["session_id", "pending"],
                    "properties": {
                        "session_id": {"type": "string", "maxLength": 64},
                        "message": {"type": ["string", "null"]},
                        "pending": {"type": "boolean"},
                        "state": {"type": "string", "enum": ["open", "closed"]},
                    },
                },
            },
        },
    }


OLD = _base()
BOTH = " [createSession, interactSession]"


def _turn(doc: Doc) -> Doc:
    turn: Doc = doc["components"]["schemas"]["Turn"]
    return turn


def _answer(doc: Doc) -> Doc:
    answer: Doc = doc["components"]["schemas"]["Answer"]
    return answer


def _create(doc: Doc) -> Doc:
    op: Doc = doc["paths"]["/agents/{agent_id}"]["post"]
    return op


def _report(new: Doc, old: Doc = OLD) -> list[str]:
    lines: list[str] = api_diff.report(api_diff.compare(old, new))
    return lines


def _edited(edit: Any) -> Doc:
    new = copy.deepcopy(OLD)
    edit(new)
    return new


# -- no change, and changes with the same meaning ------------------------------------------------


def test_the_same_document_is_one_line_saying_so() -> None:
    assert _report(copy.deepcopy(OLD)) == ["no change to the API"]


def test_a_renamed_ref_and_reordered_keys_are_no_change() -> None:
    new = copy.deepcopy(OLD)
    schemas = new["components"]["schemas"]
    schemas["TurnRequest"] = dict(reversed(list(schemas.pop("Turn").items())))
    for op in (_create(new), new["paths"]["/agents/{agent_id}/{session_id}"]["post"]):
        op["requestBody"] = copy.deepcopy(op["requestBody"])
        op["requestBody"]["content"]["application/json"]["schema"] = {
            "$ref": "#/components/schemas/TurnRequest"
        }
    assert _report(new) == ["no change to the API"]


def test_descriptions_and_examples_only_are_one_documentation_line() -> None:
    def edit(doc: Doc) -> None:
        _turn(doc)["properties"]["input_data"]["description"] = "What the agent reads."
        _turn(doc)["properties"]["source"]["examples"] = ["cli"]
        doc["info"]["description"] = "Now described."

    (line,) = _report(_edited(edit))
    assert line == "info: documentation only: changed at info, Turn.input_data, Turn.source"


# -- one test per kind of change -----------------------------------------------------------------

CASES: list[tuple[str, Any, str]] = [
    (
        "operation removed",
        lambda d: d["paths"].pop("/agents/{agent_id}/{session_id}"),
        "breaking: operation interactSession: removed",
    ),
    (
        "operation added",
        lambda d: d["paths"]["/agents/{agent_id}"].update(
            get={"operationId": "listSessions", "responses": {"200": {"description": "ok"}}}
        ),
        "info: operation listSessions: added (GET /agents/{agent_id})",
    ),
    (
        "operation deprecated",
        lambda d: _create(d).update(deprecated=True),
        "warning: operation createSession: deprecated [createSession]",
    ),
    (
        "optional parameter added",
        lambda d: _create(d)["parameters"].append(
            {"name": "trace", "in": "query", "schema": {"type": "boolean"}}
        ),
        "info: query parameter trace: added (optional, boolean) [createSession]",
    ),
    (
        "required parameter added",
        lambda d: _create(d)["parameters"].append(
            {"name": "tenant", "in": "query", "required": True, "schema": {"type": "string"}}
        ),
        "breaking: query parameter tenant: added (required, string) [createSession]",
    ),
    (
        "parameter removed",
        lambda d: d["paths"]["/agents/{agent_id}/{session_id}"]["post"]["parameters"].pop(),
        "breaking: path parameter session_id: removed [interactSession]",
    ),
    (
        "parameter made required",
        lambda d: _create(d)["parameters"][1].update(required=True),
        "breaking: header parameter Idempotency-Key: made required [createSession]",
    ),
    (
        "shared parameter's bound tightened",
        lambda d: d["components"]["parameters"]["AgentId"]["schema"].update(minimum=10),
        "breaking: path parameter agent_id: minimum tightened from 1 to 10" + BOTH,
    ),
    (
        "request field added, optional",
        lambda d: _turn(d)["properties"].update(topic={"type": "string"}),
        "info: Turn.topic: optional request field added (string)" + BOTH,
    ),
    (
        "request field added, required",
        lambda d: (
            _turn(d)["properties"].update(locale={"type": "string"}),
            _turn(d).update(required=["locale"]),
        ),
        "breaking: Turn.locale: required request field added (string)" + BOTH,
    ),
    (
        "request field removed",
        lambda d: _turn(d)["properties"].pop("source"),
        "breaking: Turn.source: request field removed" + BOTH,
    ),
    (
        "request field made required",
        lambda d: _turn(d).update(required=["stream"]),
        "breaking: Turn.stream: request field made required" + BOTH,
    ),
    (
        "request type narrowed",
        lambda d: _turn(d)["properties"].update(version={"type": "string"}),
        "breaking: Turn.version: type narrowed from integer | string to string" + BOTH,
    ),
    (
        "request type widened",
        lambda d: _turn(d)["properties"]["source"].update(type=["string", "null"]),
        "info: Turn.source: type widened from string to null | string" + BOTH,
    ),
    (
        "request type changed",
        lambda d: _turn(d)["properties"]["level"].update(type="boolean"),
        "breaking: Turn.level: type changed from integer to boolean" + BOTH,
    ),
    (
        "request enum value removed",
        lambda d: _turn(d)["properties"]["mode"].update(enum=["fast"]),
        'breaking: Turn.mode: enum values removed: "slow"' + BOTH,
    ),
    (
        "request enum value added",
        lambda d: _turn(d)["properties"]["mode"].update(enum=["fast", "slow", "auto"]),
        'info: Turn.mode: enum values added: "auto"' + BOTH,
    ),
    (
        "request format added",
        lambda d: _turn(d)["properties"]["source"].update(format="uri"),
        "breaking: Turn.source: format changed from none to uri" + BOTH,
    ),
    (
        "request bound tightened",
        lambda d: _turn(d)["properties"]["source"].update(maxLength=10),
        "breaking: Turn.source: maxLength tightened from 100 to 10" + BOTH,
    ),
    (
        "request bound loosened",
        lambda d: _turn(d)["properties"]["source"].pop("maxLength"),
        "info: Turn.source: maxLength loosened from 100 to none" + BOTH,
    ),
    (
        "request pattern added",
        lambda d: _turn(d)["properties"]["source"].update(pattern="^[a-z]+$"),
        'breaking: Turn.source: pattern tightened from none to "^[a-z]+$"' + BOTH,
    ),
    (
        "request default changed",
        lambda d: _turn(d)["properties"]["stream"].update(default=True),
        "warning: Turn.stream: default changed from false to true" + BOTH,
    ),
    (
        "request default removed",
        lambda d: _turn(d)["properties"]["stream"].pop("default"),
        "warning: Turn.stream: default false removed" + BOTH,
    ),
    (
        "request field deprecated",
        lambda d: _turn(d)["properties"]["source"].update(deprecated=True),
        "warning: Turn.source: deprecated" + BOTH,
    ),
    (
        "request body made optional",
        lambda d: _create(d).update(requestBody={**_create(d)["requestBody"], "required": False}),
        "info: createSession request body: made optional [createSession]",
    ),
    (
        "answer field removed",
        lambda d: _answer(d)["properties"].pop("message"),
        "breaking: Answer.message: answer field removed" + BOTH,
    ),
    (
        "answer field renamed",
        lambda d: _answer(d)["properties"].update(text=_answer(d)["properties"].pop("message")),
        "breaking: Answer.message: answer field renamed to text" + BOTH,
    ),
    (
        "answer field added",
        lambda d: _answer(d)["properties"].update(finished={"type": "boolean"}),
        "info: Answer.finished: answer field added (boolean)" + BOTH,
    ),
    (
        "answer type widened",
        lambda d: _answer(d)["properties"]["pending"].update(type=["boolean", "null"]),
        "breaking: Answer.pending: type widened from boolean to boolean | null" + BOTH,
    ),
    (
        "answer type narrowed",
        lambda d: _answer(d)["properties"]["message"].update(type="string"),
        "info: Answer.message: type narrowed from null | string to string" + BOTH,
    ),
    (
        "answer type changed",
        lambda d: _answer(d)["properties"]["pending"].update(type="integer"),
        "breaking: Answer.pending: type changed from boolean to integer" + BOTH,
    ),
    (
        "answer field made optional",
        lambda d: _answer(d).update(required=["session_id"]),
        "warning: Answer.pending: answer field made optional" + BOTH,
    ),
    (
        "answer enum value added",
        lambda d: _answer(d)["properties"]["state"].update(enum=["open", "closed", "paused"]),
        'warning: Answer.state: enum values added: "paused"' + BOTH,
    ),
    (
        "answer bound loosened",
        lambda d: _answer(d)["properties"]["session_id"].pop("maxLength"),
        "warning: Answer.session_id: maxLength loosened from 64 to none" + BOTH,
    ),
    (
        "status added",
        lambda d: _create(d)["responses"].update({"409": {"description": "Conflict."}}),
        "info: status 409: added [createSession]",
    ),
    (
        "status removed",
        lambda d: _create(d)["responses"].pop("404"),
        "breaking: status 404: removed [createSession]",
    ),
    (
        "answer media type added",
        lambda d: _create(d)["responses"].update(
            {"200": _with_media(_create(d)["responses"]["200"], "text/event-stream")}
        ),
        "info: media type text/event-stream: answer added [createSession]",
    ),
    (
        "request media type removed",
        lambda d: _create(d).update(requestBody={"required": True, "content": {}}),
        "breaking: media type application/json: request body removed [createSession]",
    ),
    (
        "response header removed",
        lambda d: _create(d)["responses"].update(
            {"200": {**_create(d)["responses"]["200"], "headers": {}}}
        ),
        "breaking: response header X-Session-Id: removed [createSession; status 200]",
    ),
    (
        "security scheme changed",
        lambda d: d["components"]["securitySchemes"]["Key"].update(name="apikey"),
        'breaking: security: changed from Key {"in": "header", "name": "x-api-key", "type": '
        '"apiKey"} [] to Key {"in": "header", "name": "apikey", "type": "apiKey"} []' + BOTH,
    ),
    (
        "security removed",
        lambda d: d.update(security=[]),
        "info: security: authentication no longer required" + BOTH,
    ),
    (
        "unknown keyword",
        lambda d: _turn(d)["properties"]["source"].update(readOnly=True),
        "warning: Turn.source: `readOnly` changed (not classified: review it)" + BOTH,
    ),
    (
        "servers changed",
        lambda d: d.update(servers=[{"url": "https://example.test"}]),
        "warning: servers: changed from [] to ['https://example.test']",
    ),
]


def _with_media(response: Doc, media: str) -> Doc:
    return {**response, "content": {**response["content"], media: {"schema": {"type": "string"}}}}


def _case_ids() -> list[str]:
    return [name for name, _, _ in CASES]


@pytest.mark.parametrize(("name", "edit", "line"), CASES, ids=_case_ids())
def test_each_kind_of_change_is_one_line_with_its_level(name: str, edit: Any, line: str) -> None:
    assert _report(_edited(edit)) == [line]


def test_the_word_breaking_is_only_on_breaking_lines() -> None:
    for _, edit, _ in CASES:
        changes = api_diff.compare(OLD, _edited(edit))
        for line in [*api_diff.report(changes), api_diff.summary(changes)]:
            if line.startswith("api-diff:"):
                assert ("breaking" in line) == any(c.level == "breaking" for c in changes)
            else:
                assert ("breaking" in line) == line.startswith("breaking: "), line


def test_lines_come_breaking_first_then_warnings_then_info() -> None:
    def edit(doc: Doc) -> None:
        _turn(doc)["properties"].update(topic={"type": "string"})
        _turn(doc)["properties"]["stream"].update(default=True)
        _answer(doc)["properties"].pop("message")

    assert _report(_edited(edit)) == [
        "breaking: Answer.message: answer field removed" + BOTH,
        "warning: Turn.stream: default changed from false to true" + BOTH,
        "info: Turn.topic: optional request field added (string)" + BOTH,
    ]


def test_a_recursive_schema_is_compared_once_without_looping() -> None:
    def tree(doc: Doc) -> None:
        _answer(doc)["properties"]["children"] = {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Answer"},
        }

    old = _edited(tree)
    new = copy.deepcopy(old)
    _answer(new)["properties"]["pending"]["type"] = "string"
    assert _report(new, old) == [
        "breaking: Answer.pending: type changed from boolean to string" + BOTH
    ]


def test_a_status_written_as_a_number_is_the_same_status() -> None:
    new = _edited(lambda d: _create(d).update(responses={200: _create(d)["responses"]["200"]}))
    assert _report(new) == ["breaking: status 404: removed [createSession]"]


def test_a_parameter_without_a_name_is_a_document_error() -> None:
    new = _edited(lambda d: _create(d)["parameters"].append({"in": "query"}))
    with pytest.raises(DocumentError, match="a malformed document"):
        api_diff.compare(OLD, new)


def test_a_ref_that_leads_nowhere_is_a_document_error() -> None:
    new = _edited(lambda d: d["components"]["schemas"].pop("Answer"))
    with pytest.raises(DocumentError, match="leads nowhere"):
        api_diff.compare(OLD, new)


# -- the real document --------------------------------------------------------------------------


def _real_base() -> Doc:
    """The shipped document without what the edits below add, so that the reports stay those
    of these edits when the document grows (a new field, status or operation of its own)."""
    doc = copy.deepcopy(shipped().data)
    schemas = doc["components"]["schemas"]
    for name in ("conversation_topic", "conversationTopic", "locale"):
        schemas["AgentExecutionRequest"]["properties"].pop(name, None)
    schemas["AgentSessionResponse"]["properties"].pop("text", None)
    schemas["AgentSessionResponse"]["properties"]["metadata"].pop("properties", None)
    for item in doc["paths"].values():
        item.pop("delete", None)
        for status in ("408", "418", "502", "504"):
            item["post"]["responses"].pop(status, None)
    return doc


SPEC_DOC: Doc = _real_base()


def _issue_edits(doc: Doc) -> None:
    """The issue's eight edits of openapi/somia.yaml, and one renamed $ref."""
    schemas = doc["components"]["schemas"]
    request = schemas["AgentExecutionRequest"]
    answer = schemas["AgentSessionResponse"]["properties"]
    request["properties"]["conversation_topic"] = {"type": "string"}
    request["properties"]["locale"] = {"type": "string"}
    request["required"] = ["locale"]
    del answer["finished"]
    answer["text"] = answer.pop("message")
    version = request["properties"]["pipeline_version"]
    version["oneOf"] = [member for member in version["oneOf"] if member["type"] == "string"]
    del request["properties"]["trace_enabled"]["default"]
    paths = doc["paths"]
    paths["/api/v1/external/agent/{agent_id}/session"]["post"]["responses"]["408"] = {
        "description": "The server gave up waiting for the request."
    }
    paths["/api/v1/external/agent/{agent_id}/session/{session_id}"]["delete"] = {
        "operationId": "deleteSession",
        "parameters": [
            {"$ref": "#/components/parameters/AgentId"},
            {"$ref": "#/components/parameters/SessionId"},
        ],
        "responses": {"204": {"description": "The session is gone."}},
    }
    schemas["TurnRequest"] = schemas.pop("AgentExecutionRequest")
    body = doc["components"]["requestBodies"]["AgentExecution"]["content"]["application/json"]
    body["schema"] = {"$ref": "#/components/schemas/TurnRequest"}


def _issue_document() -> Doc:
    new = copy.deepcopy(SPEC_DOC)
    _issue_edits(new)
    return new


def test_the_real_document_is_compared_well_under_a_second() -> None:
    text = yaml.safe_dump(SPEC_DOC, sort_keys=False)
    started = time.perf_counter()
    old = api_diff.load(text)
    lines = api_diff.report(api_diff.compare(old, _issue_document()))
    elapsed = time.perf_counter() - started
    assert len(lines) == 8
    assert elapsed < 0.5, f"{elapsed:.2f} s"


def _page_block(after: str) -> str:
    page = (ROOT / "docs" / "regenerating.md").read_text(encoding="utf-8")
    start = page.index("```text\n", page.index(after)) + len("```text\n")
    return page[start : page.index("```", start)]


def test_the_docs_show_the_real_report_of_the_issue_edits() -> None:
    changes = api_diff.compare(SPEC_DOC, _issue_document())
    report = "\n".join([api_diff.summary(changes), *api_diff.report(changes)]) + "\n"
    assert _page_block("prints what changed") == report
    draft = "\n".join(api_diff.changelog(changes, version="0.2.0a1")) + "\n"
    assert _page_block("ready to paste into") == draft


# -- the changelog draft ------------------------------------------------------------------------


def _draft(edit: Any, version: str = "0.2.0a1") -> list[str]:
    new = copy.deepcopy(SPEC_DOC)
    edit(new)
    lines: list[str] = api_diff.changelog(api_diff.compare(SPEC_DOC, new), version=version)
    return lines


def test_the_draft_names_keywords_attributes_and_exception_classes() -> None:
    create = "/api/v1/external/agent/{agent_id}/session"

    def edit(doc: Doc) -> None:
        schemas = doc["components"]["schemas"]
        schemas["AgentExecutionRequest"]["properties"]["conversationTopic"] = {"type": "string"}
        del schemas["AgentSessionResponse"]["properties"]["pending"]
        metadata = schemas["AgentSessionResponse"]["properties"]["metadata"]
        metadata["properties"] = {"cost": {"type": "number"}}
        responses = doc["paths"][create]["post"]["responses"]
        del responses["409"]
        responses["418"] = {"description": "A teapot."}

    assert _draft(edit) == [
        "Suggested version bump: major: 0.2.0a1 -> 0.2.0a2 (a pre-release)",
        "",
        "### Added",
        "",
        "- keyword `conversation_topic` of `create_session` and `interact_session`: "
        "optional request field added (string).",
        "- `AgentSessionResponseMetadata.cost` (generated class): answer field added (number).",
        "- status 418 (no exception class of its own: raises `ApiError`) of `create_session`: "
        "added.",
        "",
        "### Removed",
        "",
        "- **Breaking:** `AgentSessionResponse.pending`: answer field removed.",
        "- **Breaking:** status 409 (raises `ConflictError`) of `create_session`: removed.",
    ]


def test_the_draft_reads_the_status_classes_from_somia_errors() -> None:
    from somia import _errors

    def edit(doc: Doc) -> None:
        responses = doc["paths"]["/api/v1/external/agent/{agent_id}/session"]["post"]["responses"]
        responses["504"] = {"description": "Gateway timeout."}
        responses["502"] = {"description": "Bad gateway."}

    assert _errors.status_code_to_error(504) is _errors.ServiceUnavailableError
    assert _draft(edit)[4:] == [
        "- status 502 (no exception class of its own: raises `ServerError`) of `create_session`: "
        "added.",
        "- status 504 (raises `ServiceUnavailableError`) of `create_session`: added.",
    ]


def test_a_documentation_only_change_suggests_a_patch() -> None:
    def edit(doc: Doc) -> None:
        doc["info"]["description"] = "Shorter."

    assert _draft(edit, version="1.4.2") == [
        "Suggested version bump: patch: 1.4.2 -> 1.4.3",
        "",
        "### Changed",
        "",
        "- API documentation (descriptions, examples) updated.",
    ]


@pytest.mark.parametrize(
    ("level", "version", "suggested"),
    [
        ("breaking", "1.4.2", "major: 1.4.2 -> 2.0.0"),
        ("info", "1.4.2", "minor: 1.4.2 -> 1.5.0"),
        ("breaking", "0.2.1", "major: 0.2.1 -> 0.3.0"),
        ("warning", "0.2.1", "minor: 0.2.1 -> 0.2.2"),
        ("breaking", "0.2.0a1", "major: 0.2.0a1 -> 0.2.0a2 (a pre-release)"),
        ("info", "2.0.0rc1", "minor: 2.0.0rc1 -> 2.0.0rc2 (a pre-release)"),
    ],
)
def test_the_suggested_bump_follows_the_worst_change(
    level: str, version: str, suggested: str
) -> None:
    kind = {"breaking": "status-removed", "warning": "deprecated", "info": "status-added"}[level]
    changes = [Change(kind, "status 404", "removed")]
    assert api_diff.bump(changes, version) == suggested
    assert api_diff.bump([], version) == f"none: no change to the API ({version} stays)"


# -- the command line and the gate --------------------------------------------------------------


def _write(path: Path, doc: Doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_two_documents_exit_0_for_info_and_1_for_breaking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _write(tmp_path / "old.yaml", OLD)
    added = _write(tmp_path / "added.yaml", _edited(CASES[1][1]))
    removed = _write(tmp_path / "removed.yaml", _edited(CASES[0][1]))
    assert api_diff.main([str(old), str(added)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "api-diff: 1 change (1 info)",
        "info: operation listSessions: added (GET /agents/{agent_id})",
    ]
    assert api_diff.main([str(old), str(removed)]) == 1
    assert "breaking: operation interactSession: removed" in capsys.readouterr().out
    assert api_diff.main([str(old), str(old)]) == 0
    assert capsys.readouterr().out == "no change to the API\n"


def test_fail_on_warning_makes_warnings_fail(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.yaml", OLD)
    warned = _write(tmp_path / "new.yaml", _edited(lambda d: _create(d).update(deprecated=True)))
    assert api_diff.main([str(old), str(warned)]) == 0
    assert api_diff.main([str(old), str(warned), "--fail-on", "warning"]) == 1


def test_a_document_that_does_not_parse_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _write(tmp_path / "old.yaml", OLD)
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.1.0\npaths: {\n")
    assert api_diff.main([str(old), str(broken)]) == 2
    assert "broken.yaml does not parse" in capsys.readouterr().err
    broken.write_text("- a list\n")
    assert api_diff.main([str(old), str(broken)]) == 2
    assert "is not an OpenAPI document" in capsys.readouterr().err


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose HEAD holds OLD as openapi/somia.yaml."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    _git(tmp_path, "init", "-q")
    _write(tmp_path / "openapi/somia.yaml", OLD)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    return tmp_path


@pytest.mark.slow
def test_base_ref_compares_the_committed_document_with_the_working_tree(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = repo / "openapi/somia.yaml"
    assert api_diff.main(["--base", "HEAD", "--spec", str(spec)]) == 0
    _write(spec, _edited(lambda d: _answer(d)["properties"].pop("message")))
    capsys.readouterr()
    assert api_diff.main(["--base", "HEAD", "--spec", str(spec), "--changelog"]) == 1
    out = capsys.readouterr().out
    assert "breaking: Answer.message: answer field removed" + BOTH in out
    assert "- **Breaking:** `Answer.message` (generated class): answer field removed." in out
    assert api_diff.main(["--base", "no-such-ref", "--spec", str(spec)]) == 2
    assert "cannot read openapi/somia.yaml at 'no-such-ref'" in capsys.readouterr().err


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "api-diff", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_make_api_diff_passes_fails_and_reports_the_scripts_status(repo: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    spec = repo / "openapi/somia.yaml"
    ok = _make("BASE=HEAD", f"SPEC={spec}")
    assert (ok.returncode, ok.stdout) == (0, "no change to the API\n")
    _write(spec, _edited(lambda d: _create(d).update(deprecated=True)))
    warned = _make("BASE=HEAD", f"SPEC={spec}")
    assert warned.returncode == 0, warned.stderr
    assert "warning: operation createSession: deprecated [createSession]" in warned.stdout
    strict = _make("BASE=HEAD", f"SPEC={spec}", "FAIL_ON=warning")
    assert strict.returncode != 0
    assert "api-diff] Error 1" in strict.stderr
    bad = _make("BASE=no-such-ref", f"SPEC={spec}")
    assert bad.returncode != 0
    assert "api-diff] Error 2" in bad.stderr


# -- make generate -------------------------------------------------------------------------------


def test_report_files_says_what_changed_or_why_it_cannot(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.json", OLD)
    new = tmp_path / "new.json"
    new.write_text(json.dumps(_edited(lambda d: _turn(d)["properties"].pop("source"))))
    assert api_diff.report_files(old, new) == [
        "api-diff: 1 change (1 breaking)",
        "breaking: Turn.source: request field removed" + BOTH,
    ]
    old.write_text("{not json")
    (line,) = api_diff.report_files(old, new)
    assert line.startswith("api-diff: cannot compare with the last generated document: ")


def test_the_draft_names_parameters_by_keyword_and_headers_by_name() -> None:
    def edit(doc: Doc) -> None:
        doc["components"]["parameters"]["IdempotencyKey"]["schema"]["maxLength"] = 64
        del doc["components"]["responses"]["SessionAnswer"]["headers"]["X-Request-Id"]

    assert _draft(edit)[2:] == [
        "### Changed",
        "",
        "- **Breaking:** keyword `idempotency_key` of `create_session` and `interact_session`: "
        "maxLength tightened from 255 to 64.",
        "",
        "### Removed",
        "",
        "- answer header `X-Request-Id` of `create_session` and `interact_session`: removed.",
    ]


@pytest.mark.slow
def test_make_generate_prints_the_report_before_regenerating(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "somia_api"
    target.mkdir()
    older = copy.deepcopy(shipped().data)
    del older["components"]["schemas"]["AgentSessionResponse"]["properties"]["finished"]
    (target / "openapi.json").write_text(json.dumps(older))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)  # the pins generate.py checks
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    monkeypatch.setattr(generate, "TARGET", target)
    assert generate.main([]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "api-diff: 1 change (1 info)",
        "info: AgentSessionResponse.finished: answer field added (boolean)" + BOTH,
        "regenerated somia_api",
    ]
    assert json.loads((target / "openapi.json").read_text()) == shipped().data


def test_the_docs_table_of_kinds_is_the_code_s() -> None:
    page = (ROOT / "docs" / "regenerating.md").read_text(encoding="utf-8")
    start = page.index("| what changed | breaking | warning | info |")
    rows = page[start : page.index("\n\n", start)].splitlines()[2:]
    table: dict[str, str] = {}
    for row in rows:
        cells = row.strip("|").split("|")[1:]
        for level, cell in zip(("breaking", "warning", "info"), cells, strict=True):
            for kind in re.findall(r"`([a-z-]+)`", cell):
                assert kind not in table, f"{kind} is listed twice"
                table[kind] = level
    assert table == {kind: level for kind, (level, _) in KINDS.items()}
