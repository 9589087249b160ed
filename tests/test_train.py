"""Training on tiny SD1 / SD2-v / SDXL: loss, samples, saved LoRA, loading, resume, schedules."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from train_fixtures import tiny_job

from lora_for_dummies.checkpoints.models import resolve_configs
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.lora.targets import extraction_targets
from lora_for_dummies.train.loop import Trainer
from lora_for_dummies.train.optim import lr_curve


@pytest.mark.parametrize("name,family", [("sd1", "sd1"), ("sd2v", "sd2"), ("sdxl", "sdxl")])
def test_train_a_few_steps(tiny_models, tmp_path, name, family):
    job = tiny_job(tiny_models[name], tmp_path, optimizer={"unet_lr": 1e-3,
                                                           "text_encoder_lr": 1e-3})
    saved = []
    result = Trainer(job, tmp_path / "Lora", on_saved=saved.append).run()
    assert result.step == 4 and all(torch.isfinite(torch.tensor(result.losses)))
    lora_dir = tmp_path / "Lora"
    assert [p.name for p in saved] == ["tiny-000002.safetensors", "tiny-000004.safetensors"]
    assert (lora_dir / "tiny.safetensors").read_bytes() == saved[-1].read_bytes()
    sidecar = json.loads((lora_dir / "tiny.json").read_text())
    assert sidecar["activation text"] == "sks" and (lora_dir / "tiny.preview.png").exists()
    sample = Image.open(tmp_path / "runs" / "tiny" / "samples" / "000002-0.png")
    parameters = sample.info["parameters"]
    assert parameters.startswith("sks dog <lora:tiny:1>\nNegative prompt: ")
    assert "Steps: 2, Sampler: Euler a" in parameters and "Seed: 42" in parameters
    log = [json.loads(line) for line in (tmp_path / "runs" / "tiny" / "log.jsonl").open()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4]
    modules, metadata = load_lora(lora_dir / "tiny.safetensors")
    # The same names as extraction writes for the same modules (one naming function).
    with CheckpointFile(tiny_models[name]) as file:
        configs = resolve_configs(file, family)
    expected = {t.name for t in extraction_targets(family, configs, True, False)}
    if family == "sdxl":  # its first text encoder's last layer never shapes the conditioning
        last = configs["text_encoder"]["num_hidden_layers"] - 1
        expected = {n for n in expected
                    if not n.startswith(f"lora_te1_text_model_encoder_layers_{last}_")}
    assert set(modules) == expected
    assert all(m.alpha == 8.0 and m.rank == 16 for m in modules.values())
    assert any(float(m.up.abs().max()) > 0 for m in modules.values())  # it learned something
    assert metadata["ss_output_name"] == "tiny" and json.loads(metadata["ss_tag_frequency"])
    assert metadata["ss_v_parameterization"] == str(family == "sd2")


def test_resume_gives_the_same_lora(tiny_models, tmp_path):
    straight_dir, split_dir = tmp_path / "straight", tmp_path / "split"
    straight = Trainer(tiny_job(tiny_models["sd1"], straight_dir, steps=4), straight_dir).run()
    job = tiny_job(tiny_models["sd1"], split_dir, steps=4)
    trainer = Trainer(job, split_dir)
    calls = []
    real_step = trainer.reporter.step

    def stop_after_two(done, text=""):
        real_step(done, text)
        calls.append(done)
        if done == 2:
            trainer.reporter.request_stop()

    trainer.reporter.step = stop_after_two
    first = trainer.run()
    assert first.stopped and first.step == 2
    resumed = Trainer(tiny_job(tiny_models["sd1"], split_dir, steps=4), split_dir).run(
        resume=True)
    assert resumed.step == 4
    a, _ = load_lora(straight_dir / "Lora" / "tiny.safetensors")
    b, _ = load_lora(split_dir / "Lora" / "tiny.safetensors")
    for name in a:
        assert torch.allclose(a[name].delta(), b[name].delta(), atol=1e-3), name
    assert straight.losses[2:] == pytest.approx(resumed.losses, rel=1e-4)


@pytest.mark.parametrize("scheduler,extra", [("cosine", {}), ("cosine_with_restarts",
                                                              {"cycles": 3}),
                                             ("linear", {}), ("polynomial", {"power": 2.0}),
                                             ("constant_with_warmup", {})])
def test_lr_curve_matches_the_formula(scheduler, extra):
    import math

    from lora_for_dummies.train.config import OptimizerConfig

    config = OptimizerConfig(unet_lr=1e-4, scheduler=scheduler, warmup=0.1, **extra)
    curve = lr_curve(config, 100)
    assert curve[0] == 0.0 and curve[5] == pytest.approx(0.5e-4)  # 10 warmup steps
    progress = (50 - 10) / 90
    expected = {
        "cosine": 1e-4 * 0.5 * (1 + math.cos(math.pi * progress)),
        "cosine_with_restarts": 1e-4 * 0.5 * (1 + math.cos(math.pi * ((3 * progress) % 1))),
        "linear": 1e-4 * (1 - progress),
        "polynomial": (1e-4 - 1e-7) * (1 - progress) ** 2 + 1e-7,
        "constant_with_warmup": 1e-4,
    }[scheduler]
    assert curve[50] == pytest.approx(expected, rel=1e-6)


def test_trained_lora_loads_and_changes_the_output(tiny_models, tmp_path):
    from diffusers.utils import USE_PEFT_BACKEND

    from lora_for_dummies.checkpoints.models import load_models
    from lora_for_dummies.lora.apply import merge_into_state

    job = tiny_job(tiny_models["sd1"], tmp_path, steps=2, optimizer={"unet_lr": 1e-2,
                                                                     "text_encoder_lr": 1e-2})
    Trainer(job, tmp_path / "Lora").run()
    path = tmp_path / "Lora" / "tiny.safetensors"
    modules, _ = load_lora(path)
    base = load_models(tiny_models["sd1"])
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    context = torch.randn(1, 77, 32, generator=torch.Generator().manual_seed(1))
    before = base.models["unet"](latents, 10, encoder_hidden_states=context).sample
    # Our own loader (every dependency set): merge into the checkpoint's weights.
    with CheckpointFile(tiny_models["sd1"]) as file:
        state = {k: file.get(k) for k in file.keys()}
    merged, unmatched = merge_into_state(state, modules, "sd1", base.configs)
    assert unmatched == []
    changed = sum(not torch.equal(merged[k], state[k]) for k in state)
    assert changed == len({t.key for t in extraction_targets("sd1", base.configs, True, False)})
    if not USE_PEFT_BACKEND:
        return  # webui set: diffusers' loader needs transformers > 4.33
    from diffusers_check import load_with_diffusers

    pipe, adapted = load_with_diffusers(base, path)
    assert adapted == len(modules)  # every key used
    after = pipe.unet(latents, 10, encoder_hidden_states=context).sample
    assert not torch.allclose(before, after)


def test_prior_preservation_generates_class_images_and_disk_cache(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=2,
                   training={"cache_latents": "disk", "prior_loss_weight": 1.0})
    job.concepts[0].class_folder = str(tmp_path / "class")
    job.concepts[0].class_prompt = "a dog"
    job.concepts[0].class_images = 2
    trainer = Trainer(job, tmp_path / "Lora")
    result = trainer.run()
    assert result.step == 2 and all(torch.isfinite(torch.tensor(result.losses)))
    made = sorted(p.name for p in (tmp_path / "class").iterdir())
    assert made == ["class_0000.png", "class_0000.txt", "class_0001.png", "class_0001.txt"]
    cached = list((tmp_path / "runs" / "tiny" / "cache").glob("*.safetensors"))
    assert cached  # latents on disk, reused by the next run
    again = Trainer(tiny_job(tiny_models["sd1"], tmp_path, steps=2,
                             training={"cache_latents": "disk"}), tmp_path / "Lora",
                    overwrite=True)  # the same name again, on purpose
    again.job.concepts[0].class_folder = str(tmp_path / "class")
    again.job.concepts[0].class_prompt = "a dog"
    again.job.concepts[0].class_images = 2
    again.run()
    assert not any("generating" in line for line in again.reporter.state.log)


def test_self_check_after_the_final_save(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=2, optimizer={"unet_lr": 1e-2,
                                                                     "text_encoder_lr": 1e-2})
    result = Trainer(job, tmp_path / "Lora").run()
    assert "self-check passed" in result.message
    check = json.loads((tmp_path / "Lora" / "tiny.selfcheck.json").read_text())
    assert check["passed"] and check["unmatched"] == [] and check["image_difference"] > 0


@pytest.mark.parametrize("family,component,clip_skip,unused", [
    ("sd1", "text_encoder", 1, 0), ("sd1", "text_encoder", 2, 1),
    ("sdxl", "text_encoder", 1, 1), ("sdxl", "text_encoder_2", 2, 0)])
def test_no_lora_in_text_layers_that_clip_skip_leaves_out(family, component, clip_skip, unused):
    """encode_tokens never runs past layer -clip_skip (SDXL: -2 on its first encoder; the
    second runs to the end for the pooled embedding): no LoRA there, it could never learn."""
    from lora_for_dummies.checkpoints.models import build_model
    from lora_for_dummies.checkpoints.synthetic import model_configs
    from lora_for_dummies.train import network as net
    from lora_for_dummies.train.config import NetworkConfig
    from lora_for_dummies.train.text import unused_final_layers

    assert unused_final_layers(family, component, clip_skip) == unused
    model = build_model(component, model_configs(family, tiny=True)[component])
    layers = model.config.num_hidden_layers
    names = net.inject_lora(model, component, NetworkConfig(rank=2), unused)
    deepest = max(int(net.TEXT_LAYER.search(name).group(1)) for name in names)
    assert deepest == layers - 1 - unused
