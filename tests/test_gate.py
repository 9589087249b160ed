"""One job gate per host: a tab's job and an API job never run at the same time."""

from __future__ import annotations

import threading

from fastapi import FastAPI
from fastapi.testclient import TestClient
from imagegen import photo, save
from train_fixtures import tiny_job

from lora_for_dummies.dataset.layout import create_dataset
from lora_for_dummies.gate import GATE
from lora_for_dummies.hosts.api import add_routes
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.progress import Reporter
from lora_for_dummies.ui.jobs import run_job
from lora_for_dummies.ui.train_session import SESSION


def test_tabs_and_the_api_share_one_gate(tiny_models, tmp_path):
    host = StandaloneHost(tmp_path / "data")
    dataset = create_dataset(host.datasets_dir(), "d")
    save(photo(200, 150, 0), dataset.folder(dataset.concept(""), "originals") / "0.png")
    app = FastAPI()
    manager = add_routes(app, host)
    client = TestClient(app)
    release = threading.Event()

    def slow(reporter):
        release.wait(60)
        return "ok"

    tab_job = run_job(Reporter(), slow, lambda result: result, poll=0.05)
    next(tab_job)  # the tab's job is running now
    # Issue 23: what runs, as a person reads it (the job names itself once it reports a
    # start; a job given no name and not yet started is "a job of another tab"), never an id
    assert GATE.busy() == "a job of another tab"
    body = {"kind": "process", "dataset": "d", "settings": {"high": 128, "low": 64}}
    response = client.post("/lfd/v1/jobs", json=body)
    assert response.status_code == 409 and "still running" in response.json()["detail"]
    job = tiny_job(tiny_models["sd1"], host.datasets_dir(), steps=1)
    message = ""
    try:
        SESSION.start(host, job)
    except Exception as err:  # noqa: BLE001 - the message is what is checked
        message = str(err)
    assert "still running" in message and not SESSION.running
    release.set()
    assert list(tab_job)[-1][1] == "ok"
    assert GATE.busy() is None
    # Now an API job holds the gate, and the tab waits its turn.
    release.clear()
    api_job = manager.start("slow", slow, Reporter())
    assert GATE.busy() == f"API job {api_job.id}"
    blocked = list(run_job(Reporter(), slow, lambda result: result))
    assert "Another job is running" in blocked[0][0] and blocked[0][1] is None
    release.set()
    api_job.thread.join(60)
    assert api_job.state == "done" and GATE.busy() is None
    started = client.post("/lfd/v1/jobs", json=body)  # free again
    assert started.status_code == 202
    manager.get(started.json()["id"]).thread.join(60)
