"""A hostile page in real headless Chromium cannot start jobs on the app.

The app runs as a real server (`python -m lora_for_dummies serve`); the attacker's page is served
from a second local origin (another port on 127.0.0.1). It tries what any web page can do
without a CORS preflight: a `no-cors` fetch with a JSON text body and an HTML form post. No job
may start and no file may appear; the same body sent by a script (no Origin) still works, so
the refusals are what stopped the page.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
import urllib.request
from pathlib import Path

from browser import CHROMIUM_FLAGS, browser_or_skip, free_port, start_server
from imagegen import photo, save

from lora_for_dummies.dataset.layout import create_dataset

ROOT = Path(__file__).resolve().parent.parent
ATTACK = """<!doctype html><html><body>
<form id="f" method="POST" action="{jobs}" enctype="text/plain">
<input name='{{"kind": "process", "dataset": "victim", "settings": {{"high": 128, "low": 64}},
 "pad": "' value='"}}'>
</form>
<script>
async function attack() {{
  const body = JSON.stringify({{kind: "process", dataset: "victim",
                               settings: {{high: 128, low: 64}}}});
  const tries = [
    {{method: "POST", mode: "no-cors", body: body}},
    {{method: "POST", mode: "no-cors", body: body, headers: {{"Content-Type": "text/plain"}}}},
    {{method: "POST", mode: "no-cors", body: body,
      headers: {{"Content-Type": "application/json"}}}},
  ];
  for (const options of tries) {{
    try {{ await fetch("{jobs}", options); }} catch (err) {{}}
  }}
  return tries.length;
}}
</script></body></html>"""


def _jobs(url: str) -> list:
    with urllib.request.urlopen(url + "lfd/v1/jobs", timeout=30) as response:
        return json.loads(response.read())


def test_a_page_from_another_origin_starts_nothing(tmp_path):
    from playwright.sync_api import sync_playwright

    executable = browser_or_skip()
    data = tmp_path / "workspace"
    dataset = create_dataset(data / "datasets", "victim")
    for i in range(2):
        save(photo(200, 150, i), dataset.folder(dataset.concept(""), "originals") / f"{i}.png")
    processed = dataset.folder(dataset.concept(""), "high")
    process, url = start_server(["--data-dir", str(data)], ROOT, tmp_path / "app.log")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(ATTACK.format(jobs=url + "lfd/v1/jobs"), encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable,
                                                 args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/index.html")
            assert page.evaluate("attack()") == 3
            with page.expect_navigation():
                page.evaluate("document.getElementById('f').submit()")
            answer = page.content()
            browser.close()
        assert "another origin" in answer and "Traceback" not in answer
        time.sleep(1)  # a job, had one started, would be listed at once
        assert _jobs(url) == []
        assert not any(processed.iterdir())
        # The control: the same job from a script (no Origin header) is accepted and runs.
        request = urllib.request.Request(url + "lfd/v1/jobs", method="POST",
                                         data=json.dumps({"kind": "process", "dataset": "victim",
                                                          "settings": {"high": 128, "low": 64}}
                                                         ).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 202
        deadline = time.time() + 120
        while _jobs(url)[0]["state"] == "running" and time.time() < deadline:
            time.sleep(0.5)
        assert _jobs(url)[0]["state"] == "done" and any(processed.iterdir())
    finally:
        attacker.shutdown()
        process.terminate()
        try:
            process.wait(30)
        except Exception:  # noqa: BLE001 - a hung server must not hang the suite
            process.kill()
