"""Browser tests: the live stack of tests/integration (PostgreSQL, Redis, a Celery worker,
uvicorn) with one model trained before the page opens, driven by headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from service.testing.stack import Stack, launch_stack, train
from tests.conftest import REPO, data_dir

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"
# A Redis database of its own: a worker of another live stack (integration tests, benches)
# sharing one would take this stack's jobs.
REDIS_DB = 15  # 11-13: integration tests and benches, 14: bench/load.py
# A deliberately weak matrix factorization, so that a better one trained later activates.
SEED_HYPERPARAMS = {"n_factors": 4, "epochs": 3, "seed": 0}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """The same live stack as tests/integration: PostgreSQL, Redis, a Celery worker, uvicorn."""
    with launch_stack(tmp_path_factory.mktemp("browser-stack"), REDIS_DB, data_dir() / "ml-100k") as live:
        yield live


@dataclass
class Seeded:
    url: str
    job_id: str
    version: int


@pytest.fixture(scope="module")
def seeded(stack) -> Seeded:
    """The live stack with a first, deliberately small model trained and active."""
    url = stack.api_urls[0]
    with httpx.Client(base_url=url, timeout=30) as client:
        version = train(client, SEED_HYPERPARAMS, timeout=120, model_type="matrix_factorization")
        job_id = next(m["job_id"] for m in client.get("/api/ml/models").json() if m["version"] == version)
    return Seeded(url=url, job_id=job_id, version=version)


# Module scope: Playwright's sync API keeps an event loop running until it stops, which
# would break the asyncio tests that run after these in the same session.
@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/test.sh does), or set CHROMIUM_PATH"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class PageErrors:
    messages: list[str] = field(default_factory=list)

    def assert_none(self) -> None:
        assert not self.messages, self.messages


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


def open_tab(browser, page_errors: PageErrors, **context_options) -> Iterator:
    """A tab in a fresh browser context (so a fresh sessionStorage), its errors recorded."""
    context = browser.new_context(**context_options)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.on("pageerror", lambda error: page_errors.messages.append(f"pageerror: {error}"))
    # An HTTP error answer is logged by Chromium as "Failed to load resource"; the page
    # shows those itself. Anything else on the console is a bug in the page.
    tab.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text
           and page_errors.messages.append(f"console: {msg.text}"))
    yield tab
    context.close()


@pytest.fixture
def page(browser, page_errors) -> Iterator:
    """A tab at laptop size."""
    yield from open_tab(browser, page_errors, viewport={"width": 1440, "height": 1000})


PHONE = {"width": 390, "height": 844}  # an iPhone 12 to 14's viewport, in CSS pixels


@pytest.fixture
def phone(browser, page_errors) -> Iterator:
    """A tab as on a phone: its viewport, a touch screen (so `tap` works), mobile emulation."""
    yield from open_tab(browser, page_errors, viewport=PHONE, has_touch=True, is_mobile=True)


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/ (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if full_page:
        page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-page
    page.screenshot(path=str(path), full_page=full_page)
    return path
