"""LDM → diffusers → LDM is exact, and our key maps agree with diffusers' own converter."""

from __future__ import annotations

import pytest
import torch

from lora_for_dummies.checkpoints.convert import join_checkpoint, split_checkpoint
from lora_for_dummies.checkpoints.detect import detect_family
from lora_for_dummies.checkpoints.models import canonical_text_key, model_keys, resolve_configs
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.checkpoints.write import save_checkpoint

ALL = ["sd1", "sd2v", "sdxl", "sd1_ckpt", "sd1_inpaint", "sd1_novae"]


def _split(path, use_ema=False):
    ckpt = CheckpointFile(path)
    family = detect_family(ckpt)
    configs = resolve_configs(ckpt, family)
    names = [n for n in configs if not (n == "vae" and "novae" in path.name)]
    keys = {n: model_keys(n, configs[n]) for n in names}
    return ckpt, configs, split_checkpoint(ckpt, family, configs, keys, use_ema=use_ema)


@pytest.mark.parametrize("name", ALL)
def test_round_trip_is_exact_tensor_by_tensor(tiny_models, name, tmp_path):
    ckpt, configs, split = _split(tiny_models[name])
    joined = join_checkpoint(split, configs)
    assert sorted(joined) == sorted(ckpt.keys())
    for key in ckpt.keys():
        original = ckpt.get(key)
        assert joined[key].dtype == original.dtype, key
        assert joined[key].shape == original.shape, key
        assert torch.equal(joined[key], original), key
    # And through a file again: writing the split back gives the same tensors.
    out = save_checkpoint(split, configs, tmp_path / ("again" + tiny_models[name].suffix))
    with CheckpointFile(out) as again:
        assert sorted(again.keys()) == sorted(ckpt.keys())
        assert all(torch.equal(again.get(k), ckpt.get(k)) for k in ckpt.keys())


def test_ema_weights_are_read_when_chosen(tiny_models):
    ckpt, configs, plain = _split(tiny_models["sd1_ckpt"])
    _, _, ema = _split(tiny_models["sd1_ckpt"], use_ema=True)
    key = "conv_in.weight"
    assert torch.equal(ema.components["unet"][key],
                       ckpt.get("model_ema.diffusion_modelinput_blocks00weight"))
    assert torch.equal(plain.components["unet"][key],
                       ckpt.get("model.diffusion_model.input_blocks.0.0.weight"))


@pytest.mark.parametrize("name", ["sd1", "sd2v", "sdxl"])
def test_unet_and_vae_maps_agree_with_diffusers_converter(tiny_models, name):
    from diffusers.loaders import single_file_utils as sfu

    ckpt, configs, split = _split(tiny_models[name])
    state = {k: ckpt.get(k) for k in ckpt.keys()}
    theirs_unet = sfu.convert_ldm_unet_checkpoint(dict(state), configs["unet"])
    assert sorted(theirs_unet) == sorted(split.components["unet"])
    assert all(torch.equal(theirs_unet[k], v) for k, v in split.components["unet"].items())
    vae_state = {k: v for k, v in state.items() if k.startswith("first_stage_model.")}
    theirs_vae = sfu.convert_ldm_vae_checkpoint(vae_state, configs["vae"])
    assert sorted(theirs_vae) == sorted(split.components["vae"])
    for key, value in split.components["vae"].items():
        assert torch.equal(theirs_vae[key].reshape(value.shape), value), key


@pytest.mark.parametrize("name,component,prefix", [
    ("sd2v", "text_encoder", "cond_stage_model.model."),
    ("sdxl", "text_encoder_2", "conditioner.embedders.1.model."),
])
def test_openclip_map_agrees_with_diffusers_converter(tiny_models, name, component, prefix):
    from diffusers.loaders import single_file_utils as sfu

    from lora_for_dummies.checkpoints.models import build_model

    ckpt, configs, split = _split(tiny_models[name])
    state = {k: ckpt.get(k) for k in ckpt.keys()}
    model = build_model(component, configs[component])
    theirs = sfu.convert_open_clip_checkpoint(model, state, prefix=prefix)
    theirs = {canonical_text_key(k): v for k, v in theirs.items() if not k.endswith("position_ids")}
    ours = split.components[component]
    # diffusers converts every layer in the file; SD2's config uses one layer fewer (penultimate).
    last = configs[component]["num_hidden_layers"]
    extra = {k for k in theirs if k.startswith(f"text_model.encoder.layers.{last}.")}
    assert sorted(set(theirs) - extra) == sorted(ours)
    assert all(torch.equal(theirs[k], v) for k, v in ours.items())


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_reading_many_tensors_at_once_gives_each_as_read_alone(tiny_models, threads, monkeypatch):
    """`get_many` reads with as many threads as torch may use: the same bytes as `get`, in the
    order asked, each thread's file handle closed after."""
    import os

    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    with CheckpointFile(tiny_models["sd1"]) as ckpt:
        keys = list(reversed(ckpt.keys()))
        open_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
        many = ckpt.get_many(keys)
        if open_before:
            assert len(os.listdir("/proc/self/fd")) == open_before
        assert list(many) == keys
        for key in keys:
            alone = ckpt.get(key)
            assert many[key].dtype == alone.dtype and torch.equal(many[key], alone), key


def test_a_truncated_file_read_by_several_threads_says_so(tiny_models, tmp_path):
    from lora_for_dummies.errors import CheckpointError

    whole = tiny_models["sd1"].read_bytes()
    with CheckpointFile(tiny_models["sd1"]) as ckpt:
        keys = ckpt.keys()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(whole)
    ckpt = CheckpointFile(cut)  # the header was valid when opened; the download then shrank
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        ckpt.get_many(keys)
    ckpt.close()
