"""What changed in the OpenAPI document, and which changes break users of the SDK.

    python -m scripts.api_diff --base REF            # openapi/somia.yaml at a git ref -> now
    python -m scripts.api_diff OLD NEW               # two documents (YAML or JSON)
    python -m scripts.api_diff --base REF --fail-on warning --changelog

Prints one line per change, each with its level: `breaking` (fails the gate), `warning` (may
break some users) or `info`. Exit status: 0 when nothing reaches `--fail-on` (breaking by
default), 1 when something does, 2 for a bad ref or a document that does not parse.
`make generate` prints the same report; `make api-diff BASE=<ref>` runs this script.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts._api_diff_kinds import KINDS, Change
from scripts._api_diff_walk import Walk
from somia import __version__
from somia._document import DocumentError, parse

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "somia.yaml"
LEVELS = ("breaking", "warning", "info")
SECTIONS = ("Added", "Changed", "Deprecated", "Removed")


def load(text: str, *, name: str = "document") -> dict[str, Any]:
    """A document's text (YAML or JSON) as a dict; DocumentError when it is not one."""
    return parse(text, name=name)


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every change from `old` to `new`, breaking first, then warnings, then info."""
    try:
        changes = Walk(old, new).run()
    except (KeyError, TypeError, AttributeError) as exc:  # a required key or mapping is missing
        raise DocumentError(f"a malformed document ({type(exc).__name__}: {exc})") from exc
    return sorted(changes, key=lambda c: LEVELS.index(c.level))


def _affected(change: Change) -> str:
    parts = ", ".join(change.operations)
    if change.statuses and change.subject.startswith("response header"):
        parts += ("; " if parts else "") + "status " + ", ".join(change.statuses)
    return f" [{parts}]" if parts else ""


def report(changes: list[Change]) -> list[str]:
    """The report: one line per change, `level: subject: what [operations]`."""
    if not changes:
        return ["no change to the API"]
    return [f"{c.level}: {c.subject}: {c.text}{_affected(c)}" for c in changes]


def summary(changes: list[Change]) -> str:
    """One line of counts; it names breaking changes only when there are some."""
    counts = [(level, sum(c.level == level for c in changes)) for level in LEVELS]
    shown = ", ".join(f"{n} {level}" for level, n in counts if n)
    return f"api-diff: {len(changes)} change{'s' * (len(changes) != 1)}" + (
        f" ({shown})" if shown else ""
    )


def failed(changes: list[Change], fail_on: str) -> bool:
    """Whether any change is at or above the `fail_on` level."""
    limit = LEVELS.index(fail_on)
    return any(LEVELS.index(c.level) <= limit for c in changes)


# -- the changelog draft, in the SDK's names --------------------------------------------------


def _sdk_namer() -> Callable[[Change], str]:
    """How a change is named for SDK users (imports the generator's naming and somia)."""
    from openapi_python_client.strings import ClassName, PythonIdentifier

    import somia
    from somia import _errors

    def ident(name: str) -> str:
        return str(PythonIdentifier(name, prefix="field_"))

    def methods(ops: tuple[str, ...]) -> str:
        return " and ".join(f"`{ident(op)}`" for op in ops) if ops else "every operation"

    def status(code: str) -> str:
        if not code.isdigit() or int(code) < 400:
            return f"status {code} (not an error)"
        cls = _errors.status_code_to_error(int(code)).__name__
        if int(code) in _errors._BY_STATUS:
            return f"status {code} (raises `{cls}`)"
        return f"status {code} (no exception class of its own: raises `{cls}`)"

    def field(side: str, base: str, root: bool, names: tuple[str, ...], ops: str) -> str:
        names = names or ("",)
        if side == "request":
            if root and names[0] not in ("", "[]", "*"):
                inner = "".join(f"[{n!r}]" for n in names[1:] if n not in ("[]", "*"))
                if inner or len(names) > 1:
                    return f"`{ident(names[0])}`{inner} (keyword of {ops})"
                return f"keyword `{ident(names[0])}` of {ops}"
            path = ".".join(n for n in names if n)
            return f"`{path}` in `{base}` (a request value of {ops})" if path else f"`{base}`"
        parents = [n for n in names[:-1] if n not in ("*",)]
        attribute = names[-1]
        if attribute == "[]":
            attribute, parents = (parents[-1] if parents else ""), parents[:-1]
        owner = str(ClassName("_".join([base, *parents]).replace("[]", "item"), prefix=""))
        curated = not parents and isinstance(getattr(somia, base, None), type)
        where = "" if curated else " (generated class)"
        return f"`{owner}.{ident(attribute)}`{where}" if attribute else f"`{owner}`{where}"

    def name(change: Change) -> str:
        anchor, ops = change.anchor, methods(change.operations)
        if not anchor:
            return change.subject
        if anchor[0] == "field":
            _, side, base, root, names = anchor
            return field(side, base, root, names, ops)
        if anchor[0] == "param":
            return f"keyword `{ident(anchor[1])}` of {ops}"
        if anchor[0] == "status":
            return f"{status(anchor[1])} of {ops}"
        if anchor[0] == "op":
            return f"operation `{anchor[1]}` (generated function `{ident(anchor[1])}`)"
        if anchor[0] == "header":
            return f"answer header `{anchor[1]}` of {ops}"
        if anchor[0] == "media":
            return f"media type `{anchor[2]}` of {ops}"
        return f"{change.subject} of {ops}"

    return name


def next_version(version: str, size: str) -> str | None:
    """The version after `version` for a change of `size` (major, minor or patch); None when
    `version` is not X.Y.Z with an optional aN, bN or rcN."""
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?", version)
    if not match:
        return None
    x, y, z, pre, n = match.groups()
    major, minor, patch = int(x), int(y), int(z)
    if pre:  # still a pre-release of major.minor.patch: the next pre-release carries it
        return f"{major}.{minor}.{patch}{pre}{int(n) + 1}"
    if major == 0:  # 0.y.z: y is the major number (semver's initial development)
        return f"0.{minor + 1}.0" if size == "major" else f"0.{minor}.{patch + 1}"
    return {
        "major": f"{major + 1}.0.0",
        "minor": f"{major}.{minor + 1}.0",
        "patch": f"{major}.{minor}.{patch + 1}",
    }[size]


def bump(changes: list[Change], version: str) -> str:
    """The suggested next version: major for breaking, minor for additions, else patch."""
    if not changes:
        return f"none: no change to the API ({version} stays)"
    size = "patch"
    if any(c.level == "breaking" for c in changes):
        size = "major"
    elif any(c.kind != "documentation" for c in changes):
        size = "minor"
    nxt = next_version(version, size)
    if nxt is None:
        return f"{size} (from {version})"
    pre = " (a pre-release)" if re.search(r"(a|b|rc)\d+$", version) else ""
    return f"{size}: {version} -> {nxt}{pre}"


def changelog(changes: list[Change], *, version: str) -> list[str]:
    """Ready-to-paste Keep a Changelog lines, in the SDK's names, with a suggested bump."""
    lines = [f"Suggested version bump: {bump(changes, version)}"]
    if not changes:
        return lines
    name = _sdk_namer()
    for section in SECTIONS:
        items = []
        for c in changes:
            if KINDS[c.kind][1] != section:
                continue
            if c.kind == "documentation":
                items.append("- API documentation (descriptions, examples) updated.")
                continue
            mark = "**Breaking:** " if c.level == "breaking" else ""
            items.append(f"- {mark}{name(c)}: {c.text}.")
        if items:
            lines += ["", f"### {section}", "", *items]
    return lines


# -- the command line -------------------------------------------------------------------------


def _at_ref(ref: str, spec: Path) -> str:
    spec = spec.resolve()
    top = subprocess.run(
        ["git", "-C", str(spec.parent), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
    )
    if top.returncode:
        raise DocumentError(f"{spec} is not in a git repository")
    relative = spec.relative_to(Path(top.stdout.strip()).resolve()).as_posix()
    shown = subprocess.run(
        ["git", "-C", str(spec.parent), "show", f"{ref}:{relative}"],
        capture_output=True,
        text=True,
    )
    if shown.returncode:
        raise DocumentError(f"cannot read {relative} at {ref!r}: {shown.stderr.strip()}")
    return shown.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("documents", nargs="*", metavar="DOC", help="OLD NEW, without --base")
    parser.add_argument("--base", help="git ref whose document is the old one")
    parser.add_argument("--spec", type=Path, default=SPEC, help="the new document (with --base)")
    parser.add_argument("--fail-on", choices=("breaking", "warning"), default="breaking")
    parser.add_argument("--changelog", action="store_true", help="also print a changelog draft")
    args = parser.parse_args(argv)
    try:
        if args.base is not None:
            if args.documents or not args.base:
                raise DocumentError("--base needs a git ref (make api-diff BASE=<ref>)")
            old_text, old_name = _at_ref(args.base, args.spec), f"{args.spec.name} at {args.base}"
            new_text, new_name = args.spec.read_text(encoding="utf-8"), str(args.spec)
        elif len(args.documents) == 2:
            old_path, new_path = (Path(d) for d in args.documents)
            old_text, old_name = old_path.read_text(encoding="utf-8"), str(old_path)
            new_text, new_name = new_path.read_text(encoding="utf-8"), str(new_path)
        else:
            raise DocumentError("give --base REF or two documents (OLD NEW)")
        changes = compare(load(old_text, name=old_name), load(new_text, name=new_name))
    except (DocumentError, OSError) as exc:
        print(f"api-diff: {exc}", file=sys.stderr)
        return 2
    print("\n".join([summary(changes), *report(changes)] if changes else report(changes)))
    if args.changelog and changes:
        print("\nChangelog draft:\n")
        print("\n".join(changelog(changes, version=__version__)))
    return 1 if failed(changes, args.fail_on) else 0


def report_files(old: Path, new: Path) -> list[str]:
    """The report from one document file to another, for `make generate` (never raises)."""
    try:
        old_doc = load(old.read_text(encoding="utf-8"), name=str(old))
        changes = compare(old_doc, json.loads(new.read_text(encoding="utf-8")))
    except (DocumentError, OSError, ValueError) as exc:
        return [f"api-diff: cannot compare with the last generated document: {exc}"]
    return [summary(changes), *report(changes)] if changes else report(changes)


if __name__ == "__main__":
    raise SystemExit(main())
