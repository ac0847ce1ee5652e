"""The matrix follows the document: change a copy of it and the promises change with it.

Each test edits a copy of the shipped document and gives its path to both the suite and the
fake (which follows it): an added header parameter with bounds, an added status with a
recipe, a second security scheme, an added operation, a changed bound, a changed refusal
status. The plan grows or follows, the fake keeps the new promise, and a server that breaks
it is caught: no expectation is spelled in the suite by hand.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from somia._document import load, shipped
from somia.testing import FakeSomia
from tests.contract.broken_servers import (
    Answer,
    Breakage,
    Request,
    failed_checks,
    fake_target,
    run_broken,
    serving,
)
from tests.contract.plan import compile_plan
from tests.contract.runner import ContractRun
from tests.contract.settings import Target

TARGET = Target("http://contract.invalid", "sk-contract", 1, other_agent_id=2)
CREATE = "/api/v1/external/agent/{agent_id}/session"
V2 = "/api/v2/agent/{agent_id}/sessions"


def _changed(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the shipped document with `change` applied, written as JSON; its path."""
    document = copy.deepcopy(shipped().data)
    change(document)
    path = tmp_path / "somia.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _ids(path: Path | None, prefix: str = "") -> set[str]:
    plan = compile_plan(load(path), TARGET)
    return {probe.id.split("#")[0] for probe in plan.probes if probe.id.startswith(prefix)}


def _bases(run: ContractRun) -> set[str]:
    return {check.split("#")[0] for check in failed_checks(run)}


def _add_trace_level(document: dict[str, Any]) -> None:
    document["components"]["parameters"]["TraceLevel"] = {
        "name": "X-Trace-Level",
        "in": "header",
        "required": False,
        "schema": {"type": "integer", "minimum": 0, "maximum": 5},
    }
    parameters = document["paths"][CREATE]["post"]["parameters"]
    parameters.append({"$ref": "#/components/parameters/TraceLevel"})


def _drop_trace_level(request: Request, fake: FakeSomia) -> None:
    request.headers.pop("x-trace-level", None)


def test_an_added_header_parameter_with_bounds_is_probed_at_its_edges(tmp_path: Path) -> None:
    path = _changed(tmp_path, _add_trace_level)

    plan = compile_plan(load(path), TARGET)
    added = [p for p in plan.probes if p.id.startswith("createSession/bounds/header-X-Trace-Level")]
    honest = run_broken(None, "bounds", document=path)
    broken = run_broken(Breakage(before=_drop_trace_level), "bounds", document=path)

    sent = {p.request.headers["X-Trace-Level"]: p.expect.status for p in added}
    assert sent == {"0": 404, "5": 404, "-1": 422, "6": 422, "one": 422}
    assert {
        "createSession header X-Trace-Level: minimum",
        "createSession header X-Trace-Level: maximum",
    } <= plan.keywords
    assert not any("X-Trace-Level" in p.id for p in plan.probes if p.operation == "interactSession")
    assert honest.findings == [], honest.findings[0].line if honest.findings else ""
    assert not [k for k in honest.keywords()[1] if "X-Trace-Level" in k]
    assert _bases(broken) == {"createSession/bounds/header-X-Trace-Level"}


