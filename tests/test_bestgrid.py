"""Applying a LoRA at a strength in memory, the best-step grid, and picking a cell."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from train_fixtures import tiny_job

from lora_for_dummies.checkpoints.models import load_models, resolve_configs
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.checkpoints.write import save_state_dict
from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.apply import merge_into_state
from lora_for_dummies.lora.format import LoraModule
from lora_for_dummies.lora.patch import LoraPatcher
from lora_for_dummies.lora.targets import extraction_targets
from lora_for_dummies.train.bestgrid import existing_cells, render_grid, saved_steps, use_cell
from lora_for_dummies.train.config import SampleConfig
from lora_for_dummies.train.loop import Trainer


def random_lora(family: str, configs: dict, state: dict, seed: int) -> dict[str, LoraModule]:
    generator = torch.Generator().manual_seed(seed)
    modules = {}
    for target in extraction_targets(family, configs, True, True):
        shape = state[target.key].shape
        out_features = shape[0] // 3 if target.third is not None else shape[0]
        in_features = int(np.prod(shape[1:]))
        down = torch.randn(2, in_features, generator=generator) * 0.05
        up = torch.randn(out_features, 2, generator=generator) * 0.05
        if len(shape) == 4:
            down = down.reshape(2, *shape[1:])
            up = up.reshape(out_features, 2, 1, 1)
        modules[target.name] = LoraModule(down, up, alpha=1.0)
    return modules


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_patcher_equals_a_checkpoint_with_the_lora_merged(tiny_models, tmp_path, family):
    """In-memory patching (diffusers names) and merging into the file (LDM names) are two
    independent maps from kohya names to weights: they must give the same model."""
    base = tiny_models[family]
    with CheckpointFile(base) as file:
        state = {k: file.get(k) for k in file.keys()}
        configs = resolve_configs(file, family)
        metadata = dict(file.metadata)
    lora = random_lora(family, configs, state, seed=3)
    merged, unmatched = merge_into_state(state, lora, family, configs, strength=0.7)
    assert not unmatched
    save_state_dict(merged, tmp_path / "merged.safetensors", metadata)
    expected = load_models(tmp_path / "merged.safetensors").models

    models = load_models(base).models
    before = {n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in models.items()}
    patcher = LoraPatcher(family, {n: m for n, m in models.items() if n != "vae"},
                          configs["unet"])
    assert set(lora) <= set(patcher.layers)
    patcher.apply(lora, 0.7)
    changed = 0
    for name, model in models.items():
        for key, value in model.state_dict().items():
            torch.testing.assert_close(value, expected[name].state_dict()[key], atol=1e-6,
                                       rtol=1e-5)
            changed += not torch.equal(value, before[name][key])
    assert changed >= len(lora)  # every module changed (q/k/v of the text encoders too)
    patcher.restore()
    for name, model in models.items():
        for key, value in model.state_dict().items():
            assert torch.equal(value, before[name][key]), f"{name}.{key} not restored exactly"


def test_patcher_refuses_a_lora_of_another_model(tiny_models):
    loaded = load_models(tiny_models["sd1"])
    patcher = LoraPatcher("sd1", {"unet": loaded.models["unet"]}, loaded.configs["unet"])
    alien = {"lora_unet_no_such_layer": LoraModule(torch.zeros(1, 4), torch.zeros(4, 1), 1.0)}
    with pytest.raises(UserError, match="does not fit this base model"):
        patcher.apply(alien, 1.0)


@pytest.fixture(scope="module")
def trained_run(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("bestgrid")
    job = tiny_job(tiny_models["sd1"], root, steps=4, optimizer={"unet_lr": 0.05},
                   save={"dtype": "fp32"}, samples={"enabled": False})
    Trainer(job, root / "Lora", device="cpu").run()
    return job, root


def test_grid_of_steps_strengths_and_cfgs(tiny_models, trained_run):
    job, root = trained_run
    lora_dir = root / "Lora"
    assert [s for s, _ in saved_steps(lora_dir, "tiny", job.run_dir)] == [2, 4]
    sample = SampleConfig(steps=2, width=64, height=64, seed=5, negative="")
    out = root / "runs" / "tiny" / "bestgrid"
    grid = render_grid(tiny_models["sd1"], lora_dir, "tiny", out, "sks dog", sample,
                       strengths=[0.0, 1.0], cfgs=[1.0, 4.0], device="cpu",
                       run_dir=job.run_dir)
    assert len(grid.cells) == 8
    with Image.open(grid.cells[0].image) as cell, Image.open(grid.image) as picture:
        width = max(cell.width, 128 // cell.width * cell.width)  # small cells are enlarged
        assert picture.size == (90 + 4 * width, 24 + 2 * width)
    pixels = {(c.step, c.strength, c.cfg): np.asarray(Image.open(c.image), dtype=np.int16)
              for c in grid.cells}
    for cfg in (1.0, 4.0):
        # strength 0 is the base model, whatever the step
        assert np.array_equal(pixels[(2, 0.0, cfg)], pixels[(4, 0.0, cfg)])
        for step in (2, 4):
            assert np.abs(pixels[(step, 1.0, cfg)] - pixels[(step, 0.0, cfg)]).mean() > 0.5
    assert np.abs(pixels[(4, 1.0, 4.0)] - pixels[(4, 1.0, 1.0)]).mean() > 0.5  # CFG matters
    with Image.open(grid.cells[-1].image) as cell:
        assert "<lora:tiny-000004:1>" in cell.text["parameters"]
        assert "CFG scale: 4" in cell.text["parameters"]
    assert [(c.step, c.strength, c.cfg) for c in existing_cells(out)] == \
        [(c.step, c.strength, c.cfg) for c in sorted(grid.cells, key=lambda c: (c.step,
                                                                              c.strength, c.cfg))]
    # the base model's weights were restored: a render without a LoRA still matches strength 0
    again = render_grid(tiny_models["sd1"], lora_dir, "tiny", root / "again", "sks dog", sample,
                        strengths=[0.0], cfgs=[1.0], steps=[4], device="cpu",
                        run_dir=job.run_dir)
    assert np.array_equal(np.asarray(Image.open(again.cells[0].image), dtype=np.int16),
                          pixels[(4, 0.0, 1.0)])


def test_picking_a_cell_makes_that_step_the_lora(trained_run):
    job, root = trained_run
    lora_dir = root / "Lora"
    cells = existing_cells(root / "runs" / "tiny" / "bestgrid")
    chosen = next(c for c in cells if c.step == 2 and c.strength == 1.0)
    final = use_cell(lora_dir, "tiny", chosen, job.run_dir)
    assert final.read_bytes() == (lora_dir / "tiny-000002.safetensors").read_bytes()
    sidecar = json.loads(final.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["preferred weight"] == 1.0
    assert "activation text" in sidecar  # the sidecar training wrote is kept, not replaced
    assert final.with_suffix(".preview.png").read_bytes() == chosen.image.read_bytes()
    again = next(c for c in cells if c.step == 4 and c.strength == 0.0)
    use_cell(lora_dir, "tiny", again, job.run_dir)
    sidecar = json.loads(final.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["preferred weight"] == 0.0
    assert sidecar["notes"].count("chosen in the best-step grid") == 1
    assert "step 4" in sidecar["notes"]


def test_grid_without_saved_steps_says_what_to_do(tiny_models, tmp_path):
    with pytest.raises(UserError, match="Save every N steps"):
        render_grid(tiny_models["sd1"], tmp_path, "nothing", tmp_path / "out", "a", SampleConfig(),
                    [1.0], [7.0], device="cpu", run_dir=tmp_path / "runs" / "nothing")
