"""The docs say nothing the code does not do: every inline code name of the README,
CONTRIBUTING.md and the docs pages (public names and their attributes, options, command-line
flags, environment variables, files, make targets) exists in the code.

A name that disappears from the code (a rename without an alias, a removed flag) fails here
until the page changes too. Names of other tools are checked against those tools where they
can be imported; the few that cannot are in ALLOWED, each with its reason.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import functools
import importlib
import importlib.util
import inspect
import keyword
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import somia
import somia.testing
from somia._cli import build_parser
from somia.testing.__main__ import build_parser as fake_server_parser
from tests.harness import public_packages

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    *sorted(p for p in (ROOT / "docs").rglob("*.md") if p.name != "changelog.md"),
]
# Sections that name what the code does not have, on purpose: 0.1.0a5's features.
NOT_OURS = {"What this SDK does not have"}

# Names the docs may use that no import can check, each with its reason.
ALLOWED = {
    "pydantic": "the dependency 0.1.0a1 and 0.1.0a5 had and this SDK dropped",
    "model_validate": "a pydantic method 0.1.0a5's answers had",
    "--preload": "a gunicorn option",
    "--group": "a pip option (PEP 735 dependency groups)",
    "--strict": "an option of mkdocs build and twine check",
    "--no-deps": "a pip option",
    "TurnRequest": "the renamed schema of the API-diff example, not of the real document",
    "session.txt": "the file the command line example writes",
    "Host": "an HTTP header the SDK lets callers set",
    "_detailed": "the suffix of the generated client's sync_detailed and asyncio_detailed",
    "--pre": "a pip option",
    "both_stacks": "a pytest marker of the project's own tests (tests/conftest.py)",
}


def _members(obj: Any) -> set[str]:
    """What a user may name on `obj`: attributes, keywords of its callables, typed keys."""
    names = {n for n in dir(obj) if not n.startswith("_") or n == "__version__"}
    if inspect.isfunction(obj):  # a public function's keywords (run_batch's sort=...)
        names |= set(inspect.signature(obj).parameters)
    for name in [*names, "__init__", "__call__"]:
        member = inspect.getattr_static(obj, name, None)
        member = getattr(member, "__func__", member)
        if callable(member) or isinstance(member, property):
            with contextlib.suppress(TypeError, ValueError, AttributeError):
                names |= set(inspect.signature(getattr(obj, name)).parameters)
    if isinstance(obj, type):  # TypedDict keys, attrs and dataclass fields, inherited too
        for klass in obj.__mro__:
            names |= set(inspect.get_annotations(klass))
    return names


@functools.cache
def _known() -> set[str]:
    known: set[str] = set()
    for package in public_packages():
        for name in package.__all__:
            known |= {name, *_members(getattr(package, name))}
    with somia.SomiaClient(api_key="k", base_url="http://127.0.0.1:9") as client:
        known |= _members(client) | _members(client.sessions)
    known |= {"somia_server", "somia_fake"}  # the pytest plugin's fixtures
    for cls in (httpx.Client, httpx.Response, httpx.Timeout, httpx.Headers):
        known |= _members(cls)  # what the SDK hands over or takes: http_client, answer.http
    known |= _generated_client()
    return known


def _generated_client() -> set[str]:
    """The supported surface of the generated low-level client (docs/generated-client.md)."""
    import somia_api
    import somia_api.api.sessions
    import somia_api.models
    import somia_api.types

    names: set[str] = set()
    for obj in [somia_api.AuthenticatedClient, somia_api.types.Response]:
        names |= {obj.__name__, *_members(obj)}
    for name in somia_api.models.__all__:
        names |= {name, *_members(getattr(somia_api.models, name))}
    for found in pkgutil.iter_modules(somia_api.api.sessions.__path__):
        endpoint = importlib.import_module(f"somia_api.api.sessions.{found.name}")
        names |= {found.name, *_members(endpoint)}  # sync_detailed, asyncio_detailed, ...
    return names


@functools.cache
def _flags() -> set[str]:
    flags: set[str] = set()
    parsers = [build_parser(), fake_server_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            flags |= set(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())
    return flags


@functools.cache
def _sources() -> str:
    """The text the code is written in: the SDK, its scripts, and the contract suite."""
    files = [*ROOT.glob("somia/**/*.py"), *ROOT.glob("scripts/*.py")]
    files += [*ROOT.glob("tests/contract/*.py"), ROOT / "Makefile"]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def _spans() -> Iterator[tuple[str, str]]:
    """(page:line, text) of every inline code span outside fenced blocks and NOT_OURS."""
    for page in PAGES:
        fenced = skipping = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                fenced = not fenced
            if line.startswith("#"):
                skipping = line.lstrip("# ").strip() in NOT_OURS
            if fenced or skipping:
                continue
            for span in re.findall(r"`([^`]+)`", line):
                yield f"{page.relative_to(ROOT)}:{number}", span


def _resolves(dotted: str) -> bool:
    """Whether `dotted` names something importable (a module, or an attribute of one)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return False
        return True
    return False


NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
CALL = re.compile(rf"({NAME.pattern})\((.*)\)")
KEYWORD = re.compile(r"([a-z_]\w*)=(?!=)\S+")
ENV = re.compile(r"((?:SOMIA|OTEL|HTTPS?|ALL|NO|SSL)_[A-Z0-9_]+)(?:=\S*)?")
FLAG = re.compile(r"(--?[a-z][\w-]*)(?: \S+)?")
PATH = re.compile(r"(?:[\w.-]+/)+[\w.*-]*|[\w-]+\.(?:py|md|toml|yaml|yml|json|txt)")
MAKE = re.compile(r"make ([a-z-]+)(?: .*)?")
SKIPPED_DIRS = {".git", ".venv", "site", "dist", "build", ".mypy_cache", ".ruff_cache"}


