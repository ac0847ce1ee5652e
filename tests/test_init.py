"""The `somia` package: its public names and what importing it costs."""

from __future__ import annotations
import __future__

import ast
import subprocess
import sys
import types
from pathlib import Path

import pytest
from packaging.version import Version

import somia
from tests.harness import END, OK, Events, Reply, ScriptedServer, Stall, chunk

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


def _modules_loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`, beyond its start-up's."""
    script = (
        "import sys; before = set(sys.modules)\n"
        f"{code}\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@pytest.mark.slow
def test_import_somia_loads_only_its_version_of_the_sdk_and_no_http_library() -> None:
    imported = _modules_loaded_by("import somia")
    assert {m for m in imported if m.startswith("somia")} == {"somia", "somia._version"}
    assert not {m.partition(".")[0] for m in imported} & {"httpx", "httpcore", "attr", "attrs"}


@pytest.mark.slow
def test_the_client_class_loads_httpx_but_not_the_sdks_rules_until_a_client_is_made() -> None:
    imported = _modules_loaded_by("from somia import SomiaClient")
    assert "httpx" in imported
    assert {m for m in imported if m.startswith("somia")} == {
        "somia",
        "somia._client",
        "somia._client_base",
        "somia._pool",
        "somia._version",
    }
    assert not {m for m in imported if m.startswith(("attr", "somia_api"))}
    made = _modules_loaded_by("import somia; somia.SomiaClient(api_key='k')")
    assert {"somia._config", "somia_api.facts", "attrs"} <= made
    # Of the generated client, only its package, small client module and facts.
    assert {m for m in made if m.startswith("somia_api")} <= {
        "somia_api",
        "somia_api.client",
        "somia_api.facts",
    }


@pytest.mark.slow
def test_calls_through_httpx_never_import_httpx2(server: ScriptedServer) -> None:
    # httpx2 is installed here (the dev group): only a caller's httpx2 client may bring it in.
    server.script(OK, Events([chunk("Hi"), END]), Reply(404, {"detail": "no"}), Stall(5.0))
    code = f"""
import httpx, somia
with somia.SomiaClient(base_url="{server.base_url}", api_key="k", retries=0) as client:
    client.sessions.create_session(1, timeout=httpx.Timeout(5.0))
    client.sessions.create_session(1, stream=True).final_response()
    try:
        client.sessions.create_session(1)
    except somia.NotFoundError:
        pass
    try:
        client.sessions.create_session(1, total_timeout=0.3)
    except somia.RequestTimeoutError:
        pass
"""
    imported = _modules_loaded_by(code)
    assert "somia._http" in imported  # the seam was used
    assert not {m for m in imported if m.startswith(("httpx2", "httpcore2"))}
    assert len(server.received) == 4


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of the imports under `if _typing.TYPE_CHECKING:` in somia/__init__.py."""
    tree = ast.parse(Path(somia.__file__).read_text(encoding="utf-8"))
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "_typing.TYPE_CHECKING"
    ]
    return {
        alias.name: str(node.module)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_type_checkers_see_every_lazy_name_imported_from_where_it_loads() -> None:
    assert _type_checking_imports() == somia._LAZY
    assert sorted([*somia._LAZY, "__version__"]) == somia.__all__


def test_dir_lists_every_public_name_before_any_is_loaded() -> None:
    assert set(somia.__all__) <= set(dir(somia))


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'NoSuchClient'"):
        somia.NoSuchClient  # type: ignore[attr-defined]  # noqa: B018
