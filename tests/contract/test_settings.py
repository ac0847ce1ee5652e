"""The variables of a contract run, named in one place (settings.py)."""

from __future__ import annotations

import pytest

from tests.contract.settings import SettingsError, target_from_env


def test_the_variables_give_the_target_and_a_malformed_one_is_named() -> None:
    env = {
        "SOMIA_CONTRACT_BASE_URL": "https://example.invalid/",
        "SOMIA_API_KEY": "sk-secret",
        "SOMIA_AGENT_ID": "5",
        "SOMIA_API_KEY_HEADER": "apikey",
        "SOMIA_OTHER_AGENT_ID": "6",
        "SOMIA_FORBIDDEN_AGENT_ID": "7",
        "SOMIA_PIPELINE_VERSION": "12",
        "SOMIA_CONTRACT_BUDGET": "9",
        "SOMIA_CONTRACT_DEADLINE": "90",
    }

    target = target_from_env(env)

    assert (target.base_url, target.agent_id, target.other_agent_id) == (
        "https://example.invalid",
        5,
        6,
    )
    assert (target.forbidden_agent_id, target.budget, target.deadline) == (7, 9, 90.0)
    assert (target.api_key_header, target.pipeline_version) == ("apikey", 12)
    assert "sk-secret" not in repr(target)
    for name, value, message in [
        ("SOMIA_AGENT_ID", "abc", "SOMIA_AGENT_ID must be a positive integer, not 'abc'"),
        ("SOMIA_OTHER_AGENT_ID", "0", "SOMIA_OTHER_AGENT_ID must be a positive integer"),
        ("SOMIA_CONTRACT_DEADLINE", "-1", "SOMIA_CONTRACT_DEADLINE must be a positive number"),
    ]:
        with pytest.raises(SettingsError, match=message):
            target_from_env({**env, name: value})
