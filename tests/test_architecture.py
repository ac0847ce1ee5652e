"""How the package is laid out: the call path its docstring draws names what exists, and
the modules of `somia` (and `somia.testing`) import one another without a cycle.

For cycles, every import counts: at module level, in a function body, and under `if TYPE_CHECKING:`.
A `TYPE_CHECKING` import never runs, but it is still a dependency a reader must follow and a
type checker resolves: a cycle through one is a cycle in the design (two modules that can
only be understood together), and it is one edit away from an import-time failure once
someone moves the import out of its guard. Only the import of a module's parent package,
which Python makes implicitly, is not counted.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import somia

ROOT = Path(somia.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, package: str) -> set[str]:
    """Every module (or name in a module) that `source`, a module of `package`, imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (  # importlib.import_module("x") and __import__("x") count too
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Module -> the modules of `sources` it imports; `sources` maps a module's name to its
    source and whether it is a package (an `__init__.py`)."""
    graph: dict[str, set[str]] = {}
    for module, (source, is_package) in sources.items():
        package = module if is_package else module.rpartition(".")[0]
        imported = imported_names(source, package)
        graph[module] = {name for name in imported if name in sources and name != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per back edge a depth-first walk finds."""
    found: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the walk's path, then "done"
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return found


def somia_sources() -> dict[str, tuple[str, bool]]:
    return {
        _module_name(path): (path.read_text(encoding="utf-8"), path.name == "__init__.py")
        for path in sorted(ROOT.rglob("*.py"))
    }


def test_somia_has_no_import_cycle() -> None:
    sources = somia_sources()
    assert {"somia._sessions", "somia._client", "somia.testing._app"} <= set(sources)
    assert cycles(import_graph(sources)) == []


def test_a_cycle_through_type_checking_or_a_function_body_is_found() -> None:
    sources = {
        "pkg": ("from pkg.a import thing\n", True),  # a re-export: a's implicit parent
        "pkg.a": ("from pkg.b import thing\n", False),
        "pkg.b": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import other\n",
            False,
        ),
        "pkg.c": ("def f():\n    from . import d\n", False),
        "pkg.d": ("import pkg.c\n", False),
    }
    found = cycles(import_graph(sources))
    assert found == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.c", "pkg.d", "pkg.c"]]


def test_every_name_on_the_call_path_in_the_package_docstring_exists() -> None:
    doc = somia.__doc__ or ""
    named = set(re.findall(r"\bsomia(?:\.\w+)+", doc))
    assert len(named) >= 15, named
    for dotted in sorted(named):
        parts = dotted.split(".")
        # The longest importable module, then attributes from there.
        for cut in range(len(parts), 0, -1):
            try:
                found: object = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attribute in parts[cut:]:
                found = getattr(found, attribute)  # AttributeError names a stale entry
            break
    assert "generated/somia_api/facts.py" in doc
    assert (ROOT.parent / "generated" / "somia_api" / "facts.py").is_file()


def test_only_the_bridge_imports_the_generated_package() -> None:
    sources = somia_sources()
    offenders = [
        module
        for module, (source, is_package) in sources.items()
        if module != "somia._bridge"
        and any(
            name == "somia_api" or name.startswith("somia_api.")
            for name in imported_names(source, module if is_package else module.rpartition(".")[0])
        )
    ]
    assert {"somia._bridge", "somia.testing._schema", "somia.testing._app"} <= set(sources)
    assert offenders == []


def test_the_import_rule_sees_every_import_form() -> None:
    code = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from somia_api.models import X
def f():
    import somia_api.api
    importlib.import_module("somia_api.facts")
    __import__("somia_api.types")
"""
    assert {
        "somia_api.models",
        "somia_api.api",
        "somia_api.facts",
        "somia_api.types",
    } <= imported_names(code, "somia")


# What the SDK builds of httpx itself, whichever library sends: the types users hold and the
# URL parser. Every other run-time use of the library (its clients, requests, responses,
# exceptions) goes through the seam, somia._http, which knows httpx and httpx2 alike.
_OWN_HTTPX_TYPES = {"Headers", "Timeout", "URL", "InvalidURL"}


def _httpx_names_used_at_run_time(source: str) -> set[str]:
    """The `httpx.X` names a module uses outside annotations and TYPE_CHECKING blocks."""
    tree = ast.parse(source)
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        annotations: list[ast.AST | None] = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            annotations.extend(node.body)
        for annotation in annotations:
            if annotation is not None:
                typing_only.update(id(inner) for inner in ast.walk(annotation))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "httpx"
        and id(node) not in typing_only
    }


def test_only_the_seam_touches_the_http_librarys_own_types_at_run_time() -> None:
    used = {
        str(path.relative_to(ROOT)): _httpx_names_used_at_run_time(path.read_text(encoding="utf-8"))
        for path in sorted(ROOT.rglob("*.py"))
        if path.name != "_http.py" and path.relative_to(ROOT).parts[0] != "testing"  # a server
    }
    assert {
        name: sorted(found - _OWN_HTTPX_TYPES)
        for name, found in used.items()
        if found - _OWN_HTTPX_TYPES
    } == {}
    # The seam itself names the library: it is the one place that does.
    assert _httpx_names_used_at_run_time((ROOT / "_http.py").read_text(encoding="utf-8"))
