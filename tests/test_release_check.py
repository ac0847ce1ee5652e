"""The release gate of `make release-check`, on a scratch repository with a tiny `somia`.

Each test makes its own git history: a release recorded in releases.toml (or none), then a
change to the package, its README example, its version and its CHANGELOG.md.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from scripts import release_check

pytestmark = pytest.mark.slow  # git, griffe and mypy on a scratch repository

ROOT = Path(__file__).resolve().parent.parent

PACKAGE = '''"""A tiny somia."""

from somia._version import __version__

__all__ = ["__version__", "hello"]


def hello(name: str) -> str:
    """Greet someone."""
    return f"Hello, {name}"
'''
EXAMPLE = '```python\nimport somia\n\nprint(somia.hello("Ada"))\n```\n'


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def _commit(root: Path, message: str) -> str:
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return _git(root, "rev-parse", "HEAD")


def _version(version: str) -> dict[str, str]:
    return {"somia/_version.py": f'__version__ = "{version}"\n'}


def _changelog(version: str, *entries: str) -> dict[str, str]:
    lines = "\n".join(f"- {entry}" for entry in entries)
    return {"CHANGELOG.md": f"# Changelog\n\n## [{version}] - 2026-06-01\n\n{lines}\n"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose first commit has somia 0.1.0, its README example and the document."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _write(tmp_path, {"somia/__init__.py": PACKAGE, "README.md": EXAMPLE, **_version("0.1.0")})
    _write(tmp_path, _changelog("0.1.0", "First release."))
    (tmp_path / "openapi").mkdir()
    shutil.copy(ROOT / "openapi" / "somia.yaml", tmp_path / "openapi" / "somia.yaml")
    _commit(tmp_path, "0.1.0")
    return tmp_path


def _record(root: Path, version: str) -> None:
    commit = _git(root, "rev-parse", "HEAD")
    entry = f'\n[[release]]\nversion = "{version}"\ncommit = "{commit}"\n'
    with (root / "releases.toml").open("a", encoding="utf-8") as releases:
        releases.write(entry)
    _commit(root, f"Record {version}")


def _rename_hello(root: Path) -> None:
    _write(root, {"somia/__init__.py": PACKAGE.replace("hello", "greet")})


@pytest.mark.parametrize("releases", [None, "# no release recorded yet\n"])
def test_with_no_release_recorded_there_is_nothing_to_compare(
    repo: Path, releases: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    if releases is not None:
        _write(repo, {"releases.toml": releases})
    _rename_hello(repo)  # would break anyone, but there is no release to break
    assert release_check.gate(repo, None) == []
    assert "no release recorded in releases.toml: nothing to compare against" in (
        capsys.readouterr().out
    )


def test_a_removed_name_fails_until_the_version_is_bumped_and_a_breaking_entry_names_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _record(repo, "0.1.0")
    _rename_hello(repo)
    _commit(repo, "hello is greet now")

    assert release_check.gate(repo, None) == [
        "gate: version 0.1.0 is not newer than the last release, 0.1.0",
        "gate: breaking changes need version 0.2.0 or later, not 0.1.0",
        "gate: CHANGELOG.md [0.1.0] has no **Breaking:** entry naming ['hello']",
    ]
    out = capsys.readouterr().out
    assert "breaking: somia/__init__.py" in out
    assert "hello" in out
    assert 'Module has no attribute "hello"' in out  # the 0.1.0 README example, type-checked

    _write(repo, {**_version("0.2.0"), **_changelog("0.2.0", "Added `greet`.")})
    assert release_check.gate(repo, None) == [
        "gate: CHANGELOG.md [0.2.0] has no **Breaking:** entry naming ['hello']",
    ]

    _write(repo, _changelog("0.2.0", "**Breaking:** `hello` is now `greet`."))
    assert release_check.gate(repo, None) == []


def test_a_changed_type_that_only_the_examples_catch_still_needs_a_breaking_entry(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _record(repo, "0.1.0")
    _write(repo, {"somia/__init__.py": PACKAGE.replace("name: str", "name: int")})
    _write(repo, {**_version("0.2.0"), **_changelog("0.2.0", "`hello` takes a number.")})

    assert release_check.gate(repo, None) == [
        "gate: CHANGELOG.md [0.2.0] has no **Breaking:** entry",
    ]
    assert 'Argument 1 to "hello" has incompatible type "str"' in capsys.readouterr().out


def test_a_breaking_change_to_the_api_document_is_gated_too(repo: Path) -> None:
    _record(repo, "0.1.0")
    spec = repo / "openapi" / "somia.yaml"
    spec.write_text(spec.read_text().replace("        finished:\n", "        done:\n"))
    _write(repo, {**_version("0.1.1"), **_changelog("0.1.1", "Fixed.")})

    problems = release_check.gate(repo, None)
    assert "gate: breaking changes need version 0.2.0 or later, not 0.1.1" in problems
    assert "gate: CHANGELOG.md [0.1.1] has no **Breaking:** entry naming ['finished']" in problems


def test_an_addition_needs_only_a_newer_version(repo: Path) -> None:
    _record(repo, "0.1.0")
    _write(repo, {"somia/__init__.py": PACKAGE + "\n\ndef bye() -> str:\n    return 'Bye'\n"})
    _write(repo, {**_version("0.1.1"), **_changelog("0.1.1", "Added `bye`.")})
    assert release_check.gate(repo, None) == []


@pytest.mark.parametrize(
    ("base", "new", "ok"),
    [
        ("0.2.0a1", "0.2.0a1", False),  # not bumped
        ("0.2.0a1", "0.2.0a2", True),  # a pre-release after a pre-release
        ("0.2.0a1", "0.2.0", True),
        ("0.2.0", "0.2.1", False),  # while the major version is 0, the minor one is major
        ("0.2.0", "0.3.0a1", True),  # a pre-release of the required version
        ("0.2.0", "0.3.0", True),
        ("1.4.2", "1.5.0", False),
        ("1.4.2", "2.0.0rc1", True),
    ],
)
def test_the_version_a_breaking_change_needs(base: str, new: str, ok: bool, repo: Path) -> None:
    _write(repo, _version(base))
    _commit(repo, base)
    _record(repo, base)
    _rename_hello(repo)
    _write(repo, {**_version(new), **_changelog(new, "**Breaking:** `hello` is now `greet`.")})
    problems = release_check.gate(repo, None)
    assert (problems == []) is ok, problems


def test_base_overrides_the_record_and_must_be_a_commit(repo: Path) -> None:
    first = _git(repo, "rev-parse", "HEAD")
    _rename_hello(repo)
    _commit(repo, "hello is greet now")
    assert release_check.gate(repo, "no-such-ref") == [
        "gate: 'no-such-ref' is not a commit of this repository"
    ]
    problems = release_check.gate(repo, first)  # no release recorded, a base given
    assert "gate: breaking changes need version 0.2.0 or later, not 0.1.0" in problems


def test_an_example_importing_a_package_this_environment_lacks_is_no_break(repo: Path) -> None:
    lacking = "```python\nimport no_such_package_here.cluster\n\nprint(1)\n```\n"
    _write(repo, {"README.md": EXAMPLE + lacking})
    _commit(repo, "an example that needs another package")
    _record(repo, "0.1.0")
    _write(repo, {**_version("0.1.1"), **_changelog("0.1.1", "Fixed.")})

    assert release_check.gate(repo, None) == []


def test_the_docs_examples_type_check_as_the_next_release_gate_will_check_them() -> None:
    # The gate type-checks the last release's examples against the code: one that mypy
    # refuses today would fail every later release's gate.
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    texts = {str(page.relative_to(ROOT)): page.read_text(encoding="utf-8") for page in pages}

    assert release_check.example_errors(ROOT, texts) == []
