"""Drive a gradio page in headless Chromium (Debian's, through Playwright), by elem_id only.

Components are found by their `elem_id` and the standard form element inside them (input,
textarea, button, img), which gradio 3, 4 and 5 all render; nothing depends on gradio's
internal class names beyond the dropdown's option list.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    return os.environ.get("LFD_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")


def browser_or_skip() -> str:
    """Chromium's path; skips the test without Chromium or Playwright, unless
    LFD_REQUIRE_BROWSER is set (CI), where it fails instead."""
    import pytest

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args: list[str], cwd: Path, log: Path, timeout: float = 180) -> tuple[Any, str]:
    """`python -m lora_for_dummies serve …` as a real server; (process, its URL)."""
    import urllib.request

    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    handle = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([sys.executable, "-m", "lora_for_dummies", "serve", "--port",
                                str(port), *args], cwd=cwd, env=env, stdout=handle,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "lfd/v1/jobs", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"the app did not answer in {timeout} s: {log.read_text()[-3000:]}")


@contextlib.contextmanager
def demo_page(tmp_path: Path, root: Path) -> Iterator[tuple[Any, Path]]:
    """`serve --demo` in a fresh workspace and a headless Chromium page on it: (GradioPage,
    the workspace folder). Skips (or fails under LFD_REQUIRE_BROWSER) without Chromium."""
    from playwright.sync_api import sync_playwright

    executable = browser_or_skip()
    data = tmp_path / "workspace"
    process, url = start_server(["--demo", "--data-dir", str(data)], root, tmp_path / "app.log")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable,
                                                 args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(url)
            page.locator("#lfd_tabs").wait_for()
            try:
                yield GradioPage(page, tmp_path / "failure.png"), data
            finally:
                browser.close()
    finally:
        process.terminate()
        process.wait(30)


class GradioPage:
    def __init__(self, page: Any, failure_shot: Path | None = None) -> None:
        self.page = page
        self.failure_shot = failure_shot  # written when a wait times out

    def _field(self, elem_id: str) -> Any:
        return self.page.locator(f"#{elem_id}").locator("textarea, input:not([type=file])"
                                                         ":not([type=range])").first

    def tab(self, label: str) -> None:
        tabs = self.page.locator("#lfd_tabs")  # ours only: the webui has a "Train" tab too
        tab = tabs.get_by_role("tab", name=label, exact=True)  # gradio 4 and 5
        gradio3 = tabs.locator(".tab-nav button").get_by_text(label, exact=True)
        # A page load brings back the tab last used (issue 23); a click made before that
        # answer arrived is undone by it, and a person clicks again: so does the test.
        for _ in range(3):
            tab.or_(gradio3).first.click()
            try:
                self.wait_for(lambda: self.selected_tab() == label, f"the {label} tab", 5)
                return
            except AssertionError:
                continue

    def selected_tab(self) -> str:
        tabs = self.page.locator("#lfd_tabs")
        chosen = tabs.locator("[role=tab][aria-selected=true], .tab-nav button.selected")
        return chosen.first.inner_text().strip() if chosen.count() else ""

    def reload(self, tab: str) -> None:
        """A browser refresh, which comes back on `tab`, the tab the user was on (issue 23:
        it landed on Dataset)."""
        self.page.reload()
        self.page.locator("#lfd_tabs").wait_for()
        self.wait_for(lambda: self.selected_tab() == tab, f"the {tab} tab after a refresh",
                      timeout=30, shows=self.selected_tab)

    def expand(self, label: str, shows: str) -> None:
        """Open the accordion called `label` unless `#shows` inside it is already visible."""
        if not self.page.locator(f"#{shows}").is_visible():
            self.page.get_by_text(label, exact=True).first.click()
            self.page.locator(f"#{shows}").wait_for(state="visible")

    def open_section(self, section_id: str) -> None:
        """Open the accordion `#section_id` (its label may carry a summary) unless it is."""
        accordion = self.page.locator(f"#{section_id}").first
        if not accordion.locator("input, textarea, button:not(.label-wrap), table").filter(
                visible=True).count():
            accordion.locator(".label-wrap, button").first.click()
            self.page.wait_for_timeout(300)

    def setting(self, key: str, value: Any) -> None:
        """Fill the Train tab's setting `lfd_train_<key>`, opening its section first."""
        from lora_for_dummies.train.fields import SECTIONS
        from lora_for_dummies.ui.train_sections import section_id

        path = key.replace("_", ".", 1)
        title = next(t for t, paths, _ in SECTIONS if path in paths)
        self.open_section(section_id(title))
        self.fill(f"lfd_train_{key}", value)

    def fill(self, elem_id: str, value: Any) -> None:
        field = self._field(elem_id)
        field.fill(str(value))
        field.dispatch_event("input")
        field.press("Tab")  # gradio 3 commits a Number on blur

    def click(self, elem_id: str) -> None:
        target = self.page.locator(f"#{elem_id}")
        tag = target.evaluate("e => e.tagName")
        (target if tag == "BUTTON" else target.locator("button").first).click()

    def check(self, elem_id: str, on: bool = True) -> None:
        box = self.page.locator(f"#{elem_id} input[type=checkbox]")
        if box.is_checked() != on:
            box.click()

    def radio(self, elem_id: str, label: str) -> None:
        self.page.locator(f"#{elem_id}").get_by_text(label, exact=True).click()

    def upload(self, elem_id: str, files: list[Path]) -> None:
        """Give a File component files and wait until the server has them: clicking on before
        the upload's response arrives sends the files without their content (gradio 3)."""
        def is_upload(response: Any) -> bool:
            return response.request.method == "POST" and "/upload" in response.url

        with self.page.expect_response(is_upload, timeout=60_000):
            self.page.locator(f"#{elem_id} input[type=file]").set_input_files(
                [str(f) for f in files])
        for file in files:  # listed (gradio 4 and 5 show the stem and the suffix apart)
            self.wait_text(elem_id, Path(file).stem)
        self.page.wait_for_timeout(500)  # the component takes the server's answer as its value

    def options(self, elem_id: str) -> list[str]:
        field = self._field(elem_id)
        field.click()
        items = self.page.locator(f"#{elem_id} ul.options li")
        try:
            items.first.wait_for(timeout=10_000)
        except Exception:  # noqa: BLE001 - no option (yet): a busy server's 🔄 is still on its way
            texts: list[str] = []
        else:
            texts = [t.replace("✓", "").strip() for t in items.all_inner_texts()]
        field.press("Escape")
        self._leave_dropdown()
        return texts

    def wait_option(self, elem_id: str, option: str, timeout: float = 60) -> None:
        self.wait_for(lambda: option in self.options(elem_id), f"{option!r} in #{elem_id}",
                      timeout, lambda: self.options(elem_id))

    def choose(self, elem_id: str, option: str) -> None:
        field = self._field(elem_id)
        field.click()
        self.page.locator(f"#{elem_id} ul.options li").filter(has_text=option).first.click()
        self._leave_dropdown()

    def _leave_dropdown(self) -> None:
        """Click off an open dropdown, then wait out gradio 3.43's focus guard: its dropdown
        blurs itself again when it is focused within 100 ms of its last blur, so the option
        list never opens for a click that comes sooner (`choose` right after `options`, as
        `wait_option` then `choose` do). gradio 3.41.2 and 5 have no such guard."""
        self.page.locator("body").click(position={"x": 1, "y": 1})
        self.page.wait_for_timeout(250)

    def value(self, elem_id: str) -> str:
        return self._field(elem_id).input_value()

    def text(self, elem_id: str) -> str:
        return self.page.locator(f"#{elem_id}").first.inner_text()  # gradio 3: id twice

    def wait_for(self, condition: Any, what: str, timeout: float = 60,
                 shows: Any = None) -> Any:
        """Poll `condition()` until truthy; on timeout fail with what `shows()` returns."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.25)
        if self.failure_shot is not None:
            self.page.screenshot(path=str(self.failure_shot), full_page=True)
        seen = shows() if shows else None
        raise AssertionError(f"timed out waiting for {what} (showing: {seen!r})")

    def wait_value(self, elem_id: str, contains: str, timeout: float = 60) -> str:
        return self.wait_for(lambda: contains in (v := self.value(elem_id)) and v,
                             f"{contains!r} in #{elem_id}", timeout,
                             lambda: self.value(elem_id))

    def wait_progress(self, elem_id: str, contains: str, stall: float = 180,
                      limit: float = 1800) -> str:
        """Wait for `contains` in a run's status for as long as the status keeps changing (a
        step, an ETA): on a busy machine a run is slow, not stuck; it fails once the status
        stood still for `stall` s, or after `limit` s in all."""
        began = changed = time.time()
        last = None

        def done_or_moving() -> Any:
            nonlocal last, changed
            value = self.value(elem_id)
            if contains in value:
                return value
            if value != last:
                last, changed = value, time.time()
            return None if time.time() - changed < stall else "stalled"

        result = self.wait_for(done_or_moving, f"{contains!r} in #{elem_id}",
                               limit - (time.time() - began), lambda: self.value(elem_id))
        if result == "stalled":
            raise AssertionError(f"#{elem_id} stood still for {stall} s before {contains!r}: "
                                 f"{last!r}")
        return result

    def wait_text(self, elem_id: str, contains: str, timeout: float = 60) -> str:
        return self.wait_for(lambda: contains in (v := self.text(elem_id)) and v,
                             f"{contains!r} in #{elem_id}", timeout,
                             lambda: self.text(elem_id))

    def images(self, elem_id: str) -> list[str]:
        return self.page.locator(f"#{elem_id} img").evaluate_all(
            "imgs => imgs.map(i => i.src)")

    def highlighted(self, elem_id: str) -> str:
        """The caption of the gallery's highlighted thumbnail ("" when none is)."""
        return self.page.locator(f"#{elem_id}").first.evaluate(
            "g => { const b = g.querySelector('button.thumbnail-item.selected'); if (!b) "
            "return ''; const i = b.querySelector('img'); "
            "return (i && i.alt) || (b.textContent || '').trim(); }")

    def screenshot(self, path: Path, elem_id: str | None = None) -> None:
        """A full-page PNG (or of one element), reduced to 256 colours (a third of the size,
        for the docs). Toasts of gradio 4 / 5 are hidden first: a passing one covered a field
        in the docs' picture of the Train tab."""
        from PIL import Image

        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.add_style_tag(content=".toast-wrap, .toast-body { display: none !important; }")
        if elem_id:
            self.page.locator(f"#{elem_id}").screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path), full_page=True)
        with Image.open(path) as shot:
            reduced = shot.convert("RGB").quantize(256)
        reduced.save(path, optimize=True)


