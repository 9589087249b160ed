"""The job API: same origin, JSON only, a size cap, names not paths, no tracebacks — on our
own FastAPI app and on the webui's (through the stand-in), with real files behind them."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from imagegen import photo, save

from lora_for_dummies.dataset.layout import create_dataset
from lora_for_dummies.hosts.api import add_routes
from lora_for_dummies.hosts.standalone import StandaloneHost

JOBS = "/lfd/v1/jobs"
OWN = "http://testserver"  # TestClient's own origin


@pytest.fixture()
def served(tiny_models, tmp_path):
    """A standalone host with the tiny SD1 model in its model list and one dataset."""
    host = StandaloneHost(tmp_path / "data")
    (host.models_dir / "sd1.safetensors").write_bytes(tiny_models["sd1"].read_bytes())
    host.refresh_checkpoints()
    dataset = create_dataset(host.datasets_dir(), "dogs")
    for i in range(2):
        save(photo(64, 64, i), dataset.folder(dataset.concept(""), "high") / f"{i}.png")
    app = FastAPI()
    manager = add_routes(app, host)
    return host, TestClient(app), manager


def _train_body(host, **changes):
    job = {"model": {"base": "sd1.safetensors"},
           "concepts": [{"folder": "dogs/HIGHRES_CONCEPT", "token": "sks"}],
           "training": {"steps": 1, "resolution": 64, "precision": "fp32"},
           "samples": {"enabled": False}, "save": {"name": "api run"}}
    for section, values in changes.items():
        if isinstance(values, dict) and isinstance(job.get(section), dict):
            job[section].update(values)
        else:
            job[section] = values
    return {"kind": "train", "job": job}


def _nothing_started(host, manager):
    assert manager.jobs == {}
    assert not any(host.lora_dir().iterdir()) and not any(host.runs_dir().iterdir())


def test_cross_origin_and_non_json_requests_are_refused(served):
    host, client, manager = served
    body = json.dumps(_train_body(host))
    # The browser's "simple" request: text/plain, no preflight.
    response = client.post(JOBS, content=body, headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and "application/json" in response.json()["detail"]
    form = client.post(JOBS, data={"kind": "train"})
    assert form.status_code == 415
    for headers in ({"Origin": "http://127.0.0.1:9999"}, {"Origin": "null"},
                    {"Referer": "http://evil.example/page"},
                    {"Origin": "http://testserver.evil.example"}):
        response = client.post(JOBS, content=body,
                               headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 403, headers
        assert "another origin" in response.json()["detail"]
        assert client.get(JOBS, headers=headers).status_code == 403
        assert client.post(JOBS + "/x/stop", headers=headers).status_code == 403
    big = json.dumps({"kind": "train", "pad": "x" * (1 << 20)})
    response = client.post(JOBS, content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post(JOBS, content=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    _nothing_started(host, manager)


def test_same_origin_pages_and_scripts_keep_working(served):
    host, client, manager = served
    assert client.get(JOBS, headers={"Origin": OWN}).json() == []
    assert client.get(JOBS, headers={"Referer": OWN + "/?__theme=dark"}).status_code == 200
    response = client.post(JOBS, json=_train_body(host),
                           headers={"Origin": OWN, "Content-Type": "application/json; "
                                                                   "charset=utf-8"})
    assert response.status_code == 202, response.text
    job = manager.get(response.json()["id"])
    job.thread.join(120)
    assert job.state == "done", job.result
    assert (host.lora_dir() / "api run.safetensors").is_file()



def test_a_rebound_dns_name_is_refused_on_the_loopback_server(served, monkeypatch):
    """DNS rebinding: evil.example's page, its name now resolving to 127.0.0.1, is "same
    origin" with itself; the request reaches the loopback server naming evil.example."""
    host, client, manager = served
    local = TestClient(client.app, base_url="http://127.0.0.1:7860")  # arrives on loopback
    rebound = {"Host": "evil.example:7860", "Origin": "http://evil.example:7860"}
    body = json.dumps(_train_body(host))
    response = local.post(JOBS, content=body,
                          headers={"Content-Type": "application/json", **rebound})
    assert response.status_code == 403 and "host evil.example" in response.json()["detail"]
    assert local.get(JOBS, headers={"Host": "evil.example:7860"}).status_code == 403
    _nothing_started(host, manager)
    for name in ("127.0.0.1:7860", "localhost:7860", "[::1]:7860", "lfd.localhost:7860"):
        assert local.get(JOBS, headers={"Host": name}).status_code == 200, name
    monkeypatch.setenv("LFD_ALLOWED_HOSTS", "gpu-box.lan, evil.example")
    assert local.get(JOBS, headers={"Host": "gpu-box.lan:7860"}).status_code == 200
    # A server opened to the network (--listen) took other names on purpose.
    assert client.get(JOBS, headers={"Host": "my-pc.example"}).status_code == 200