def _add_unsupported_media_type(document: dict[str, Any]) -> None:
    rules = document["x-somia-refusals"]
    at = next(i for i, rule in enumerate(rules) if rule["rule"] == "invalid-request")
    rules.insert(at + 1, {"rule": "unsupported-media-type", "status": 415})
    document["components"]["responses"]["UnsupportedMediaType"] = {
        "description": "The body is not of a media type the operation takes.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for item in document["paths"].values():
        responses = item["post"]["responses"]
        responses["415"] = {"$ref": "#/components/responses/UnsupportedMediaType"}
        responses["402"] = {"$ref": "#/components/responses/Forbidden"}  # no rule, no recipe


def _415_as_422(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
    return Answer(422, answer.headers, answer.body) if answer.status == 415 else answer


def test_an_added_status_with_a_recipe_is_provoked_and_one_without_is_listed(
    tmp_path: Path,
) -> None:
    path = _changed(tmp_path, _add_unsupported_media_type)

    plan = compile_plan(load(path), TARGET)
    honest = run_broken(None, "refusals", document=path)
    broken = run_broken(Breakage(after=_415_as_422), "refusals", document=path)

    content = [p for p in plan.probes if p.id.endswith("/refusals/content-type")]
    assert [p.expect.status for p in content] == [415, 415]
    assert {r.id for r in plan.rows if r.id.endswith("/refusals/402")} == {
        "createSession/refusals/402",
        "interactSession/refusals/402",
    }
    assert honest.findings == [], honest.findings[0].line if honest.findings else ""
    assert _bases(broken) == {
        f"{op}/refusals/content-type" for op in ("createSession", "interactSession")
    }


def _add_bearer_scheme(document: dict[str, Any]) -> None:
    document["components"]["securitySchemes"]["BearerAuth"] = {"type": "http", "scheme": "bearer"}
    document["security"] = [{"ApiKeyAuth": []}, {"BearerAuth": []}]


def _any_bearer_accepted(request: Request, fake: FakeSomia) -> None:
    if request.headers.get("authorization", "").startswith("Bearer "):
        request.headers[fake.api_key_header] = fake.api_key


def test_a_second_security_scheme_is_probed_on_every_operation(tmp_path: Path) -> None:
    path = _changed(tmp_path, _add_bearer_scheme)

    added = _ids(path, "") - _ids(None, "")
    honest = run_broken(None, "security", document=path)
    broken = run_broken(Breakage(before=_any_bearer_accepted), "security", document=path)

    assert added == {
        f"{op}/security/wrong-BearerAuth" for op in ("createSession", "interactSession")
    }
    assert honest.findings == [], honest.findings[0].line if honest.findings else ""
    assert {
        f"{op}/security/wrong-BearerAuth" for op in ("createSession", "interactSession")
    } <= _bases(broken)


def _add_v2_route(document: dict[str, Any]) -> None:
    create = copy.deepcopy(document["paths"][CREATE]["post"])
    create["operationId"] = "startSession"
    create["parameters"] = [{"$ref": "#/components/parameters/AgentId"}]
    document["paths"][V2] = {"post": create}


def _serve_v2(*, with_auth: bool) -> Breakage:
    def before(request: Request, fake: FakeSomia) -> None:
        if request.path.startswith("/api/v2/agent/"):
            agent = request.path.split("/")[4]
            request.path = f"/api/v1/external/agent/{agent}/session"
            if not with_auth:
                request.headers[fake.api_key_header] = fake.api_key

    return Breakage(before=before)


def test_an_added_operation_gets_every_group_of_promises(tmp_path: Path) -> None:
    path = _changed(tmp_path, _add_v2_route)

    plan = compile_plan(load(path), TARGET)
    honest = run_broken(_serve_v2(with_auth=True), document=path)
    broken = run_broken(_serve_v2(with_auth=False), "security", document=path)

    groups = {p.group for p in plan.probes if p.operation == "startSession"}
    assert groups == {"security", "precedence", "bounds", "refusals", "media", "accept"}
    assert {w.group for w in plan.watches if w.operation == "startSession"} == {
        "stream",
        "generated",
    }
    assert any(k.startswith("startSession body.") for k in plan.keywords)
    assert honest.findings == [], honest.findings[0].line if honest.findings else ""
    assert honest.not_run() == []
    assert honest.ledger.turns_spent <= TARGET.budget
    assert _bases(broken) == {
        f"startSession/security/{s}"
        for s in ("none", "wrong-ApiKeyAuth", "moved-header-authorization", "moved-query-x-api-key")
    }


def _shorter_session_ids(document: dict[str, Any]) -> None:
    document["components"]["parameters"]["SessionId"]["schema"]["maxLength"] = 64


def test_a_changed_bound_moves_the_edges_and_the_old_server_is_caught(tmp_path: Path) -> None:
    path = _changed(tmp_path, _shorter_session_ids)

    plan = compile_plan(load(path), TARGET)
    honest = run_broken(None, "bounds", document=path)
    with serving() as old:  # follows the shipped document: 256 characters still pass
        broken = ContractRun(fake_target(old), document=path)
        broken.run_group("bounds")
    broken.close()

    lengths = {
        len(p.request.path["session_id"]): p.expect.status
        for p in plan.probes
        if p.id.startswith("interactSession/bounds/path-session_id")
    }
    # (a number where a string is documented is, as text, a string of 5 characters)
    assert lengths == {1: 404, 5: 404, 64: 404, 65: 422}
    assert honest.findings == [], honest.findings[0].line if honest.findings else ""
    assert _bases(broken) == {"interactSession/bounds/path-session_id"}
    (finding,) = broken.findings
    assert "65 characters" in finding.promise
    assert "expected 422, got 404" in finding.line


def _invalid_as_400(document: dict[str, Any]) -> None:
    for rule in document["x-somia-refusals"]:
        if rule["rule"] == "invalid-request":
            rule["status"] = 400


@pytest.mark.parametrize("served", ["the copy", "the shipped document"])
def test_a_changed_refusal_status_is_what_every_probe_expects(tmp_path: Path, served: str) -> None:
    path = _changed(tmp_path, _invalid_as_400)

    with serving(document=path if served == "the copy" else None) as server:
        run = ContractRun(fake_target(server), document=path)
        run.run_group("bounds")
    run.close()

    refusals = [p for p in run.plan.of("bounds") if p.expect.rule == "invalid-request"]
    assert {p.expect.status for p in refusals} == {400}
    if served == "the copy":
        assert run.findings == [], run.findings[0].line
    else:
        assert {f.check for f in run.findings} == {p.id for p in refusals}


def test_the_plan_is_the_same_for_the_same_document_and_target() -> None:
    first = compile_plan(shipped(), TARGET)
    again = compile_plan(load(copy.deepcopy(shipped().data)), TARGET)

    assert first.fingerprint() == again.fingerprint()
    assert [p.request for p in first.probes] == [p.request for p in again.probes]
