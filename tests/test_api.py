"""The job API on the standalone server (real HTTP on 127.0.0.1) and on the webui's app."""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.request

import gradio as gr
from imagegen import photo, save

from lora_for_dummies.cli import main


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url: str, body: dict | None = None, auth: str | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if body is not None else
                                     "GET", headers={"Content-Type": "application/json"})
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_standalone_job_api(tmp_path):
    from lora_for_dummies.dataset.layout import create_dataset

    ds = create_dataset(tmp_path / "datasets", "api set")
    for i in range(3):
        save(photo(200, 150, i), ds.folder(ds.concept(""), "originals") / f"{i}.png")
    port = _port()
    assert main(["serve", "--data-dir", str(tmp_path), "--port", str(port), "--no-block"]) == 0
    base = f"http://127.0.0.1:{port}/lfd/v1"
    try:
        assert _call(base + "/jobs") == (200, [])
        status, job = _call(base + "/jobs", {"kind": "process", "dataset": "api set",
                                             "settings": {"high": 128, "low": 64}})
        assert status == 202 and job["kind"] == "process"
        deadline = time.time() + 60
        while job["state"] == "running" and time.time() < deadline:
            time.sleep(0.2)
            job = _call(f"{base}/jobs/{job['id']}")[1]
        assert job["state"] == "done" and "processed 3" in job["result"]
        assert _call(base + "/jobs", {"kind": "dance"})[0] == 400
        status, error = _call(base + "/jobs", {"kind": "process", "dataset": "../x"})
        assert status == 400 and "path separators" in error["detail"]
        status, error = _call(base + "/jobs", {"kind": "process", "dataset": "api set",
                                               "settings": {"hihg": 1}})
        assert status == 400 and "unknown setting settings.hihg" in error["detail"]
        assert _call(base + "/jobs/nope")[0] == 404
        assert _call(base + "/runs") == (200, [])
        assert _call(base + "/runs/none/log")[0] == 404
    finally:
        gr.close_all()


def test_webui_routes_honour_api_auth(webui_standin, tmp_path):
    import runpy
    from pathlib import Path

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from modules import script_callbacks, shared

    runpy.run_path(str(Path(__file__).resolve().parent.parent / "scripts" /
                       "lora_for_dummies.py"))
    shared.cmd_opts.api, shared.cmd_opts.api_auth = True, "alice:secret"
    app = FastAPI()
    for callback in script_callbacks.callbacks_app_started:
        callback(None, app)
    client = TestClient(app)
    assert client.get("/lfd/v1/jobs").status_code == 401
    assert client.get("/lfd/v1/jobs", auth=("alice", "wrong")).status_code == 401
    response = client.get("/lfd/v1/jobs", auth=("alice", "secret"))
    assert response.status_code == 200 and response.json() == []
