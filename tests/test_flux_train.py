"""Flux trains in the one loop (issue 24): on the tiny Flux demo (random weights, every part a
real file) a run computes what diffusers' Flux example computes, saves kohya's
`lora_unet_<BFL module>` LoRA, and that file is exactly the trained network under the
ComfyUI / Forge Neo rule."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from train_fixtures import tiny_job

from lora_for_dummies.families.flux.consumers import comfy_apply
from lora_for_dummies.families.flux.demo import write_flux_demo
from lora_for_dummies.families.flux.keys import flux_targets, split_delta
from lora_for_dummies.families.flux.network import bfl_config
from lora_for_dummies.families.flux.objective import (
    FlowSettings,
    image_ids,
    pack,
    predict_flow,
    sample_sigmas,
    unpack,
)
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.train.loop import Trainer


@pytest.fixture(scope="module")
def flux_demo(tmp_path_factory):
    return write_flux_demo(tmp_path_factory.mktemp("flux") / "models")


def _job(base, root, **sections):
    return tiny_job(base, root, network={"train_text_encoder": False, "rank": 4, "alpha": 2},
                    save={"dtype": "fp32"}, **sections)


def test_a_run_on_the_tiny_flux_saves_kohyas_flux_lora(flux_demo, tmp_path):
    trainer = Trainer(_job(flux_demo, tmp_path, steps=4), tmp_path / "Lora", device="cpu")
    result = trainer.run()
    assert result.message.startswith("done: 4 steps") and "self-check passed" in result.message
    assert "Forge Neo ✓ ComfyUI ✓" in result.message
    assert len(set(round(x, 5) for x in result.losses)) > 1 and all(
        torch.isfinite(torch.tensor(result.losses)))
    modules, metadata = load_lora(result.lora)
    config = bfl_config(trainer.configs["unet"])
    expected = {t.name for t in flux_targets(config, modulation=False)}
    assert set(modules) == expected  # every Linear of the blocks; modulation left out
    assert {m.rank for m in modules.values()} == {4} and {m.alpha for m in modules.values()} \
        == {2.0}  # one rank and alpha, as every loader reads a file alike
    assert metadata["ss_base_model_version"] == "flux1"
    assert metadata["modelspec.architecture"] == "flux-1-dev/lora"
    assert metadata["ss_network_module"] == "networks.lora_flux"
    assert "modelspec.prediction_type" not in metadata
    samples = sorted((trainer.run_dir / "samples").glob("*.png"))
    assert samples, "babysitting samples are rendered"


def test_the_saved_file_is_the_trained_network(flux_demo, tmp_path):
    """ComfyUI / Forge Neo apply the saved file onto the BFL weights; split into diffusers'
    modules, each change equals what the trained peft layers add (to 1e-6)."""
    trainer = Trainer(_job(flux_demo, tmp_path, steps=3, samples={"enabled": False}),
                      tmp_path / "Lora", device="cpu")
    result = trainer.run()
    base = load_file(str(flux_demo))
    patched, unmatched = comfy_apply(base, load_file(str(result.lora)))
    assert unmatched == []
    model, config = trainer.unet, bfl_config(trainer.configs["unet"])
    checked = 0
    for target in flux_targets(config, modulation=False):
        change = patched[target.key] - base[target.key]
        for module, rows in split_delta(target.module, change, config).items():
            layer = model.get_submodule(module)
            trained = layer.scaling["default"] * (layer.lora_B["default"].weight @
                                                  layer.lora_A["default"].weight)
            torch.testing.assert_close(rows, trained.detach(), rtol=0, atol=1e-6)
            checked += 1
    assert checked > len(flux_targets(config, modulation=False))  # the fused ones were split
    assert any(float(m.up.abs().max()) > 0 for m in load_lora(result.lora)[0].values())


def test_one_step_computes_what_diffusers_flux_example_computes(flux_demo, tmp_path):
    """diffusers' examples/dreambooth/train_dreambooth_lora_flux.py, its loss re-stated: pack
    with FluxPipeline._pack_latents, ids from _prepare_latent_image_ids, timestep σ, guidance
    for a guidance-distilled model, unpack, MSE against noise − latents."""
    from diffusers import FluxPipeline

    from lora_for_dummies.families.flux.parts import load_transformer

    torch.manual_seed(0)
    transformer, _, _ = load_transformer(flux_demo, torch.float32, "cpu")
    ids = _reference_ids()
    latents = torch.randn(2, 16, 8, 6)
    noise = torch.randn_like(latents)
    text, pooled = torch.randn(2, 7, 48), torch.randn(2, 32)
    sigmas = torch.tensor([0.3, 0.8])
    noisy = (1 - sigmas.view(-1, 1, 1, 1)) * latents + sigmas.view(-1, 1, 1, 1) * noise
    packed = FluxPipeline._pack_latents(noisy, 2, 16, 8, 6)
    with torch.no_grad():
        reference = transformer(
            hidden_states=packed, timestep=sigmas * 1000 / 1000,
            guidance=torch.full((2,), 1.0), pooled_projections=pooled,
            encoder_hidden_states=text, txt_ids=torch.zeros(7, 3),
            img_ids=ids,
            return_dict=False)[0]
        reference = _reference_unpack(reference)
        ours = predict_flow(transformer, noisy, sigmas, text, pooled, guidance=1.0)
    torch.testing.assert_close(ours, reference, rtol=0, atol=0)
    reference_loss = torch.mean(((reference - (noise - latents)) ** 2).reshape(2, -1), 1).mean()
    ours_loss = torch.nn.functional.mse_loss(ours, noise - latents)
    torch.testing.assert_close(ours_loss, reference_loss)
    assert torch.equal(pack(noisy), packed) and torch.equal(unpack(packed, 8, 6), noisy)
    assert torch.equal(image_ids(8, 6, "cpu", torch.float32), ids)


def _reference_unpack(tokens):
    """FluxPipeline._unpack_latents for a 64 × 48 image: its `vae_scale_factor` is 16 in
    diffusers 0.31 (the VAE's 8 and the 2×2 packing), 8 later."""
    from diffusers import FluxPipeline

    try:
        return FluxPipeline._unpack_latents(tokens, 64, 48, 8)
    except RuntimeError:
        return FluxPipeline._unpack_latents(tokens, 64, 48, 16)


def _reference_ids():
    """FluxPipeline's ids of an 8 × 6 latent: diffusers 0.31 takes the latent's size and
    halves it, later versions take the packed size (the pipeline halves first)."""
    from diffusers import FluxPipeline

    ids = FluxPipeline._prepare_latent_image_ids(2, 4, 3, "cpu", torch.float32)
    if ids.shape[-2] != 12:
        ids = FluxPipeline._prepare_latent_image_ids(2, 8, 6, "cpu", torch.float32)
    return ids[0] if ids.dim() == 3 else ids


def test_shift_sampling_is_the_flow_schedulers_shift():
    """kohya's "shift" timestep sampling moves σ as diffusers' FlowMatchEulerDiscreteScheduler
    shifts its sigmas: s·σ / (1 + (s − 1)·σ), with kohya's discrete flow shift 3.1582."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    settings = FlowSettings()
    plain = sample_sigmas(64, FlowSettings(timestep_sampling="sigmoid"),
                          torch.Generator().manual_seed(3))
    shifted = sample_sigmas(64, settings, torch.Generator().manual_seed(3))
    scheduler = FlowMatchEulerDiscreteScheduler(shift=settings.discrete_flow_shift)
    scheduler.set_timesteps(sigmas=plain.numpy(), device="cpu")
    torch.testing.assert_close(shifted, scheduler.sigmas[:-1].float(), rtol=1e-5, atol=1e-6)
    assert float(shifted.mean()) > float(plain.mean())  # more noise: where Flux LoRAs learn


def test_text_encoders_are_not_trained_for_flux(flux_demo, tmp_path):
    from lora_for_dummies.errors import UserError

    job = tiny_job(flux_demo, tmp_path, network={"train_text_encoder": True})
    with pytest.raises(UserError, match="text encoders are not trained"):
        Trainer(job, tmp_path / "Lora", device="cpu").run()


def test_fp8_base_keeps_the_frozen_transformer_in_fp8(flux_demo, tmp_path):
    """`model.fp8_base` (kohya's --fp8_base): the blocks' Linear weights stay float8_e4m3fn,
    each widened as it runs; the run trains and saves as in full precision."""
    if not hasattr(torch, "float8_e4m3fn"):
        pytest.skip("this torch has no float8 dtype")
    job = _job(flux_demo, tmp_path, steps=2, samples={"enabled": False})
    job.model.fp8_base = True
    from lora_for_dummies.progress import Reporter

    reporter = Reporter()
    trainer = Trainer(job, tmp_path / "Lora", reporter=reporter, device="cpu")
    result = trainer.run()
    assert result.message.startswith("done: 2 steps") and "self-check passed" in result.message
    assert any("kept in fp8 (model.fp8_base)" in line for line in reporter.state.log)
    weight = trainer.unet.get_submodule("transformer_blocks.0.ff.net.2").base_layer.weight
    assert weight.dtype == torch.float8_e4m3fn
    assert torch.isfinite(torch.tensor(result.losses)).all()


def test_best_step_grid_of_a_flux_run(flux_demo, tmp_path):
    """The grid loads the Flux parts, applies each saved step (split into diffusers' modules
    as diffusers' loader does) and renders with Flux's sampler; strength 0 is the base."""
    import numpy as np
    from PIL import Image

    from lora_for_dummies.train.bestgrid import render_grid
    from lora_for_dummies.train.config import SampleConfig

    job = _job(flux_demo, tmp_path, steps=4, samples={"enabled": False},
               optimizer={"unet_lr": 0.05})
    Trainer(job, tmp_path / "Lora", device="cpu").run()
    sample = SampleConfig(steps=2, width=64, height=64)
    grid = render_grid(flux_demo, tmp_path / "Lora", "tiny", tmp_path / "grid", "sks dog",
                       sample, strengths=[0.0, 1.0], cfgs=[1.0], device="cpu",
                       run_dir=job.run_dir)
    assert [(c.step, c.strength) for c in grid.cells] == [(2, 0.0), (2, 1.0), (4, 0.0),
                                                           (4, 1.0)]
    pixels = [np.asarray(Image.open(c.image), dtype=np.float32) for c in grid.cells]
    assert np.array_equal(pixels[0], pixels[2])  # strength 0: the base model, whatever step
    assert np.abs(pixels[3] - pixels[2]).mean() > 0  # the trained LoRA changes the picture


def test_the_guide_shows_the_flux_tiers():
    from pathlib import Path

    from lora_for_dummies.families.flux.tiers import FLUX_TIERS, markdown_table

    guide = (Path(__file__).resolve().parent.parent / "docs" / "training.md").read_text(
        encoding="utf-8")
    assert markdown_table() in guide
    assert all(t.measured_gb is None for t in FLUX_TIERS) and "(estimate)" in markdown_table()


@pytest.mark.parametrize(("vram", "resolution", "warned"), [(24.0, 1024, False),
                                                             (16.0, 512, False),
                                                             (12.0, 512, True)])
def test_the_wizard_and_the_guided_path_on_a_flux_base(vram, resolution, warned):
    from pathlib import Path

    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.guided import GuidedInput, guided_job, subject_for
    from lora_for_dummies.train.wizard import choose

    choice = choose(vram, "flux")
    assert choice.settings["model.fp8_base"] is True
    assert choice.settings["training.resolution"] == resolution
    assert "estimate" in choice.label
    assert any("block swap" in r for r in choice.reasons) == warned
    given = GuidedInput(base=Path("flux1-dev.safetensors"), family="flux",
                        subject=subject_for("character"), concept_folder=Path("imgs"),
                        token="sks", image_count=20, name="me", vram_gb=vram)
    job, why = guided_job(TrainJob(), given)
    assert job.network.train_text_encoder is False and job.training.shuffle_tags is False
    assert job.model.fp8_base is True and job.training.cache_text_encoder is True
    assert any(line.startswith("Flux: the text encoders stay frozen") for line in why)


def test_flux_samples_read_prompts_encoded_before_t5_left(flux_demo, tmp_path):
    """T5-XXL is 9.5 GB: the sample prompts are encoded with the captions, before the text
    encoders leave the GPU, and a sample renders from that cache without any text encoder."""
    import dataclasses

    from lora_for_dummies.train.sampling import render

    trainer = Trainer(_job(flux_demo, tmp_path, steps=2), tmp_path / "Lora", device="cpu")
    trainer.run()
    assert "sks dog" in trainer.text_cache  # the job's sample prompt
    context = trainer._sample_context("demo", "", "tiny")
    with_encoders = render(context, "sks dog", trainer.job.samples, 5)
    without = render(dataclasses.replace(context, text_encoders=[None, None]), "sks dog",
                     trainer.job.samples, 5)
    assert list(with_encoders.getdata()) == list(without.getdata())


def test_a_stopped_flux_run_resumes_to_the_same_lora(flux_demo, tmp_path):
    """Resume restores the tied downs (one tensor per fused module) and the optimizer: a run
    stopped at step 2 and resumed ends where a straight 4-step run does."""
    straight_dir, split_dir = tmp_path / "straight", tmp_path / "split"
    straight = Trainer(_job(flux_demo, straight_dir, steps=4, samples={"enabled": False}),
                       straight_dir / "Lora", device="cpu").run()
    trainer = Trainer(_job(flux_demo, split_dir, steps=4, samples={"enabled": False}),
                      split_dir / "Lora", device="cpu")
    real_step = trainer.reporter.step

    def stop_after_two(done, text=""):
        real_step(done, text)
        if done == 2:
            trainer.reporter.request_stop()

    trainer.reporter.step = stop_after_two
    assert trainer.run().step == 2
    resumed = Trainer(_job(flux_demo, split_dir, steps=4, samples={"enabled": False}),
                      split_dir / "Lora", device="cpu").run(resume=True)
    assert resumed.step == 4
    assert straight.losses[2:] == pytest.approx(resumed.losses, rel=1e-4)
    a = load_lora(straight_dir / "Lora" / "tiny.safetensors")[0]
    b = load_lora(split_dir / "Lora" / "tiny.safetensors")[0]
    for name in a:
        torch.testing.assert_close(a[name].delta(), b[name].delta(), rtol=1e-4, atol=1e-6)


def test_missing_flux_parts_are_one_line_each(flux_demo, tmp_path):
    """A Flux transformer alone: the missing parts and the missing T5 tokenizer are named in the
    catalogue's lines (docs/troubleshooting.md), never a traceback."""
    from lora_for_dummies import messages as msg
    from lora_for_dummies.errors import UserError

    alone = tmp_path / "alone" / "flux.safetensors"
    alone.parent.mkdir()
    alone.write_bytes(flux_demo.read_bytes())
    with pytest.raises(UserError) as refused:
        Trainer(_job(alone, tmp_path), tmp_path / "Lora", device="cpu").run()
    assert str(refused.value) == msg.FLUX_PARTS_MISSING.format(
        parts="CLIP-L (clip_l.safetensors), T5-XXL (t5xxl_fp16 or t5xxl_fp8_e4m3fn.safetensors),"
              " the Flux VAE (ae.safetensors)")
    for part in ("clip_l.safetensors", "t5xxl_demo.safetensors", "ae.safetensors"):
        (alone.parent / part).write_bytes((flux_demo.parent / part).read_bytes())
    with pytest.raises(UserError, match="Flux needs T5's tokenizer: .*none beside the model"):
        Trainer(_job(alone, tmp_path / "b"), tmp_path / "b" / "Lora", device="cpu").run()
