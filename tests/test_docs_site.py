"""The documentation site, built as `make docs` builds it (--strict) and opened in a real
browser: Debian's chromium, driven by Playwright over loopback, nothing downloaded.

The home page loads with no console error and no request off the host, the search finds an
option, the client's reference page shows its methods, and a deep link lands on its heading.
The reference covers every name in `__all__` of each public package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from scripts import _server_process as server_process
from tests.harness import public_packages

pytestmark = pytest.mark.slow  # builds the site, starts a server and a browser

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # Chromium's own traffic (updates, sync, field trials) is not the page's: keep it quiet.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built with --strict from the checkout's docs/ and mkdocs.yml."""
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
    )
    assert built.returncode == 0, built.stderr
    return out


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    """The built site served over HTTP on 127.0.0.1, on a free port."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = server_process.announced_url(process, TIMEOUT)
        assert url is not None, "http.server did not start"
        yield url
    finally:
        server_process.stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:  # never a silent skip: make test installs it, or says how
        pytest.fail("chromium is missing: run `make chromium` (it says what to install)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1280, "height": 900})
    yield opened
    opened.close()


def test_the_reference_covers_every_public_name(site: Path) -> None:
    reference = "".join(p.read_text(encoding="utf-8") for p in (site / "reference").rglob("*.html"))
    missing = [
        f"{package.__name__}.{name}"
        for package in public_packages()
        for name in package.__all__
        if f'id="{package.__name__}.{name}"' not in reference
    ]
    assert missing == []


def test_the_reference_shows_the_error_tree(site: Path) -> None:
    html = (site / "reference" / "errors" / "index.html").read_text(encoding="utf-8")
    assert "├── ApiError" in html
    assert "└── StreamBusyError" in html


def test_the_home_page_loads_without_errors_or_requests_off_the_host(
    page: Page, base_url: str
) -> None:
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    host = urlsplit(base_url).netloc
    page.on(
        "request",
        lambda request: (
            None if urlsplit(request.url).netloc == host else elsewhere.append(request.url)
        ),
    )
    page.goto(base_url + "/", wait_until="networkidle")
    expect(page).to_have_title("Somia Python SDK")
    expect(page.locator("text=somia fake-server --any-agent").first).to_be_visible()
    assert errors == []
    assert elsewhere == []


def test_search_finds_the_total_timeout_option(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.locator("input.md-search__input").click()
    page.keyboard.type("total_timeout")
    results = page.locator(".md-search-result__item")
    expect(results.first).to_be_visible(timeout=15_000)
    links = [link.get_attribute("href") or "" for link in results.locator("a").all()]
    assert any("timeouts/" in link for link in links), links


def test_the_client_reference_shows_its_methods(page: Page, base_url: str) -> None:
    page.goto(base_url + "/reference/clients/")
    for method in ("with_options", "request", "close", "from_env"):
        expect(page.locator(f'[id="somia.SomiaClient.{method}"]')).to_be_visible()
    for method in ("create_session", "interact_session", "run"):
        expect(page.locator(f'[id="somia.AgentSessionsClient.{method}"]')).to_be_visible()


def test_a_deep_link_lands_on_its_heading(page: Page, base_url: str) -> None:
    anchor = "somia.AgentSessionsClient.interact_session"
    page.goto(f"{base_url}/reference/clients/#{anchor}")
    heading = page.locator(f'[id="{anchor}"]')
    expect(heading).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 0  # scrolled there, not left at the top
