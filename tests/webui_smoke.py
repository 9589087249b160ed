"""Manual check against a real, running webui (not part of the suite: CI has no webui).

    python tests/webui_smoke.py http://127.0.0.1:7860 [checkpoint-name-part]

With the extension installed and a checkpoint in models/Stable-diffusion: through our tab in
headless Chromium, create a dataset, upload and process two images, train 4 steps on that
checkpoint in the webui process, and check that the webui's own progress bar followed the run,
that the Lora list it serves (/sdapi/v1/loras, needs --api) has the new LoRA without a restart,
and that our job API answers on its server. How it was run here (A1111 v1.10.1 on the CPU): see
docs/hosts.md, "Tried in the real webui".
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

from browser import CHROMIUM_FLAGS, GradioPage, add_concept, chromium_path, make_dataset
from imagegen import photo, save


def main(url: str, model_part: str) -> None:
    from playwright.sync_api import sync_playwright

    work = Path(f"/tmp/lfd-webui-smoke-{int(time.time())}")
    images = [save(photo(200, 160, i), work / f"{i}.png") for i in range(2)]
    name = work.name.replace("-", "_")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(),
                                             args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text)
                if message.type == "error" else None)
        page.goto(url)
        ui = GradioPage(page, work / "failure.png")
        page.locator(".tab-nav button").get_by_text("LoRA for Dummies", exact=True).first.click()
        page.locator("#lfd_tabs").wait_for()
        assert page.evaluate("typeof lfd_start_training") == "function"
        make_dataset(ui, name, images)
        ui.tab("Train")
        base = next(o for o in ui.options("lfd_train_base") if model_part in o)
        add_concept(ui, base, name, {
            "save_name": name, "training_steps": 4, "training_resolution": 64,
            "samples_every": 2, "samples_steps": 2, "samples_width": 64, "samples_height": 64,
            "save_every": 2})
        ui.check("lfd_train_network_train_text_encoder", False)
        ui.click("lfd_train_start")
        ui.wait_for(lambda: page.locator(".progressDiv").count() > 0,
                    "the webui's progress bar", timeout=120)
        print("webui progress bar:", page.locator(".progressDiv").first.inner_text())
        status = ui.wait_value("lfd_train_status", f"done: 4 steps, saved {name}-000004",
                               timeout=1800)
        print(status.splitlines()[0])
        assert "self-check passed" in status
        loras = [item["name"] for item in
                 json.load(urllib.request.urlopen(url.rstrip("/") + "/sdapi/v1/loras"))]
        assert name in loras, loras
        runs = json.load(urllib.request.urlopen(url.rstrip("/") + "/lfd/v1/runs"))
        assert any(run["name"] == name for run in runs)
        # (offline, the webui's page fails to fetch some outside resources: not ours)
        assert not [e for e in errors if "net::ERR_" not in e], errors
        print(f"ok: {name} trained in the webui, listed by it: {loras}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860",
         sys.argv[2] if len(sys.argv) > 2 else "")
