"""The `somia` package: its public names and what importing it costs."""

from __future__ import annotations
import __future__

import inspect
import subprocess
import sys
import types

import pytest
from packaging.version import Version

import somia

NAMES_OF_0_1_0A1 = [
    "SomiaClient",
    "AgentSessionsClient",
    "AgentExecutionRequest",
    "AgentSessionResponse",
    "StreamEvent",
    "SomiaError",
    "ApiError",
    "BadRequestError",
    "AuthError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "ServiceUnavailableError",
    "ServerError",
    "TransportError",
    "StreamParseError",
    "__version__",
]


def test_all_is_sorted_without_duplicates() -> None:
    assert somia.__all__ == sorted(somia.__all__)
    assert len(set(somia.__all__)) == len(somia.__all__)


def test_every_name_in_all_is_importable_from_somia() -> None:
    namespace: dict[str, object] = {}
    exec(f"from somia import {', '.join(somia.__all__)}", namespace)
    for name in somia.__all__:
        assert namespace[name] is getattr(somia, name)


def test_every_public_name_of_the_package_namespace_is_in_all() -> None:
    future_feature = type(__future__.annotations)
    public = {
        name
        for name, value in vars(somia).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, future_feature)  # `from __future__ import annotations`
    }
    assert public - set(somia.__all__) == set()


@pytest.mark.parametrize("name", NAMES_OF_0_1_0A1)
def test_the_0_1_0a1_names_still_exist(name: str) -> None:
    assert name in somia.__all__
    assert hasattr(somia, name)


@pytest.mark.parametrize("client", [somia.SomiaClient, somia.AsyncSomiaClient])
def test_every_constructor_option_is_documented_for_ide_hover(
    client: type[somia.SomiaClient] | type[somia.AsyncSomiaClient],
) -> None:
    doc = client.__init__.__doc__ or ""
    for name in inspect.signature(client).parameters:
        assert f"    {name}: " in doc, name


def test_the_version_is_a_normalised_pep_440_string() -> None:
    assert str(Version(somia.__version__)) == somia.__version__


def test_the_error_classes_of_0_1_0a1_keep_their_tree() -> None:
    api_errors = [
        somia.BadRequestError,
        somia.AuthError,
        somia.PermissionDeniedError,
        somia.NotFoundError,
        somia.RateLimitError,
        somia.ServiceUnavailableError,
        somia.ServerError,
    ]
    for cls in api_errors:
        assert issubclass(cls, somia.ApiError)
    for base in (somia.ApiError, somia.TransportError, somia.StreamParseError):
        assert issubclass(base, somia.SomiaError)
    assert issubclass(somia.SomiaError, Exception)


@pytest.mark.slow
def test_importing_somia_does_not_import_the_test_server_or_pydantic() -> None:
    code = (
        "import sys, somia\n"
        "heavy = ['starlette', 'uvicorn', 'pydantic', 'somia.testing']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == ""


@pytest.mark.slow
def test_import_somia_loads_only_the_facts_of_the_generated_client() -> None:
    code = (
        "import sys, httpx; before = set(sys.modules); import somia; "
        "print(' '.join(sorted(m for m in set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert {m.split(".")[0] for m in out} <= {"somia", "somia_api", "attr", "attrs"}
    # The package's __init__ loads its small client module; endpoints and models wait for
    # the first call.
    assert {m for m in out if m.startswith("somia_api")} <= {
        "somia_api",
        "somia_api.client",
        "somia_api.facts",
    }
