"""A first run with nothing installed: the demo workspace, and finding a webui's models."""

from __future__ import annotations

from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.dataset.layout import open_dataset
from lora_for_dummies.demo import DEMO_MODEL, find_webui_models, prepare_demo
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.extract_controller import ExtractController


def test_demo_workspace_is_a_real_model_and_dataset(tmp_path):
    model = prepare_demo(tmp_path)
    assert model.name == DEMO_MODEL and inspect_checkpoint(model).family == "sd1"
    dataset = open_dataset(tmp_path / "datasets" / "demo dog")
    originals = dataset.folder(dataset.concept(""), "originals")
    assert len(list(originals.glob("*.jpg"))) == 6 and dataset.concept("").token == "sks"
    before = model.stat().st_mtime_ns
    prepare_demo(tmp_path)  # idempotent: nothing rewritten
    assert model.stat().st_mtime_ns == before
    host = StandaloneHost(tmp_path)
    assert ExtractController(host).checkpoint_titles() == [DEMO_MODEL]


def test_finds_the_models_of_a_webui_install(tmp_path):
    root = tmp_path / "stable-diffusion-webui"
    (root / "models" / "Stable-diffusion").mkdir(parents=True)
    inside = root / "extensions" / "lora-for-dummies"
    inside.mkdir(parents=True)
    models, loras = find_webui_models(inside)
    assert models == root / "models" / "Stable-diffusion" and loras == root / "models" / "Lora"
