"""Property-based fuzz of the job API's JSON bodies and of names (issue 22): never a 500, never
a file outside the data folder, never another LoRA's file changed; every name accepted fits the
file system as the longest file it becomes. Bounded: well under a minute on two cores."""

from __future__ import annotations

import hashlib
import json
import string
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.format import LoraModule, save_lora
from lora_for_dummies.names import NAME_FILES, check_name, longest_file_name

# What names are made of in the wild and in attacks: any unicode, the separators and the
# characters Windows, glob and regex treat specially, and lengths around 255 bytes.
SPECIAL = ["/", "\\", "..", ":", "*", "?", "[", "]", "{", "}", "<", ">", "|", '"', "\0", "\n",
           "CON", "nul", "COM1", "LPT¹", "conin$", ".lfd-", "🐶", "漢", "é", " ", "."]
NAMES = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(SPECIAL + list(string.ascii_letters)), max_size=12).map("".join),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "漢", "🐶"]),
              st.integers(min_value=50, max_value=130)),
)
# NaN and ±Infinity too: Python's json (and so the server) reads them from a body.
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), NAMES)
JSON = st.recursive(JSON_LEAF, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=8)
FIELDS = ["kind", "dataset", "concept", "settings", "job", "resume", "overwrite", "base",
          "tuned", "name", "rank"]
BODIES = st.one_of(
    st.fixed_dictionaries({"kind": st.sampled_from(["process", "train", "extract"])},
                          optional={f: st.one_of(JSON, NAMES) for f in FIELDS[1:]}),
    st.dictionaries(st.sampled_from(FIELDS + ["x"]), JSON, max_size=5),
    JSON,
)


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from lora_for_dummies.dataset.layout import create_dataset
    from lora_for_dummies.hosts.api import add_routes
    from lora_for_dummies.hosts.standalone import StandaloneHost

    root = tmp_path_factory.mktemp("fuzz")
    host = StandaloneHost(root / "data")
    create_dataset(host.datasets_dir(), "d")
    for name in ("theirs", "theirs-000002", "d", "x-1"):
        modules = {"lora_unet_a": LoraModule(torch.ones(2, 4), torch.ones(4, 2), 2.0)}
        save_lora(host.lora_dir() / f"{name}.safetensors", modules, {})
    app = FastAPI()
    manager = add_routes(app, host)
    (root / "outside.txt").write_text("not the app's", encoding="utf-8")
    return TestClient(app), manager, host, root


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=BODIES)
def test_no_request_body_gets_a_500_or_touches_another_file(api, body):
    client, manager, host, root = api
    loras = _tree(host.lora_dir())
    outside = {p for p in _tree(root) if not p.startswith("data/")}
    # encoded here, not by the client: httpx 0.28 refuses to send NaN / Infinity
    answer = client.post("/lfd/v1/jobs", content=json.dumps(body).encode(),
                         headers={"content-type": "application/json"})
    assert answer.status_code < 500, (body, answer.text)
    if answer.status_code == 202:  # a valid job: let it end before the next example
        job = manager.get(answer.json()["id"])
        deadline = time.monotonic() + 30
        while job.state == "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert job.state != "running"
    else:
        detail = answer.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail
    assert _tree(host.lora_dir()) == loras  # another LoRA's file is never changed
    assert {p for p in _tree(root) if not p.startswith("data/")} == outside


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, what=st.sampled_from(sorted(NAME_FILES)))
def test_every_accepted_name_fits_the_file_system(tmp_path, name, what):
    """Accepted names are real, creatable files at their longest (temporary name included),
    inside the folder: the check is made against the real file system, not a formula."""
    try:
        cleaned = check_name(name, what)
    except UserError as err:
        assert "\n" not in str(err)
        return
    longest = longest_file_name(cleaned, what)
    path = tmp_path / longest
    path.write_bytes(b"")  # raises OSError (name too long, bad character) if the rule is wrong
    assert path.parent == tmp_path and path.exists()
    path.unlink()
