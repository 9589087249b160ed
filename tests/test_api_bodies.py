"""A malformed request answers 4xx naming the field, and what can be refused before a job
starts is refused at once (4xx), not with a 202 and a failed job (issue 22, finding 10)."""

from __future__ import annotations

import shutil

import pytest
from lora_fixtures import write_tuned
from train_fixtures import tiny_job

from lora_for_dummies.config import save_toml


@pytest.fixture
def client(tiny_models, tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from lora_for_dummies.hosts.api import add_routes
    from lora_for_dummies.hosts.standalone import StandaloneHost

    host = StandaloneHost(tmp_path / "data")
    shutil.copy(tiny_models["sd1"], host.models_dir / "base.safetensors")
    write_tuned(tiny_models["sd1"], host.models_dir / "tuned.safetensors", seed=2)
    host.refresh_checkpoints()
    app = FastAPI()
    manager = add_routes(app, host)
    return TestClient(app), manager, host


@pytest.mark.parametrize("body,field", [
    ({"kind": ["process"]}, "kind"),
    ({"kind": {"a": 1}}, "kind"),
    ({"kind": "process", "dataset": ["d"]}, "dataset"),
    ({"kind": "process", "dataset": "d", "settings": [1]}, "settings"),
    ({"kind": "train", "job": "x"}, "job"),
    ({"kind": "train", "job": {}, "resume": "yes"}, "resume"),
    ({"kind": "extract", "base": 1}, "base"),
    ({"kind": "extract", "base": "base.safetensors", "tuned": "tuned.safetensors",
      "name": "x", "rank": "32"}, "rank"),
])
def test_a_wrong_type_names_the_field(client, body, field):
    api, manager, _ = client
    answer = api.post("/lfd/v1/jobs", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"].startswith(field) or f" {field}" in answer.json()["detail"]
    assert not manager.jobs


def _extract(**fields):
    return {"kind": "extract", "base": "base.safetensors", "tuned": "tuned.safetensors",
            "name": "diff", **fields}


def test_what_an_extraction_would_refuse_is_answered_at_once(client):
    api, manager, host = client
    answer = api.post("/lfd/v1/jobs", json=_extract(rank=100000))
    assert answer.status_code == 400 and "larger than every layer" in answer.json()["detail"]
    (host.lora_dir() / "diff.safetensors").write_bytes(b"someone's LoRA")
    answer = api.post("/lfd/v1/jobs", json=_extract())
    assert answer.status_code == 400 and "already exists" in answer.json()["detail"]
    assert (host.lora_dir() / "diff.safetensors").read_bytes() == b"someone's LoRA"
    assert not manager.jobs  # no 202, no failed job


def _train_body(tiny_models, host) -> dict:
    """A 2-step train job as the API takes it: names inside the host's folders, not paths."""
    from lora_for_dummies.config import to_dict

    body = to_dict(tiny_job(tiny_models["sd1"], host.datasets_dir(), steps=2,
                            samples={"enabled": False}))
    body["model"]["base"] = "base.safetensors"
    body["concepts"][0]["folder"] = "inst"
    body.pop("runs_dir", None)
    body["save"].pop("lora_dir", None)
    return body


def test_a_resume_that_would_be_refused_is_answered_at_once(client, tiny_models, tmp_path):
    api, manager, host = client
    body = _train_body(tiny_models, host)
    answer = api.post("/lfd/v1/jobs", json={"kind": "train", "job": body, "resume": True})
    assert answer.status_code == 400 and "nothing to resume" in answer.json()["detail"]
    run_dir = host.runs_dir() / "tiny"
    (run_dir / "state").mkdir(parents=True)
    (run_dir / "state" / "state.pt").write_bytes(b"state")
    saved = tiny_job(tiny_models["sd1"], host.datasets_dir(), steps=2,
                     network={"rank": 8})  # the run was trained at another rank
    save_toml(saved, run_dir / "config.toml")
    answer = api.post("/lfd/v1/jobs", json={"kind": "train", "job": body, "resume": True})
    assert answer.status_code == 400 and "network.rank" in answer.json()["detail"]
    assert not manager.jobs


def test_the_kind_of_lora_in_a_train_job(client, tiny_models):
    """`job.network.kind` through the API: a kind that does not exist is a 400 naming it;
    a LoKr job is accepted (202) and trains one."""
    import time

    api, manager, host = client
    body = _train_body(tiny_models, host)
    body["network"]["kind"] = "lycoris"
    answer = api.post("/lfd/v1/jobs", json={"kind": "train", "job": body})
    assert answer.status_code == 400 and "network.kind (kind of LoRA) must be one of" in \
        answer.json()["detail"]
    body["network"]["kind"] = "lokr"
    answer = api.post("/lfd/v1/jobs", json={"kind": "train", "job": body})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    deadline = time.time() + 300
    while time.time() < deadline:
        state = api.get(f"/lfd/v1/jobs/{job_id}").json()
        if state["state"] in ("done", "failed", "stopped"):
            break
        time.sleep(0.5)
    assert state["state"] == "done", state
    from lora_for_dummies.lora.tools import lora_info

    assert set(lora_info(host.lora_dir() / "tiny.safetensors").kinds) == {"LoKr"}
