"""Our loop against the diffusers-example-style reference loop of bench/train_step.py, on the
tiny SD1 and SDXL models: where the settings coincide the loss curves agree step by step. And
one seed gives one LoRA."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from imagegen import photo, save
from train_fixtures import tiny_job

from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.train.loop import Trainer

BENCH = Path(__file__).resolve().parent.parent / "bench" / "train_step.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_train_step", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["sd1", "sdxl"])
def test_loss_curve_equals_the_reference_loop(tiny_models, tmp_path, name):
    bench = _bench_module()
    images = tmp_path / "one"
    save(photo(96, 80, 3), images / "0.png")  # not square: SDXL's size/crop ids matter
    (images / "0.txt").write_text("sks, dog, photo", encoding="utf-8")
    _, ours = bench.ours(tiny_models[name], images, 64, 6, tmp_path / "run", seed=5, lr=1e-2,
                         rank=4)
    _, reference = bench.reference(tiny_models[name], images, 64, 6, seed=5, lr=1e-2, rank=4)
    assert len(ours) == len(reference) == 6
    assert len(set(round(x, 6) for x in reference)) > 1  # the loss moves: a real comparison
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(reference), rtol=1e-4,
                               atol=1e-6)


def test_one_seed_gives_one_lora(tiny_models, tmp_path):
    files = []
    for attempt in ("a", "b"):
        job = tiny_job(tiny_models["sd1"], tmp_path / attempt, steps=2,
                       samples={"enabled": False}, save={"dtype": "fp32"})
        files.append(Trainer(job, tmp_path / attempt / "Lora", device="cpu").run().lora)
    first, second = (load_lora(path)[0] for path in files)
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name].down, second[name].down), name
        assert torch.equal(first[name].up, second[name].up), name
