"""`make release-check`: what a release ships, checked, and its Python surface gated.

    python -m scripts.release_check               # against the last release in releases.toml
    python -m scripts.release_check --base REF    # against another git ref

Builds the sdist and the wheel into dist/ (the build backend is pinned in pyproject.toml),
runs `twine check --strict`, `check-wheel-contents` and `validate-pyproject`, installs the
wheel into an empty venv and runs the README's quickstart there against the fake server, and
checks that CHANGELOG.md has a section for the version in somia/_version.py. Then the gate:
griffe's breaking changes of `somia`, the base's documentation examples type-checked against
this code, and the API document's breaking changes (as `make api-diff`). A breaking change
fails unless the version was bumped past the base as `api_diff.next_version` says and the
version's CHANGELOG.md section has a `**Breaking:**` entry naming it. Every check runs; the
exit status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

from packaging.version import Version

from scripts import api_diff
from scripts._server_process import announced_url, stop

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(
    *command: str | Path,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> str:
    """Run a command; its output, or RuntimeError carrying that output when it fails."""
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise RuntimeError(f"{Path(str(command[0])).name} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def version_at(root: Path, ref: str | None = None) -> str:
    """The version in somia/_version.py, in the working tree or at a git ref."""
    if ref is None:
        text = (root / "somia" / "_version.py").read_text(encoding="utf-8")
    else:
        text = _run("git", "show", f"{ref}:somia/_version.py", cwd=root)
    match = re.search(r'__version__ = "([^"]+)"', text)
    if not match:
        raise RuntimeError("somia/_version.py has no __version__")
    return match.group(1)


def changelog_section(root: Path, version: str) -> str | None:
    """The body of CHANGELOG.md's `## [version] - YYYY-MM-DD` section, or None."""
    text = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    head = re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)
    if head is None:
        return None
    end = text.find("\n## ", head.end())
    return text[head.end() : None if end == -1 else end]


def last_release(root: Path) -> str | None:
    """The commit of the last release recorded in releases.toml, or None when there is none."""
    path = root / "releases.toml"
    releases = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    entries = releases.get("release", [])
    return str(entries[-1]["commit"]) if entries else None


def surface_breaks(root: Path, base: str) -> list[tuple[str, str]]:
    """(name, explanation) of each breaking change to `somia`'s public names since `base`."""
    import griffe

    # No search paths for the old one: given any, griffe would read them before its checkout.
    old = griffe.load_git("somia", ref=base, repo=root)
    new = griffe.load(root / "somia", search_paths=[root], try_relative_path=False)
    found = []
    for breakage in griffe.find_breaking_changes(old, new):
        if breakage.obj.name == "__version__":
            continue  # it changes with every release, by design
        parameter = getattr(breakage.old_value, "name", None)
        is_parameter = breakage.kind.name.startswith("PARAMETER")
        name = parameter if is_parameter and parameter else breakage.obj.name
        if name.startswith("__") and breakage.obj.parent is not None:
            name = breakage.obj.parent.name  # `SomiaClient`, not its `__init__`
        found.append((str(name), ANSI.sub("", breakage.explain())))
    return found


def example_breaks(root: Path, base: str) -> list[str]:
    """mypy's errors in the base's documentation examples, checked against this code."""
    pages = _run("git", "ls-tree", "-r", "--name-only", base, cwd=root).split()
    pages = [p for p in pages if p == "README.md" or (p.startswith("docs/") and p.endswith(".md"))]
    return example_errors(root, {p: _run("git", "show", f"{base}:{p}", cwd=root) for p in pages})


def example_errors(root: Path, pages: dict[str, str]) -> list[str]:
    """mypy's errors in the Python blocks of `pages` (name: Markdown), checked against the
    code in `root`; a third-party module the blocks import and this environment lacks (dask,
    say) is not one: it says nothing of somia's surface."""
    with tempfile.TemporaryDirectory() as scratch:
        for page, text in pages.items():
            blocks = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)
            for n, block in enumerate(blocks):
                name = re.sub(r"\W", "_", page.removesuffix(".md"))
                (Path(scratch) / f"{name}_{n}.py").write_text(block, encoding="utf-8")
        if not any(Path(scratch).iterdir()):
            return []
        mypy = [BIN / "mypy", "--no-incremental", "--check-untyped-defs", "--config-file", ""]
        done = subprocess.run(
            [*map(str, mypy), "--python-executable", sys.executable, "."],
            cwd=scratch,
            capture_output=True,
            text=True,
            env={"MYPYPATH": f"{root}:{root / 'generated'}", "PATH": str(BIN)},
        )
    return [
        line
        for line in done.stdout.splitlines()
        if ": error:" in line and not _foreign_import(line)
    ]


_MISSING = re.compile(r'(?:module named|stubs not installed for) "([^"]+)"', re.I)


def _foreign_import(error: str) -> bool:
    missing = _MISSING.search(error)
    return missing is not None and missing.group(1).split(".")[0] not in ("somia", "somia_api")