@functools.cache
def _files() -> set[str]:
    """Every file and folder of the checkout, as paths relative to it, and their names."""
    found: set[str] = set()
    for path in ROOT.iterdir():
        if path.name in SKIPPED_DIRS:
            continue
        found.add(path.name)
        if path.is_dir():
            for sub in path.rglob("*"):
                if "__pycache__" not in sub.parts:
                    found |= {str(sub.relative_to(ROOT)), sub.name}
    return found


def _problem(span: str, known: set[str], flags: set[str], code: str) -> str | None:
    """Why `span` names nothing that exists, or None when it does (or is not a name)."""
    if span in ALLOWED:
        return None
    if match := ENV.fullmatch(span):
        var = match.group(1)
        return None if var in code or _in_libraries(var) else f"no {var} in the code"
    if match := FLAG.fullmatch(span):
        return None if match.group(1) in flags else f"no flag {match.group(1)}"
    if match := MAKE.fullmatch(span):
        target = match.group(1)
        return None if re.search(rf"^{target}:", code, re.M) else f"no make target {target}"
    if match := KEYWORD.fullmatch(span):
        return None if match.group(1) in known else f"no keyword {match.group(1)}"
    if match := CALL.fullmatch(span):
        span = match.group(1)
    if PATH.fullmatch(span):
        return _path_problem(span.rstrip("/"))
    if NAME.fullmatch(span):
        return _name_problem(span, known, code)
    return None  # not a name: a value, a header, a command, a status


def _path_problem(path: str) -> str | None:
    files = _files()
    if path.split("/")[0] in ("dist", "site"):
        return None  # what make release-check and make docs build
    if "/" not in path and f'"{path}"' in _sources():
        return None  # a file the code writes (a report)
    if "/" in path and path.split("/")[0] not in files:
        return None  # not a path of the checkout (a media type, say)
    if path in files or any(Path(ROOT).glob(path)):
        return None
    return f"no file {path}"


def _name_problem(span: str, known: set[str], code: str) -> str | None:
    quoted = span.lower()
    if f'"{quoted}"' in code.lower() or f"'{quoted}'" in code.lower():
        return None  # a string the code uses: a span attribute, a header, a logger
    if span.startswith("__") and span.endswith("__"):
        return None  # a Python protocol name
    if span.isupper() and re.search(rf"\b{span}\b", code):
        return None  # a constant the code uses (SpanKind.CLIENT)
    head, *rest = span.split(".")
    if head in ("somia", "somia_api", "httpx"):  # the packages the docs are about
        return None if _resolves(span) else f"{span} does not exist"
    if importlib.util.find_spec(head) and (_resolves(span) or head not in known):
        return None if _resolves(span) else f"{span} does not exist"
    if keyword.iskeyword(head) or hasattr(builtins, head):
        return None
    if not rest and head[0].islower() and "_" not in head and head not in known:
        return None  # a plain word (`ps`, `with`), not a name of the SDK
    missing = [n for n in (rest or [head]) if n not in known]
    return f"{span}: {', '.join(missing)} not in the SDK" if missing else None


@functools.cache
def _in_libraries(var: str) -> bool:
    """Whether an environment variable is read by httpx or OpenTelemetry (as documented); by
    httpx2 under alias_httpx(), whose httpcore2 reads the certificate variables."""
    for module in ("httpx", "httpcore", "opentelemetry.sdk", "opentelemetry.instrumentation"):
        try:
            root = Path(importlib.import_module(module).__path__[0])
        except ImportError:
            continue
        if any(var in f.read_text(encoding="utf-8") for f in root.rglob("*.py")):
            return True
    return False


def test_every_inline_name_of_the_docs_exists_in_the_code() -> None:
    known, flags, code = _known(), _flags(), _sources()
    problems = [
        f"{where}: `{span}`: {problem}"
        for where, span in _spans()
        if (problem := _problem(span, known, flags, code))
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ("SomiaClient", None),
        ("SomiaKlient", "SomiaKlient: SomiaKlient not in the SDK"),
        ("answer.http.status_code", None),
        ("answer.http.status_kode", "answer.http.status_kode: status_kode not in the SDK"),
        ("somia.testing.FakeServer", None),
        ("somia.testing.FakeSerf", "somia.testing.FakeSerf does not exist"),
        ("total_timeout=30", None),
        ("totl_timeout=30", "no keyword totl_timeout"),
        ("--total-timeout S", None),
        ("--header-nam", "no flag --header-nam"),
        ("SOMIA_API_KEY", None),
        ("SOMIA_API_KEYS", "no SOMIA_API_KEYS in the code"),
        ("HTTPS_PROXY", None),
        ("somia/_bridge.py", None),
        ("somia/_bridges.py", "no file somia/_bridges.py"),
        ("make docs", None),
        ("make dogs", "no make target dogs"),
        ("httpx.Timeout", None),
        ("httpx.Timeot", "httpx.Timeot does not exist"),
        ("with_options(...)", None),
        ("x-api-key", None),
    ],
)
def test_a_name_that_is_not_in_the_code_is_reported(span: str, expected: str | None) -> None:
    assert _problem(span, _known(), _flags(), _sources()) == expected
