"""`make contract` (`pytest tests/contract --live`): what a platform team sees, its exit
status, its report folder, and reproduction commands that show `$SOMIA_API_KEY`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from somia.testing import FakeSomia
from tests.contract.broken_servers import Answer, Breakage, Request, fake_target, reply, serving
from tests.contract.runner import ContractRun
from tests.contract.settings import KEY_VARIABLE

pytestmark = pytest.mark.slow  # drives pytest in a process of its own

ROOT = Path(__file__).resolve().parents[2]


def make_contract(report_dir: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMIA_")}
    env["SOMIA_CONTRACT_REPORT_DIR"] = str(report_dir)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/contract",
            "--live",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, **variables},
        cwd=ROOT,
        check=False,
    )


def test_without_its_variables_it_exits_2_naming_them(tmp_path: Path) -> None:
    done = make_contract(tmp_path, SOMIA_AGENT_ID="3")

    assert done.returncode == 2, done.stdout + done.stderr
    assert "the contract run needs SOMIA_CONTRACT_BASE_URL, SOMIA_API_KEY." in done.stderr
    assert "SOMIA_FORBIDDEN_AGENT_ID: an agent the key may not run" in done.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_an_unreachable_base_url_exits_2(tmp_path: Path) -> None:
    done = make_contract(
        tmp_path,
        SOMIA_CONTRACT_BASE_URL="http://127.0.0.1:9",
        SOMIA_API_KEY="k",
        SOMIA_AGENT_ID="1",
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert "SOMIA_CONTRACT_BASE_URL http://127.0.0.1:9 is unreachable" in done.stderr


def test_a_refused_key_exits_2_with_one_line_that_never_shows_the_key(tmp_path: Path) -> None:
    wrong = "sk-somia-not-this-key"
    with serving() as server:
        done = make_contract(
            tmp_path,
            SOMIA_CONTRACT_BASE_URL=server.base_url,
            SOMIA_API_KEY=wrong,
            SOMIA_AGENT_ID="1",
        )
        sent = len(server.requests)

    assert done.returncode == 2, done.stdout[-3000:] + done.stderr
    assert "make contract: SOMIA_API_KEY was refused (401) on POST /api/v1/external/agent/" in (
        done.stderr
    )
    assert "where a valid key gets 4" in done.stderr
    assert "FAIL" not in done.stdout + done.stderr
    assert wrong not in done.stdout + done.stderr
    assert sent == 2  # the base URL answers; the one request that tells
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_against_the_fake_it_exits_0_prints_the_matrix_and_writes_the_report(
    tmp_path: Path,
) -> None:
    with serving() as server:
        base_url = server.base_url
        done = make_contract(
            tmp_path,
            SOMIA_CONTRACT_BASE_URL=base_url,
            SOMIA_API_KEY=server.api_key,
            SOMIA_AGENT_ID="1",
            SOMIA_OTHER_AGENT_ID="2",
        )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    out = done.stdout
    assert f"Promise matrix of {base_url}: " in out
    assert "  PASS createSession: a request without credentials" in out
    assert "  N/P  createSession: refuses a resource the key may not use  (needs such" in out
    assert "passed: every promise held" in out
    (folder,) = tmp_path.iterdir()
    assert f"; report: {folder}" in out
    summary = out.splitlines()[-2]
    assert summary.startswith("contract: ")
    assert (
        "; an honest deployment: at most 20 (12 planned, up to 8 generated, 10 spare); " in summary
    )
    report = json.loads((folder / "contract-report.json").read_text())
    assert report["turns_spent"] <= report["honest_turns"] <= 20
    assert report["keywords"]["missing"] == []
    statuses = {p["status"] for p in report["promises"]}
    assert statuses == {"passed", "not provokable", "left out for budget"}
    # Spare turns are left out only once the budget is spent, and spent on them last.
    assert report["turns_spent"] == 20
    generated = report["spent_on"]["generated"]
    assert summary.startswith(
        f"contract: 20 of 20 paid turns spent (media 4, generated {generated}, "
    )
    left = [p for p in report["promises"] if p["status"] == "left out for budget"]
    assert {p["group"] for p in left} == {"accept"}
    assert all(p["reason"].startswith("all 20 paid turns of the budget were spent") for p in left)
    junit = ET.parse(folder / "contract-junit.xml").getroot()
    cases = junit.findall("./testsuite/testcase")
    assert len(cases) == len(report["promises"])
    assert not junit.findall(".//failure")


def _forbid_other_keys_and_echo(request: Request, fake: FakeSomia) -> Answer | None:
    key = request.headers.get(fake.api_key_header)
    if key is not None and key != fake.api_key:
        return reply(403, {"detail": "Forbidden"})
    if "Grüße" in request.body.decode("utf-8", "replace"):  # the first paid turn
        return reply(500, {"detail": f"failed for key {key}"})
    return None


def test_a_broken_promise_exits_1_with_its_line_and_never_shows_the_key(tmp_path: Path) -> None:
    with serving(Breakage(before=_forbid_other_keys_and_echo)) as server:
        key = server.api_key
        done = make_contract(
            tmp_path,
            SOMIA_CONTRACT_BASE_URL=server.base_url,
            SOMIA_API_KEY=server.api_key,
            SOMIA_AGENT_ID="1",
            SOMIA_OTHER_AGENT_ID="2",
        )

    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    out = done.stdout
    line = "FAIL [createSession/security/wrong-ApiKeyAuth] createSession: a request with a wrong"
    assert line in out
    assert "expected 401, got 403" in out
    assert "FAIL [createSession/media/turn-1]" in out
    assert "failed for key $SOMIA_API_KEY" in out
    (folder,) = tmp_path.iterdir()
    for text in [out, done.stderr, *(f.read_text() for f in folder.iterdir())]:
        assert key not in text


@pytest.mark.parametrize(
    "probe",
    [
        "createSession/security/wrong-ApiKeyAuth",
        "createSession/media/turn-1",
        "createSession/refusals/body-too-large",
    ],
)
def test_a_reproduction_command_reproduces_with_the_key_from_the_environment(probe: str) -> None:
    with serving() as server:
        run = ContractRun(fake_target(server))
        outcome = run.run_probe(run.plan.probe(probe))
        assert outcome.exchange is not None
        command = run.ledger.reproduce(outcome.exchange)
        env = {**os.environ, KEY_VARIABLE: server.api_key}
        done = subprocess.run(
            ["sh", "-c", command], capture_output=True, text=True, timeout=60, env=env, check=False
        )
    run.close()

    assert server.api_key not in command
    assert done.stdout.startswith(f"HTTP/1.1 {outcome.exchange.status} "), (
        command[:300],
        done.stdout[:300],
        done.stderr,
    )
