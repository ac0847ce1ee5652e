"""The fake server holds to openapi/somia.yaml: schemathesis, every check on, in process."""

from __future__ import annotations

from typing import Any

from schemathesis import Case

from tests.contract.contract_support import (
    FAKE_API_KEY,
    FUZZ_SETTINGS,
    STATEFUL_SETTINGS,
    contract_fake,
    load_schema,
    run_session_chain,
    workflow,
)

fake = contract_fake()
schema = load_schema(FAKE_API_KEY)
schema.app = fake.app


def test_fake_session_chain_conforms_to_the_document() -> None:
    run_session_chain(schema, agent_id=1, headers={"x-api-key": FAKE_API_KEY})


@schema.parametrize()
@FUZZ_SETTINGS
def test_fake_answers_conform_to_the_document(case: Case[Any]) -> None:
    case.call_and_validate()


TestFakeWorkflowConformsToTheDocument = workflow(schema).TestCase
TestFakeWorkflowConformsToTheDocument.settings = STATEFUL_SETTINGS
