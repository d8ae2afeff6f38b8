"""Offline, as on an air-gapped host: every request to a host other than the test server is
aborted and recorded. Swagger UI, ReDoc and the dashboard must render from what the server
itself serves, and must not even try anywhere else (a CDN, a font, a logo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@dataclass
class Guard:
    own: str  # host:port of the test server
    attempted: list[str] = field(default_factory=list)

    def external(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != self.own

    def note(self, url: str) -> None:
        if self.external(url) and url not in self.attempted:
            self.attempted.append(url)

    def __call__(self, route) -> None:
        if self.external(route.request.url):
            self.note(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()


@pytest.fixture
def offline(page, seeded) -> Guard:
    """The page's context with everything but the test server blocked (before any navigation)."""
    guard = Guard(own=urlsplit(seeded.url).netloc)
    page.context.route("**/*", guard)
    page.context.on("request", lambda request: guard.note(request.url))  # any the router did not see
    return guard


def operations(seeded) -> list[dict]:
    spec = httpx.get(seeded.url + "/openapi.json", timeout=10).json()
    return [{"method": method.upper(), "path": path, "summary": op["summary"], "id": op["operationId"]}
            for path, item in spec["paths"].items() for method, op in item.items()]


def test_swagger_ui_renders_every_operation_offline(page, page_errors, seeded, offline):
    expected = operations(seeded)
    page.goto(seeded.url + "/docs")
    page.wait_for_selector(".opblock")
    page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {len(expected)}")
    shown = page.eval_on_selector_all(".opblock", """(blocks) => blocks.map((b) => ({
      method: b.querySelector('.opblock-summary-method').textContent,
      path: b.querySelector('.opblock-summary-path').dataset.path,
      summary: b.querySelector('.opblock-summary-description')?.textContent || null,
    }))""")
    assert sorted((s["method"], s["path"], s["summary"]) for s in shown) == sorted(
        (e["method"], e["path"], e["summary"]) for e in expected)
    assert page.locator(".swagger-ui .info .title").text_content().startswith("recsys")
    assert offline.attempted == [], f"/docs tried to reach other hosts: {offline.attempted}"
    page_errors.assert_none()


def test_redoc_renders_every_operation_offline(page, page_errors, seeded, offline):
    expected = operations(seeded)
    page.goto(seeded.url + "/redoc")
    page.wait_for_selector("[data-section-id*='operation/']")
    titles = page.eval_on_selector_all("[data-section-id^='operation/']", """(sections) => Object.fromEntries(
      sections.map((s) => [s.dataset.sectionId.slice('operation/'.length), s.querySelector('h2')?.textContent.trim()]))""")
    assert titles == {e["id"]: e["summary"] for e in expected}
    assert offline.attempted == [], f"/redoc tried to reach other hosts: {offline.attempted}"
    page_errors.assert_none()


def test_the_dashboard_renders_offline(page, page_errors, seeded, offline):
    page.goto(seeded.url + "/dashboard")
    page.wait_for_selector(f"#active-body [data-active-version='{seeded.version}']")
    page.wait_for_selector("#hyperparam-fields [data-path]")
    page.wait_for_selector(f"#versions-table tr[data-version='{seeded.version}']")
    page.wait_for_selector(f"#history-table tr[data-job-id='{seeded.job_id}']")
    page.wait_for_selector("#try-recs li.rec")
    # The charts need the plotly bundle, which the server serves from the installed package.
    page.wait_for_function("document.getElementById('per-day-chart').data?.[0]?.x.length > 0")
    page.wait_for_selector("#metrics-values dl")  # one version: its values, no chart
    page.wait_for_function("document.getElementById('serving').dataset.state === 'ready'")
    assert offline.attempted == [], f"/dashboard tried to reach other hosts: {offline.attempted}"
    page_errors.assert_none()
