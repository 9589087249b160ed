"""Loading diffusers/transformers models from single files, offline, in the chosen dtype."""

from __future__ import annotations

import pytest
import torch

from lora_for_dummies.checkpoints.models import load_models
from lora_for_dummies.checkpoints.reader import CheckpointFile


@pytest.mark.parametrize("name", ["sd1", "sd2v", "sdxl"])
def test_load_all_components_and_run_them(tiny_models, name):
    loaded = load_models(tiny_models[name])
    unet, vae = loaded.models["unet"], loaded.models["vae"]
    te = loaded.models["text_encoder"]
    ids = torch.tensor([[49406, 320, 1929, 49407] + [49407] * 4])
    hidden = te(ids, output_hidden_states=True).hidden_states[-2]
    cross = hidden
    kwargs = {}
    if name == "sdxl":
        te2 = loaded.models["text_encoder_2"]
        out2 = te2(ids, output_hidden_states=True)
        cross = torch.cat([hidden, out2.hidden_states[-2]], dim=-1)
        kwargs["added_cond_kwargs"] = {"text_embeds": out2.text_embeds,
                                       "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]])}
    latents = torch.randn(1, 4, 8, 8)
    noise_pred = unet(latents, 10, encoder_hidden_states=cross, **kwargs).sample
    assert noise_pred.shape == latents.shape and torch.isfinite(noise_pred).all()
    image = vae.decode(latents).sample
    assert image.shape == (1, 3, 64, 64)  # 8× like SD's VAE (four down blocks)


def test_weights_are_those_of_the_file(tiny_models):
    loaded = load_models(tiny_models["sd1"], components=["unet", "text_encoder"])
    with CheckpointFile(tiny_models["sd1"]) as ckpt:
        assert torch.equal(loaded.models["unet"].conv_in.weight,
                           ckpt.get("model.diffusion_model.input_blocks.0.0.weight"))
        key = "cond_stage_model.transformer.text_model.final_layer_norm.weight"
        state = loaded.models["text_encoder"].state_dict()  # transformers 5 drops "text_model."
        [ours] = [v for k, v in state.items() if k.endswith("final_layer_norm.weight")]
        assert torch.equal(ours, ckpt.get(key))


def test_dtype_choice_and_fp16_file(tiny_models):
    half = load_models(tiny_models["sd1_ckpt"], components=["unet"], dtype=torch.float16)
    assert half.models["unet"].conv_in.weight.dtype == torch.float16
    full = load_models(tiny_models["sd1_ckpt"], components=["unet"])
    assert full.models["unet"].conv_in.weight.dtype == torch.float32
    ema = load_models(tiny_models["sd1_ckpt"], components=["unet"], use_ema=True)
    assert torch.equal(ema.models["unet"].conv_in.weight, full.models["unet"].conv_in.weight)


def test_inpainting_unet_has_nine_input_channels(tiny_models):
    unet = load_models(tiny_models["sd1_inpaint"], components=["unet"]).models["unet"]
    assert unet.conv_in.in_channels == 9


def test_no_vae_in_file(tiny_models):
    from lora_for_dummies.errors import CheckpointError

    assert "unet" in load_models(tiny_models["sd1_novae"], components=["unet"]).models
    with pytest.raises(CheckpointError, match="weights missing"):
        load_models(tiny_models["sd1_novae"], components=["vae"])
