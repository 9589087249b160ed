"""The page asks nothing of other hosts (the default gradio theme fetched Google's web fonts),
and the Dataset tab shows the demo dataset ready to train, in a real Chromium."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest
from browser import CHROMIUM_FLAGS, chromium_path, start_server

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _browser_or_skip() -> str:
    path = chromium_path()
    try:
        import playwright  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        if os.environ.get("LFD_REQUIRE_BROWSER"):
            pytest.fail("Chromium or Playwright is missing, and LFD_REQUIRE_BROWSER is set")
        pytest.skip("no Chromium/Playwright here (apt-get install chromium; pip install "
                    "playwright)")
    return path


def test_the_page_requests_nothing_from_outside_hosts(tmp_path):
    from playwright.sync_api import sync_playwright

    executable = _browser_or_skip()
    process, url = start_server(["--demo", "--data-dir", str(tmp_path / "workspace")], ROOT,
                                tmp_path / "app.log")
    outside: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable,
                                                 args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.on("request", lambda request: outside.append(request.url)
                    if urlparse(request.url).hostname not in LOOPBACK
                    and urlparse(request.url).scheme in ("http", "https", "ws", "wss")
                    else None)
            page.goto(url)
            page.locator("#lfd_tabs").wait_for()
            page.wait_for_load_state("networkidle")
            # The demo dataset is selected, processed and captioned: its images are shown.
            page.locator("#lfd_dataset_gallery img").first.wait_for()
            token = page.locator("#lfd_concept_token textarea, #lfd_concept_token input").first
            assert token.input_value() == "sks"
            browser.close()
    finally:
        process.terminate()
        process.wait(30)
    assert outside == []


def test_the_gradio_page_template_loses_its_outside_tags_and_nothing_else():
    """On the installed gradio's own template (3.41, 4.x and 5.x differ in detail)."""
    import gradio

    from lora_for_dummies.hosts.offline import strip_outside_references

    template = Path(gradio.__file__).parent / "templates" / "frontend" / "index.html"
    html = template.read_bytes()
    assert b"cdnjs.cloudflare.com" in html  # what the browser test would otherwise see
    stripped = strip_outside_references(html)
    assert b"cdnjs.cloudflare.com" not in stripped and b"fonts.googleapis" not in stripped
    assert stripped.count(b"<script") == html.count(b"<script") - 1
    assert b"window.gradio_config" in stripped or b"gradio_config" in stripped