@pytest.mark.parametrize("field,change,reason", [
    ("save.lora_dir", {"save": {"lora_dir": "/tmp/elsewhere"}}, "is not the Lora folder"),
    ("model.base", {"model": {"base": "/etc/passwd"}}, "is not in the model list"),
    ("model.base", {"model": {"base": "../models/sd1.safetensors"}}, "is not in the model list"),
    ("concepts[0].folder", {"concepts": [{"folder": "/tmp", "token": "x"}]},
     "outside the datasets folder"),
    ("concepts[0].folder", {"concepts": [{"folder": "dogs/../../..", "token": "x"}]},
     "outside the datasets folder"),
    ("concepts[0].class_folder", {"concepts": [{"folder": "dogs/HIGHRES_CONCEPT",
                                                "class_folder": "/tmp/class"}]},
     "outside the datasets folder"),
    ("runs_dir", {"runs_dir": "/tmp/runs"}, "is not the runs folder"),
    ("run name", {"save": {"name": "../../x"}}, "may not contain path separators"),
])
def test_every_path_field_of_a_train_job_is_confined(served, field, change, reason):
    host, client, manager = served
    response = client.post(JOBS, json=_train_body(host, **change))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert field in detail and reason in detail, detail
    _nothing_started(host, manager)


@pytest.mark.parametrize("body,reason", [
    ({"kind": "extract", "base": "/etc/passwd", "tuned": "sd1.safetensors", "name": "x"},
     "base: '/etc/passwd' is not in the model list"),
    ({"kind": "extract", "base": "sd1.safetensors", "tuned": "sd1.safetensors",
      "name": "../x"}, "may not contain path separators"),
    ({"kind": "extract", "base": "sd1.safetensors", "tuned": "sd1.safetensors",
      "name": "x", "rank": 10**9}, "rank = 1000000000 is out of range"),
    ({"kind": "process", "dataset": "../dogs"}, "may not contain path separators"),
    ({"kind": "process", "dataset": "dogs", "settings": {"high": 65536}},
     "settings.high = 65536 is out of range"),
    ({"kind": "process", "dataset": "dogs", "where": "/tmp"}, "unknown field"),
    ({"kind": "train", "job": {}, "resume": "yes"}, "resume must be true or false"),
])
def test_other_jobs_name_things_not_paths(served, body, reason):
    host, client, manager = served
    response = client.post(JOBS, json=body)
    assert response.status_code == 400 and reason in response.json()["detail"], response.text
    _nothing_started(host, manager)


def test_an_existing_lora_is_not_overwritten_through_the_api(served):
    host, client, manager = served
    theirs = host.lora_dir() / "api run.safetensors"
    theirs.write_bytes(b"someone else's LoRA")
    response = client.post(JOBS, json=_train_body(host))
    assert response.status_code == 400 and "Resume" in response.json()["detail"]
    assert theirs.read_bytes() == b"someone else's LoRA" and manager.jobs == {}


def test_a_bug_gives_500_with_an_id_and_no_traceback(served, caplog, monkeypatch):
    host, client, manager = served

    def broken():
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(host, "runs_dir", broken)
    debug_app = FastAPI(debug=True)  # as gradio 5 builds its app: debug pages are tracebacks
    add_routes(debug_app, host)
    with caplog.at_level(logging.ERROR, logger="lora_for_dummies.api"):
        response = TestClient(debug_app).get("/lfd/v1/runs")
    assert response.status_code == 500
    detail = response.json()["detail"]
    assert detail.startswith("internal error ") and "Traceback" not in response.text
    error_id = detail.split()[2]
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None  # the traceback is in the log, under the same id
    from lora_for_dummies.hosts.api_rules import without_debug_pages

    @debug_app.get("/gradio-like")
    def gradio_route():
        raise RuntimeError("a bug in someone else's route")

    without_debug_pages(debug_app)
    response = TestClient(debug_app, raise_server_exceptions=False).get("/gradio-like")
    assert response.status_code == 500 and "Traceback" not in response.text


def test_webui_routes_obey_the_same_rules(webui_standin, tmp_path):
    import runpy
    from pathlib import Path

    from modules import script_callbacks, shared

    runpy.run_path(str(Path(__file__).resolve().parent.parent / "scripts" /
                       "lora_for_dummies.py"))
    shared.cmd_opts.api = True  # the job API is mounted only with the webui's --api
    for auth in (None, "alice:secret"):
        shared.cmd_opts.api_auth = auth
        app = FastAPI()
        for callback in script_callbacks.callbacks_app_started:
            callback(None, app)
        client = TestClient(app)
        login = ("alice", "secret") if auth else None
        foreign = {"Origin": "http://127.0.0.1:1"}
        assert client.get(JOBS, headers=foreign, auth=login).status_code == 403
        response = client.post(JOBS, content=b'{"kind": "process"}', auth=login,
                               headers={"Content-Type": "text/plain"})
        assert response.status_code == 415
        response = client.post(JOBS, json={"kind": "train", "job": {
            "model": {"base": "/etc/passwd"}, "concepts": [{"folder": "x"}]}}, auth=login)
        assert response.status_code == 400 and "model list" in response.json()["detail"]
        assert client.get(JOBS, auth=login).json() == []
        if auth:
            assert client.get(JOBS, headers=foreign).status_code == 403  # before the 401
            assert client.get(JOBS).status_code == 401