def document_breaks(root: Path, base: str) -> list[tuple[str, str]]:
    """(name, line) of each breaking change to the API document since `base`."""
    spec = root / "openapi" / "somia.yaml"
    old = api_diff.load(_run("git", "show", f"{base}:openapi/somia.yaml", cwd=root))
    changes = api_diff.compare(old, api_diff.load(spec.read_text(encoding="utf-8")))
    return [
        (c.subject.rsplit(".", 1)[-1], f"{c.subject}: {c.text}")
        for c in changes
        if c.level == "breaking"
    ]


def gate(root: Path, base: str | None) -> list[str]:
    """The gate's findings (empty when it passes), printing what it compared."""
    recorded = base is None
    base = last_release(root) if base is None else base
    if base is None:
        print("gate: no release recorded in releases.toml: nothing to compare against")
        return []
    try:
        _run("git", "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", cwd=root)
    except RuntimeError:
        return [f"gate: {base!r} is not a commit of this repository"]
    old, new = version_at(root, base), version_at(root)
    print(f"gate: somia {new} against {old} at {base}")
    problems = []
    if recorded and Version(new) <= Version(old):
        problems.append(f"gate: version {new} is not newer than the last release, {old}")
    named = surface_breaks(root, base) + document_breaks(root, base)
    examples = example_breaks(root, base)
    if not named and not examples:
        return problems
    for _, explanation in named:
        print(f"breaking: {explanation}")
    for line in examples:
        print(f"breaking: {base}'s examples: {line}")
    required = api_diff.next_version(old, "major")
    if required is None or not _at_least(Version(new), Version(required), Version(old)):
        problems.append(f"gate: breaking changes need version {required} or later, not {new}")
    section = changelog_section(root, new) or ""
    entries = [line for line in section.splitlines() if "**Breaking:**" in line]
    unnamed = sorted({name for name, _ in named if not any(name in e for e in entries)})
    if unnamed:
        problems.append(f"gate: CHANGELOG.md [{new}] has no **Breaking:** entry naming {unnamed}")
    elif examples and not entries:
        problems.append(f"gate: CHANGELOG.md [{new}] has no **Breaking:** entry")
    return problems


def _at_least(new: Version, required: Version, old: Version) -> bool:
    # A pre-release of the required version counts: 0.3.0a1 when 0.3.0 is required.
    return new > old and (new >= required or new.release >= required.release)


def artifacts(root: Path, dist: Path) -> list[str]:
    """Build the sdist and the wheel into `dist`; check them and the project's metadata."""
    shutil.rmtree(dist, ignore_errors=True)
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, root)
    _run(BIN / "twine", "check", "--strict", *sorted(dist.iterdir()))
    _run(BIN / "check-wheel-contents", *dist.glob("*.whl"), cwd=root)
    _run(BIN / "validate-pyproject", root / "pyproject.toml")
    return []


def quickstart(root: Path, dist: Path) -> list[str]:
    """The README's quickstart, run by the wheel installed into an empty venv, against the
    fake server that wheel installs."""
    (wheel,) = dist.glob("*.whl")
    readme = (root / "README.md").read_text(encoding="utf-8")
    code = re.search(r"^```python\n(.*?)^```", readme[readme.index("## Quickstart") :], re.M | re.S)
    if code is None:
        return ["the README's Quickstart has no Python block"]
    with tempfile.TemporaryDirectory() as scratch:
        env_dir = Path(scratch) / "venv"
        _run(sys.executable, "-m", "venv", env_dir)
        python, somia = env_dir / "bin" / "python", env_dir / "bin" / "somia"
        _run(python, "-m", "pip", "install", "--quiet", f"somia[testing] @ {wheel.as_uri()}")
        server = subprocess.Popen(
            [somia, "fake-server", "--any-agent", "--port", "0", "--log-level", "WARNING"],
            stdout=subprocess.PIPE,
        )
        try:
            url = announced_url(server, 60) or "(not started)"
            env = {"SOMIA_BASE_URL": url, "SOMIA_API_KEY": "sk-fake-somia", "PATH": "/usr/bin"}
            out = _run(python, "-c", code.group(1), cwd=Path(scratch), env=env, timeout=120)
        finally:
            stop(server)
    return [] if "You said: Hello" in out else [f"unexpected output: {out!r}"]


def changelog_has(root: Path, version: str) -> list[str]:
    if changelog_section(root, version) is None:
        return [f"CHANGELOG.md has no `## [{version}] - YYYY-MM-DD` section"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="git ref to gate against (default: the last release)")
    args = parser.parse_args(argv)
    dist, version = ROOT / "dist", version_at(ROOT)
    checks: list[tuple[str, Callable[[], list[str]]]] = [
        ("build; twine, check-wheel-contents, validate-pyproject", lambda: artifacts(ROOT, dist)),
        ("the wheel runs the quickstart in an empty venv", lambda: quickstart(ROOT, dist)),
        (f"CHANGELOG.md has a section for {version}", lambda: changelog_has(ROOT, version)),
        ("the Python surface and the API document", lambda: gate(ROOT, args.base)),
    ]
    failed = 0
    for title, check in checks:
        try:
            problems = check()
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            problems = [str(exc)]
        print(f"{'FAIL' if problems else 'ok'}: {title}")
        failed += bool(problems)
        for problem in problems:
            print(f"  {problem}")
    print(f"release-check: {f'{failed} check(s) failed' if failed else 'passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
