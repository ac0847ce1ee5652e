"""extra_body: JSON fields the SDK does not know yet, merged into a session call's body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.harness import Sdk


class Bodies:
    """A MockTransport handler keeping the JSON body of each request."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(json.loads(request.content))
        return httpx.Response(200, json={"session_id": "s"}, headers={"X-Somia-Session-Id": "s"})


def test_extra_body_fields_are_sent_beside_the_options(sdk: Sdk) -> None:
    bodies = Bodies()
    sdk.call(bodies, "run", 1, input_data="hi", extra_body={"beta_feature": {"on": True}})
    assert bodies.sent == [{"input_data": "hi", "stream": False, "beta_feature": {"on": True}}]


@pytest.mark.parametrize("key", ["pipeline_version", "input_data", "stream"])
def test_a_documented_field_in_extra_body_is_refused_before_sending(sdk: Sdk, key: str) -> None:
    bodies = Bodies()
    with pytest.raises(ValueError, match=f"extra_body sets '{key}'"):
        sdk.call(bodies, "run", 1, extra_body={key: 1})
    assert bodies.sent == []


@pytest.mark.parametrize(
    ("extra_body", "message"),
    [
        ([("k", 1)], "extra_body must be a mapping"),
        ({1: "v"}, "extra_body keys must be str"),
        ({"beta": {1, 2}}, "beta"),
    ],
)
def test_extra_body_that_is_not_a_json_object_is_a_type_error_naming_it(
    sdk: Sdk, extra_body: Any, message: str
) -> None:
    bodies = Bodies()
    with pytest.raises(TypeError, match=message):
        sdk.call(bodies, "run", 1, extra_body=extra_body)
    assert bodies.sent == []