# -- steps of the guide's path shared by the suite's browser test and the real-webui smoke ----
def make_dataset(ui: GradioPage, name: str, images: list[Path], token: str = "sks",
                 sizes: tuple[int, int] = (128, 64)) -> str:
    """Dataset tab: create `name`, import `images`, set the trigger word, process them at
    `sizes` (high, low). Returns the import status."""
    ui.tab("Dataset")  # a page comes back on the tab last used, which may be another
    ui.expand("New dataset and import", "lfd_dataset_new_name")
    ui.fill("lfd_dataset_new_name", name)
    ui.click("lfd_dataset_create")
    ui.wait_value("lfd_dataset_status", name)
    # gradio 3 can send an upload without its content when Import follows at once (seen under
    # load). Import then names the empty files and asks to drop them again: so would a user,
    # up to twice more.
    for _ in range(3):
        ui.upload("lfd_dataset_upload", images)
        ui.page.wait_for_timeout(1500)
        ui.click("lfd_dataset_import")
        status = ui.wait_value("lfd_dataset_status", "Imported")
        if "drop it again" not in status:
            break
    ui.fill("lfd_concept_token", token)
    ui.click("lfd_concept_save")
    ui.wait_value("lfd_dataset_status", token)
    ui.fill("lfd_dataset_high", sizes[0])
    ui.fill("lfd_dataset_low", sizes[1])
    ui.click("lfd_dataset_process")
    ui.wait_for(lambda: len(ui.images("lfd_dataset_gallery")) == len(images),
                f"{len(images)} processed images")
    return status


def add_concept(ui: GradioPage, base: str, dataset: str, settings: dict[str, Any]) -> None:
    """On the Train tab: the base model, 🔄 and the dataset (the guided path fills the form
    from it), Add concept (its low-resolution images too), then each `lfd_train_<key>`
    setting in its section."""
    ui.choose("lfd_train_base", base)
    ui.click("lfd_train_dataset_refresh")
    ui.wait_option("lfd_train_dataset", dataset)
    ui.choose("lfd_train_dataset", dataset)
    ui.wait_text("lfd_train_images_line", "images")
    ui.open_section("lfd_train_section_concepts")  # gradio 4 draws no rows of a hidden table
    ui.wait_text("lfd_train_concepts", "HIGHRES_CONCEPT")
    # gradio 5 may answer the dataset's guided fill (which rewrites the table) after this
    # click's: the row is then gone, and a person adds it again; so does the test.
    for attempt in range(3):
        ui.radio("lfd_train_which", "low")
        ui.click("lfd_train_add_concept")
        try:
            ui.wait_text("lfd_train_concepts", "LOWRES_CONCEPT", timeout=20)
            break
        except AssertionError:
            if attempt == 2:
                raise
    for key, value in settings.items():
        ui.setting(key, value)
