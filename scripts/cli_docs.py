"""Write the reference half of docs/cli.md from the command line's own parsers.

    python -m scripts.cli_docs           # rewrite docs/cli.md below its marker (make cli-docs)
    python -m scripts.cli_docs --check   # exit 1 when the committed page differs

Everything above the marker line is written by hand; everything below it comes from
`somia._cli.build_parser()` and the fake server's parser, so a flag renamed or added in the
code changes the page, and tests/test_docs_pages.py fails until it is regenerated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cli.md"
MARKER = "<!-- Generated from the parsers by `make cli-docs`: do not edit below this line. -->"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _flag(action: argparse.Action) -> str:
    if not action.option_strings:
        return str(action.metavar or action.dest)
    if action.nargs == 0:
        value = ""
    elif action.choices is not None:
        value = " {" + ",".join(map(str, action.choices)) + "}"
    else:
        value = f" {action.metavar or action.dest.upper()}"
    return ", ".join(f"`{flag}{value}`" for flag in action.option_strings)


def _help(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%" in text:  # as argparse expands it: %(default)s and the like
        text = text % {**vars(action), "prog": prog}
    return _cell(text)


def _options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> list[str]:
    lines: list[str] = []
    for group in parser._action_groups:
        actions = [
            a
            for a in group._group_actions
            if a.help != argparse.SUPPRESS
            and not isinstance(a, argparse._HelpAction)
            and not isinstance(a, argparse._SubParsersAction)
        ]
        if not actions or (group.title or "") in skip:
            continue
        lines += ["", f"| {group.title} | |", "|---|---|"]
        for action in actions:
            name = _flag(action) if action.option_strings else f"`{_flag(action)}`"
            lines.append(f"| {name} | {_help(action, parser.prog)} |")
    return lines


def _command(title: str, parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> list[str]:
    lines = ["", f"### `{title}`", ""]
    if parser.description:
        lines.append(_cell(parser.description))
    lines += _options(parser, skip)
    if parser.epilog:
        lines += ["", _cell(parser.epilog)]
    return lines


def reference() -> str:
    """The generated half of the page, from the parsers as the code defines them."""
    from somia._cli import build_parser
    from somia.testing.__main__ import build_parser as fake_server_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    lines = [MARKER, "", "## Reference", "", "Every command and option, as `--help` gives them."]
    lines += _command("somia", parser)
    for name, sub in commands.choices.items():
        if name == "fake-server":
            lines += _command("somia fake-server", fake_server_parser())
        else:  # the connection options are the top-level command's, listed once above
            lines += _command(f"somia {name}", sub, skip=("connection",))
    return "\n".join(lines) + "\n"


def render(page: str) -> str:
    """`page` with everything below its marker replaced by the reference."""
    head, found, _ = page.partition(MARKER)
    if not found:
        raise SystemExit(f"{PAGE} has no marker line: {MARKER}")
    return head + reference()


def main(argv: list[str]) -> int:
    page = PAGE.read_text(encoding="utf-8")
    fresh = render(page)
    if "--check" in argv:
        if fresh != page:
            print(f"{PAGE.relative_to(ROOT)} is stale: run `make cli-docs`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
