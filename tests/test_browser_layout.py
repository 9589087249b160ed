"""No label, help text or value is cut off (issue 23: help text ending "(its own IMGS_", a
checkbox label overflowing, the bulk operation dropdown cutting off its own value). Each tab
of the demo app, at 1400×900 and 1024×768, in real Chromium: every element inside the app
whose text is wider than its box while its overflow is hidden, and every text input whose
value is wider than the input, is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import CHROMIUM_FLAGS, GradioPage, browser_or_skip, start_server

ROOT = Path(__file__).resolve().parent.parent
TABS = ("Dataset", "Train", "Extract", "Models")
SIZES = ((1400, 900), (1024, 768))

# Elements whose text is clipped: overflow hidden (or clip), or ellipsis, and content wider
# than the box; inputs whose value is wider than the field. Hidden elements (width 0, closed
# accordions) are skipped: they are measured when shown.
CLIPPED_JS = """
() => {
  const root = document.querySelector('#lfd_tabs');
  const out = [];
  for (const el of root.querySelectorAll('*')) {
    // hidden, or a 1-px label kept for screen readers (gradio 5's table captions)
    if (!el.offsetParent || el.clientWidth <= 2) continue;
    const style = getComputedStyle(el);
    const hides = ['hidden', 'clip'].includes(style.overflowX) || style.textOverflow === 'ellipsis';
    const isInput = el.tagName === 'INPUT' && ['text', 'search', ''].includes(el.type || '');
    const text = isInput ? el.value : (el.childElementCount === 0 ? el.textContent : '');
    if (!text || !text.trim()) continue;
    if ((hides || isInput) && el.scrollWidth > el.clientWidth + 1) {
      const id = el.closest('[id]') ? el.closest('[id]').id : '';
      out.push(`${id}: ${text.trim().slice(0, 60)} (${el.scrollWidth} > ${el.clientWidth})`);
    }
  }
  return out;
}
"""


# Every closed accordion of the shown tab opened (gradio 3, 4 and 5 all mark an accordion's
# header `.label-wrap`, and an open one `.open`); returns how many were opened.
OPEN_SECTIONS_JS = """
() => {
  let opened = 0;
  for (const header of document.querySelectorAll('#lfd_tabs .label-wrap')) {
    if (header.offsetParent && !header.classList.contains('open')) { header.click(); opened++; }
  }
  return opened;
}
"""


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout")
    process, url = start_server(["--demo", "--data-dir", str(root / "workspace")], ROOT,
                                root / "app.log")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.parametrize("width,height", SIZES)
def test_nothing_is_cut_off(demo_url, tmp_path, width, height):
    from playwright.sync_api import sync_playwright

    executable = browser_or_skip()
    clipped: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)
        page.goto(demo_url)
        page.locator("#lfd_tabs").wait_for()
        ui = GradioPage(page, tmp_path / "failure.png")
        try:
            for tab in TABS:
                ui.tab(tab)
                page.wait_for_timeout(500)
                opened = page.evaluate(OPEN_SECTIONS_JS)  # closed sections are measured too
                page.wait_for_timeout(500 if opened else 0)
                clipped += [f"{tab}: {line}" for line in page.evaluate(CLIPPED_JS)]
        finally:
            browser.close()
    assert not clipped, f"{len(clipped)} cut off at {width}×{height}:\n" + "\n".join(clipped)
