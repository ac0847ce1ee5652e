"""The docs pages and the site's config, read as files: the generated command-line page is
fresh, every page is in the nav and in llms.txt, every `make api-diff` example names a ref
that exists, and the config stays plain and offline."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from scripts import cli_docs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _config() -> dict[str, Any]:
    # The config's own tags (none today) would need mkdocs' loader; plain YAML reads it.
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return config


def _nav_pages(nav: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in nav:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_the_command_line_page_is_generated_from_the_parsers() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert cli_docs.MARKER in page
    assert cli_docs.render(page) == page, "docs/cli.md is stale: run `make cli-docs`"


def test_every_page_is_in_the_nav_once() -> None:
    nav = _nav_pages(_config()["nav"])
    files = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == files


def test_llms_txt_links_every_page_of_the_nav() -> None:
    text = (DOCS / "llms.txt").read_text(encoding="utf-8")
    links = re.findall(r"^- \[[^\]]+\]\(([^)]*)\)", text, re.MULTILINE)
    pages = [page.removesuffix(".md") + "/" for page in _nav_pages(_config()["nav"])]
    assert sorted(links) == sorted(page for page in pages if page != "index/")


def test_every_make_api_diff_example_names_a_ref_that_exists() -> None:
    texts = [p.read_text(encoding="utf-8") for p in [ROOT / "CONTRIBUTING.md", *DOCS.rglob("*.md")]]
    refs = {ref for text in texts for ref in re.findall(r"make api-diff BASE=([^\s`]+)", text)}
    assert refs, "the docs show make api-diff"
    for ref in refs:
        found = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=ROOT,
            capture_output=True,
        )
        assert found.returncode == 0, f"make api-diff BASE={ref}: no such ref"


def test_the_performance_page_keeps_the_bench_table_marker() -> None:
    assert "\n<!-- bench-table -->\n" in (DOCS / "performance.md").read_text(encoding="utf-8")


def test_the_site_config_is_plain_and_offline() -> None:
    config = _config()
    assert "hooks" not in config
    assert "custom_dir" not in config["theme"]
    assert config["theme"]["font"] is False  # no web font fetched from Google
    assert "repo_url" not in config  # Material would fetch the repository's facts from GitHub
    assert "extra_javascript" not in config
    assert "extra_css" not in config
    plugins = [next(iter(p)) if isinstance(p, dict) else p for p in config["plugins"]]
    assert plugins == ["search", "mkdocstrings"]
