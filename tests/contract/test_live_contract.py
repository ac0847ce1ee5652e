"""A live deployment holds to openapi/somia.yaml (`make contract`; every 200 is a paid turn).

Needs SOMIA_CONTRACT_BASE_URL, SOMIA_API_KEY and SOMIA_AGENT_ID (an agent the key may run);
SOMIA_API_KEY_HEADER names the key's header when it is not x-api-key. The budget is small:
no examples or coverage phases, 3 fuzzed cases per operation, 2 stateful runs of a create and
3 steps, and one create-continue-continue chain: at most 14 agent turns. Continue calls with
generated session ids are 404 and run nothing; negative cases are 422 and run nothing.
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import pytest
from contract_support import (
    FUZZ_SETTINGS,
    STATEFUL_SETTINGS,
    load_schema,
    run_session_chain,
    workflow,
)
from schemathesis import Case

BASE_URL = os.environ.get("SOMIA_CONTRACT_BASE_URL", "")
API_KEY = os.environ.get("SOMIA_API_KEY", "")
AGENT_ID_TEXT = os.environ.get("SOMIA_AGENT_ID", "")
API_KEY_HEADER = os.environ.get("SOMIA_API_KEY_HEADER") or None

_missing = [
    name
    for name, value in (
        ("SOMIA_CONTRACT_BASE_URL", BASE_URL),
        ("SOMIA_API_KEY", API_KEY),
        ("SOMIA_AGENT_ID", AGENT_ID_TEXT),
    )
    if not value
]
if AGENT_ID_TEXT and not AGENT_ID_TEXT.isdigit():
    raise pytest.UsageError(f"SOMIA_AGENT_ID must be a positive integer, not {AGENT_ID_TEXT!r}")
AGENT_ID = int(AGENT_ID_TEXT or "1")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        bool(_missing), reason=f"live contract tests need {', '.join(_missing)} to be set"
    ),
]

# The fake's settings, with the small budget of paid turns.
LIVE_FUZZ_SETTINGS = hypothesis.settings(FUZZ_SETTINGS, max_examples=3)
LIVE_STATEFUL_SETTINGS = hypothesis.settings(
    STATEFUL_SETTINGS, max_examples=2, stateful_step_count=3
)

schema = load_schema(
    API_KEY or "unset",
    api_key_header=API_KEY_HEADER,
    **{
        "base-url": BASE_URL or "http://127.0.0.1:9",
        "parameters": {"agent_id": AGENT_ID},
        "request-timeout": 120,
        # The examples and coverage phases ignore max_examples: each would run dozens of turns.
        "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}},
        # A saturated platform answers 503 (documented, nothing ran): not a contract breach.
        "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
    },
)


def test_live_session_chain_conforms_to_the_document() -> None:
    # Also proves the key and agent id work: otherwise every other test would pass on 401/404.
    run_session_chain(schema, agent_id=AGENT_ID, headers={API_KEY_HEADER or "x-api-key": API_KEY})


@schema.parametrize()
@LIVE_FUZZ_SETTINGS
def test_live_answers_conform_to_the_document(case: Case[Any]) -> None:
    case.call_and_validate()


TestLiveWorkflowConformsToTheDocument = workflow(schema, agent_id=AGENT_ID).TestCase
TestLiveWorkflowConformsToTheDocument.settings = LIVE_STATEFUL_SETTINGS
