"""The static site in a real browser: Debian's Chromium, headless, driven by Playwright.

The site is served from a loopback http.server thread, as GitHub Pages would serve it.
The index lists the incidents and its filters and search change what is shown, an
incident's page shows its timeline and post-mortem, the stats page's charts are SVG
with something drawn in them, and a title holding <script> is shown as text while no
script of it runs. A missing Chromium fails the test (run scripts/ensure-chromium),
it never skips.

Screenshots go to the test's temporary folder; with SITE_SCREENSHOTS=DIR set they go
to DIR as site.png and status-page.png (the README's: SITE_SCREENSHOTS=docs).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo
from test_site import SCRIPT_TITLE, build, ident, make_public

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module; its absence is a failure, with the fix."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: run scripts/ensure-chromium "
            "(as root: apt-get install -y --no-install-recommends chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    """serve(folder) -> the base URL of a loopback HTTP server for that folder."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; any script error in it fails the test. The pages' own
    Content-Security-Policy is set aside (Playwright's waits evaluate strings), so what
    keeps a title's <script> from running here is the escaping alone."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, errors


def demo_repo(repo: Repo) -> dict[str, str]:
    """A few months of believable incidents, some public, one with a post-mortem."""
    repo.git("config", "user.name", "Priya Raman")
    ids: dict[str, str] = {}
    ids["db"] = ident(
        repo, "Database failover left writes read-only", "-s", "SEV-1", "--service", "db",
        "--service", "api", "--at", "75d", "--summary", "All writes failed for 22 minutes.",
    )  # fmt: skip
    repo.ok("log", ids["db"], "Replica promoted but still read_only=1", "--at", "75d")
    repo.ok("status", ids["db"], "resolved", "-m", "Writes back", "--at", "1790h")
    ids["checkout"] = ident(
        repo, "Checkout API returning 500s", "-s", "SEV-2", "--service", "checkout",
        "--service", "payments", "--at", "40d",
        "--summary", "About 30% of checkout requests fail with HTTP 500.",
    )  # fmt: skip
    co = ids["checkout"]
    repo.ok("log", co, "Error rate jumped right after deploy 1234", "--at", "959h")
    repo.ok("log", co, "Roll back deploy 1234", "--kind", "decision", "--at", "958h")
    repo.ok("log", co, "Checkout errors for some customers.", "--kind", "public", "--at", "958h")
    repo.ok("status", co, "identified", "-m", "Pool size regressed", "--at", "957h")
    repo.ok("status", co, "resolved", "-m", "Stable for 30 minutes", "--at", "955h")
    repo.ok("action", "add", co, "Alert on pool saturation", "-o", "Dan", "-d", "7d")
    repo.ok("postmortem", co)
    make_public(repo, co)
    ids["search"] = ident(
        repo, "Search results slow", "-s", "SEV-3", "-t", "performance", "--service", "search",
        "--at", "12d",
    )  # fmt: skip
    repo.ok(
        "log", ids["search"], "Search is slower than usual.", "--kind", "public", "--at", "287h"
    )
    repo.ok("status", ids["search"], "resolved", "-m", "Index rebuilt", "--at", "280h")
    make_public(repo, ids["search"])
    ids["login"] = ident(
        repo, "Login errors for SSO users", "-s", "SEV-2", "--service", "login", "--at", "50m"
    )
    repo.ok("log", ids["login"], "Some SSO logins fail; we are investigating.", "--kind", "public")
    repo.ok("status", ids["login"], "identified", "-m", "Expired IdP certificate")
    repo.ok("log", ids["login"], "We found the cause and are fixing it.", "--kind", "public")
    make_public(repo, ids["login"])
    ids["staging"] = ident(
        repo, "Staging deploys stuck", "-s", "SEV-4", "-e", "staging", "--service", "ci",
        "--at", "5d",
    )  # fmt: skip
    repo.ok(
        "maintenance", "add", "Database upgrade to PostgreSQL 16", "--service", "db",
        "--start", "+2d", "--end", "+3d", "--public",
        "--description", "Writes may pause for up to a minute.",
    )  # fmt: skip
    return ids


def _shots(tmp_path: Path) -> Path:
    target = os.environ.get("SITE_SCREENSHOTS")
    folder = Path(target) if target else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_index_filters_and_searches(repo: Repo, tmp_path: Path, serve: Any, page: Any) -> None:
    """The index lists every incident; each filter and the search narrow it."""
    ids = demo_repo(repo)
    out = tmp_path / "site"
    build(repo, out)
    base = serve(out)
    page.goto(base + "index.html")
    rows = page.locator("#incidents tbody tr")
    assert rows.count() == 5
    assert page.locator("#count").inner_text() == "5 incidents"
    page.screenshot(path=str(_shots(tmp_path) / "site.png"))

    def shows(*wanted: str) -> None:
        """Wait until exactly these incidents are listed (the search waits a moment
        after each key), then check the count line agrees."""
        page.wait_for_function(
            "ids => JSON.stringify(Array.from(document.querySelectorAll("
            "'#incidents tbody tr:not([hidden])'), r => r.dataset.id).sort())"
            " === JSON.stringify(ids)",
            arg=sorted(wanted),
        )
        count = page.locator("#count").inner_text()
        assert count == ("5 incidents" if len(wanted) == 5 else f"{len(wanted)} of 5 incidents")

    page.select_option("#filter-severity", "SEV-2")
    shows(ids["checkout"], ids["login"])
    page.select_option("#filter-status", "active")
    shows(ids["login"])
    page.click("button[type=reset]")
    shows(*ids.values())
    page.select_option("#filter-service", "payments")
    shows(ids["checkout"])
    page.select_option("#filter-service", "")
    page.select_option("#filter-type", "performance")
    shows(ids["search"])
    page.select_option("#filter-type", "")
    page.select_option("#filter-year", ids["db"][4:8])
    assert page.locator("#incidents tbody tr:visible").count() >= 1
    page.select_option("#filter-year", "")
    # Words found only in a timeline entry, then only in a summary, then nowhere.
    page.fill("#q", "read_only")
    shows(ids["db"])
    page.fill("#q", "HTTP 500 checkout")
    shows(ids["checkout"])
    page.fill("#q", "no such words anywhere")
    shows()
    assert page.locator("#empty").is_visible()
    # The view is kept in the address: a reload shows the same.
    page.fill("#q", "deploy 1234")
    shows(ids["checkout"])
    page.wait_for_function("location.hash.includes('q=deploy')")
    page.reload()
    assert page.input_value("#q") == "deploy 1234"
    shows(ids["checkout"])


def test_an_incident_page_shows_timeline_and_postmortem(
    repo: Repo, tmp_path: Path, serve: Any, page: Any
) -> None:
    """Clicking an incident opens its page: card, timeline, post-mortem, actions, history."""
    ids = demo_repo(repo)
    out = tmp_path / "site"
    build(repo, out)
    page.goto(serve(out) + "index.html")
    page.click(f"#incidents tr[data-id='{ids['checkout']}'] a")
    page.wait_for_url(f"**/incidents/{ids['checkout']}.html")
    assert page.locator("h1").inner_text() == "Checkout API returning 500s"  # the only h1
    timeline = page.locator("#timeline li")
    assert timeline.count() >= 6
    assert "Roll back deploy 1234" in page.locator("#timeline").inner_text()
    body = page.locator("#body")
    for heading in ("Post-mortem", "Impact", "Root Cause", "Lessons Learned"):
        assert body.get_by_role("heading", name=heading, exact=True).count() == 1
    assert body.locator("table").count() >= 1  # the figures table, rendered
    assert "Alert on pool saturation" in page.locator("#actions").inner_text()
    assert page.locator("#history tbody tr").count() >= 5


def test_the_charts_are_svg_with_something_drawn(
    repo: Repo, tmp_path: Path, serve: Any, page: Any
) -> None:
    """The stats page holds three SVG charts, each with visible bars or points."""
    demo_repo(repo)
    out = tmp_path / "site"
    build(repo, out)
    page.goto(serve(out) + "stats.html")
    charts = page.locator("figure.chart svg")
    assert charts.count() == 3
    for index in range(3):
        chart = charts.nth(index)
        box = chart.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
        marks = chart.locator("rect[height], circle")
        assert marks.count() > 0
        assert chart.locator("title").count() > 0


def test_the_status_page(repo: Repo, tmp_path: Path, serve: Any, page: Any) -> None:
    """The public build: the overall status, services with 90 days, updates with times."""
    ids = demo_repo(repo)
    out = tmp_path / "public"
    build(repo, out, public_only=True, title="Acme status")
    page.goto(serve(out) + "index.html")
    assert page.locator("#overall").inner_text() == "Partial System Outage"
    assert page.locator(f"#{ids['login']} .updates li").count() == 2
    assert "We found the cause" in page.locator(f"#{ids['login']}").inner_text()
    components = page.locator("#components .component")
    assert components.count() == 5  # checkout, db (its public maintenance), login, payments, search
    assert page.locator("#component-login").get_attribute("data-status") == "partial_outage"
    assert page.locator("#component-login svg.days rect").count() == 90
    assert page.locator("#components").inner_text().count("Operational") == 4
    assert "Database upgrade to PostgreSQL 16" in page.inner_text("main")
    page.screenshot(path=str(_shots(tmp_path) / "status-page.png"), full_page=True)
    text = page.inner_text("body")
    assert "Priya" not in text and "Roll back deploy" not in text
    page.click(f"#{ids['checkout']} h3 a")
    assert "Checkout errors for some customers." in page.inner_text("#updates")


def test_a_script_in_a_title_is_text_and_never_runs(
    repo: Repo, tmp_path: Path, serve: Any, page: Any
) -> None:
    """A title `<script>window.pwned = 1</script> …` shows as those characters on the
    index, its page and the status page, and window.pwned stays undefined."""
    incident = ident(repo, SCRIPT_TITLE, "-s", "SEV-1", "--service", "payments")
    repo.ok("log", incident, "<img src=x onerror='window.pwned=2'> is down", "--kind", "public")
    make_public(repo, incident)
    full, public_site = tmp_path / "site", tmp_path / "public"
    build(repo, full)
    build(repo, public_site, public_only=True)
    for base, path in (
        (serve(full), "index.html"),
        (serve(full), f"incidents/{incident}.html"),
        (serve(public_site), "index.html"),
        (serve(public_site), f"incidents/{incident}.html"),
    ):
        page.goto(base + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.pwned") == "undefined", path
        assert "<script>window.pwned = 1</script>" in page.inner_text("main"), path
        assert page.locator("main script, main b, main img").count() == 0, path
    page.goto(serve(full) + "index.html")
    page.fill("#q", "pwned")
    page.wait_for_function("document.querySelector('#count').textContent.startsWith('1 ')")
    assert page.evaluate("typeof window.pwned") == "undefined"


def test_the_pages_policy_allows_only_the_sites_own_scripts(
    repo: Repo, tmp_path: Path, serve: Any, browser: Any
) -> None:
    """With the Content-Security-Policy in force, the index's own scripts still work
    (search narrows the list) and an inline script would not run."""
    ident(repo, "Disk full on db-3", "--service", "db")
    ident(repo, "Queue backlog", "--service", "queue")
    out = tmp_path / "site"
    build(repo, out)
    context = browser.new_context()
    try:
        tab = context.new_page()
        blocked: list[str] = []
        tab.on(
            "console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None
        )
        tab.goto(serve(out) + "index.html")
        tab.fill("#q", "disk")
        tab.locator("#incidents tbody tr:visible").first.wait_for()
        tab.wait_for_timeout(300)
        assert tab.locator("#incidents tbody tr:visible").count() == 1
        assert tab.evaluate("document.documentElement.classList.contains('js')")
        tab.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.injected = 1'; document.body.append(s); }"
        )
        assert tab.evaluate("typeof window.injected") == "undefined"
        assert blocked  # the browser says why it refused
    finally:
        context.close()
