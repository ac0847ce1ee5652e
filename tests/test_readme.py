"""README.md is for users: short, in the order a new user needs, its links all resolve.

Its code blocks run in tests/test_docs_examples.py, with every page of the docs.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

SECTIONS = ["Install", "Quickstart", "Streaming", "Errors", "Documentation", "Develop"]


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n") + len(f"\n## {title}\n")
    end = README.find("\n## ", start)
    return README[start : None if end == -1 else end].strip()


def test_sections_come_in_the_order_a_new_user_needs() -> None:
    assert re.findall(r"^## (.+)$", README, re.MULTILINE) == SECTIONS


def test_it_stays_short() -> None:
    assert README.count("\n") <= 200


def test_develop_keeps_the_two_set_up_commands_in_three_lines() -> None:
    develop = _section("Develop")
    assert develop.count("\n") + 1 <= 3
    assert "`make demo`" in develop
    assert "`make test`" in develop
    assert "CONTRIBUTING.md" in develop


def test_every_relative_link_resolves() -> None:
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if "://" not in t]
    assert local, "the README links into the docs"
    assert [t for t in local if not (ROOT / t).exists()] == []
