"""The incident board (GET /), the public status page (GET /status) and the incident JSON
links, in a real headless Chromium (Debian's `chromium`, driven by Playwright) against the
real daemon process.

What a responder sees: the board picks up a newly declared incident by itself within one
refresh; an outage shows an S1 banner on the status page; the board's links open the
incident's JSON; the pages log no console errors, their Content-Security-Policy stops
injected markup from running anything, and a phone-sized viewport still reads without
sideways scrolling. Screenshots of each page land in `test-output/screenshots/` (or
$FR_SCREENSHOTS), so a run can be looked at afterwards; docs/images/ keeps one of each for
the README.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..e2e.harness import Processes, free_port, post_json, wait_ready
from ..factories import API_TOKEN, WEBHOOK_TOKEN, make_alert, make_payload

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is in the test extra (`make test` installs it)"
)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("FR_SCREENSHOTS", REPO / "test-output" / "screenshots"))
REFRESH_S = 2  # the board's server.board_refresh in this test
STARTUP_DEADLINE_S = 60.0
PHONE = {"width": 375, "height": 740}
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (`make test` installs it)"
    ),
]


@dataclass
class Daemon:
    url: str
    processes: Processes
    shots: Path

    def webhook(self, *alerts: dict[str, Any], group: str) -> None:
        answer = post_json(
            f"{self.url}/api/v1/alertmanager",
            make_payload(*alerts, groupKey=group),
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        )
        assert answer is not None and answer.status == 200, answer

    def declare(self, service: str, title: str, impact: str) -> int:
        answer = post_json(
            f"{self.url}/api/v1/incidents",
            {"service": service, "title": title, "impact": impact},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )
        assert answer is not None and answer.status == 201, answer
        return int(answer.json()["id"])


@dataclass
class Watched:
    """What the browser reported while a page was open."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    loads: int = 0


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    port = free_port()
    config = tmp_path / "firstresponder.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"listen": f"127.0.0.1:{port}", "board_refresh": f"{REFRESH_S}s"},
                "store": {"url": f"sqlite:///{tmp_path / 'firstresponder.db'}"},
                "escalation": {"enabled": False},  # the pages, not paging, are under test
                "auth": {
                    "webhook": {"bearer_token": WEBHOOK_TOKEN},
                    "api_tokens": [{"name": "browser", "token": API_TOKEN}],
                },
                "rules_dir": str(REPO / "rules"),
            }
        )
    )
    processes = Processes(tmp_path / "logs")
    executable = str(Path(sys.executable).parent / "firstresponder")
    try:
        processes.start("firstresponder", [executable, "serve", "--config", str(config)])
        url = f"http://127.0.0.1:{port}"
        wait_ready(
            f"{url}/readyz",
            what="firstresponder",
            deadline_s=STARTUP_DEADLINE_S,
            processes=processes,
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        yield Daemon(url, processes, SHOTS)
        print(f"screenshots: {SHOTS}")
    finally:
        processes.stop_all()
        print(processes.describe(tail=None))


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Any, url: str, **context: Any) -> tuple[Any, Watched]:
    page = browser.new_context(**context).new_page()
    watched = Watched()

    def console(message: Any) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    def dialog(opened: Any) -> None:
        watched.dialogs.append(opened.message)
        opened.dismiss()

    def loaded(_: Any) -> None:
        watched.loads += 1

    page.on("console", console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("dialog", dialog)
    page.on("load", loaded)
    response = page.goto(url)
    assert response is not None and response.status == 200, response
    return page, watched


def page_width(page: Any) -> int:
    """The page's width in CSS pixels. On a phone the layout viewport widens to whatever the
    content needs, so `innerWidth` alone would hide an overflow: compare with the screen."""
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_board_shows_a_declared_incident_within_one_refresh(daemon: Daemon, browser: Any) -> None:
    page, watched = open_page(browser, f"{daemon.url}/")
    assert "No open incidents." in page.inner_text("body")

    # Declared after the page was loaded: only the page's own refresh can show it.
    daemon.webhook(
        make_alert(
            labels={"alertname": "CheckoutDown", "service": "checkout", "severity": "critical"},
            fingerprint="cafe0001",
        ),
        group='{}:{service="checkout"}',
    )
    row = page.locator("tr", has_text="checkout")
    row.wait_for(timeout=(2 * REFRESH_S + 10) * 1000)
    assert watched.loads >= 2, "the incident appeared without the board reloading itself"
    text = row.inner_text()
    assert "S1" in text and "NOT ACKNOWLEDGED" in text, text
    page.screenshot(path=str(daemon.shots / "board.png"), full_page=True)
    assert watched.errors == [], watched.errors


def test_status_page_shows_an_s1_banner(daemon: Daemon, browser: Any) -> None:
    daemon.declare("checkout", "Checkout is down", "outage")
    page, watched = open_page(browser, f"{daemon.url}/status")
    banner = page.locator(".banner")
    assert banner.count() == 1
    assert "outage" in (banner.get_attribute("class") or "")
    # The banner is the first thing a customer reads, and it is red.
    colour = banner.evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(251, 213, 213)", colour
    assert "checkout" in page.inner_text("body")
    page.screenshot(path=str(daemon.shots / "status.png"), full_page=True)
    assert watched.errors == [], watched.errors


def test_board_links_open_the_incident_json(daemon: Daemon, browser: Any) -> None:
    number = daemon.declare("search", "Search is slow", "degraded")
    page, watched = open_page(browser, f"{daemon.url}/")
    for label, check in (
        ("incident", lambda doc: doc["id"] == number and doc["service"] == "search"),
        ("timeline", lambda doc: any(e["kind"] == "declared" for e in doc["entries"])),
    ):
        page.get_by_role("link", name=label, exact=True).first.click()
        page.wait_for_load_state()
        assert page.url.startswith(f"{daemon.url}/api/v1/incidents/{number}"), page.url
        document = json.loads(page.inner_text("body"))
        assert check(document), document
        page.go_back()
    assert watched.errors == [], watched.errors


def test_content_security_policy_stops_injected_markup(daemon: Daemon, browser: Any) -> None:
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    daemon.declare("search", hostile, "degraded")
    page, watched = open_page(browser, f"{daemon.url}/")
    # Escaped: the title reads as text, and no element came of it.
    assert hostile in page.inner_text("body")
    assert page.locator("img, script").count() == 0
    assert watched.errors == [] and watched.dialogs == []
    # Even markup that got in some other way could run nothing: CSP has the last word.
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend',"
        ' \'<img src="/x" onerror="window.ranInjected = 1">\')'
    )
    page.wait_for_timeout(500)  # let the blocked load and the handler (not) happen
    assert page.evaluate("window.ranInjected") is None
    assert watched.dialogs == []
    assert any("Content Security Policy" in e for e in watched.errors), watched.errors


@pytest.mark.parametrize("path", ["/", "/status"])
def test_pages_read_well_on_a_phone(daemon: Daemon, browser: Any, path: str) -> None:
    daemon.declare("checkout", "Checkout is down in eu-west-1 for card payments", "outage")
    daemon.declare("search", "Search results are slow", "degraded")
    page, watched = open_page(
        browser, f"{daemon.url}{path}", viewport=PHONE, device_scale_factor=2, is_mobile=True
    )
    assert page_width(page) <= PHONE["width"], page_width(page)
    # Rows become cards, and each value keeps its column's name.
    first = page.locator("td").first
    assert first.evaluate("td => getComputedStyle(td, '::before').content") != "none"
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 14, size  # readable without zooming in
    name = "board" if path == "/" else "status"
    page.screenshot(path=str(daemon.shots / f"{name}-phone.png"), full_page=True)
    assert watched.errors == [], watched.errors
