"""Detection: family, variant, prediction, parts, dtype, hashes — and clear refusals."""

from __future__ import annotations

import hashlib

import pytest
import torch
from safetensors.torch import save_file

from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.errors import CheckpointError


@pytest.mark.parametrize("name,family,variant,prediction", [
    ("sd1", "sd1", "SD 1.x", "epsilon"),
    ("sd2v", "sd2", "SD 2.x 768 v-prediction", "v"),
    ("sdxl", "sdxl", "SDXL base", "epsilon"),
    ("sd1_inpaint", "sd1", "SD 1.x inpainting", "epsilon"),
])
def test_family_variant_and_prediction(tiny_models, name, family, variant, prediction):
    info = inspect_checkpoint(tiny_models[name])
    assert (info.family, info.variant, info.prediction) == (family, variant, prediction)
    assert info.inpainting == (name == "sd1_inpaint")
    assert info.has_vae and not info.has_ema
    assert info.dtype == "float32"
    assert info.parameters["unet"] > 0 and info.parameters["text_encoder"] > 0
    if family == "sdxl":
        assert info.parameters["text_encoder_2"] > info.parameters["text_encoder"]


def test_ckpt_fp16_with_ema(tiny_models):
    info = inspect_checkpoint(tiny_models["sd1_ckpt"])
    assert info.format == "ckpt" and info.has_ema and info.dtype == "float16"


def test_no_vae_is_reported(tiny_models):
    info = inspect_checkpoint(tiny_models["sd1_novae"])
    assert not info.has_vae and any("VAE" in w for w in info.warnings)


def test_hashes_match_what_the_webui_shows(tiny_models):
    path = tiny_models["sd1"]
    data = path.read_bytes()
    info = inspect_checkpoint(path)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.short_hash == info.sha256[:10]
    assert info.legacy_hash == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    assert inspect_checkpoint(path).sha256 == info.sha256  # second time from the cache


def test_sd2_prediction_from_yaml_override_and_unknown(tiny_models, tmp_path):
    import shutil

    from lora_for_dummies.checkpoints.reader import read_safetensors_header

    # The same SD2 weights without the metadata: prediction is unknown until told.
    header, _ = read_safetensors_header(tiny_models["sd2v"])
    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(tiny_models["sd2v"]) as ckpt:
        state = {k: ckpt.get(k) for k in ckpt.keys()}
    plain = tmp_path / "sd2-plain.safetensors"
    save_file(state, str(plain))
    info = inspect_checkpoint(plain, compute_hash=False)
    assert info.prediction == "unknown" and "768" in info.prediction_source
    assert inspect_checkpoint(plain, compute_hash=False, prediction_override="v").prediction == "v"
    shutil.copy(plain, tmp_path / "withyaml.safetensors")
    (tmp_path / "withyaml.yaml").write_text('model:\n  params:\n    parameterization: "v"\n')
    info = inspect_checkpoint(tmp_path / "withyaml.safetensors", compute_hash=False)
    assert info.prediction == "v" and "withyaml.yaml" in info.prediction_source
    assert header  # the header was readable without loading tensors


def test_clip_skip_suggestion_from_name(tiny_models, tmp_path):
    import shutil

    anime = tmp_path / "anything-v5-anime.safetensors"
    shutil.copy(tiny_models["sd1"], anime)
    assert inspect_checkpoint(anime, compute_hash=False).clip_skip == 2
    assert inspect_checkpoint(tiny_models["sd1"], compute_hash=False).clip_skip == 1


def _write(path, tensors):
    save_file({k: torch.zeros(2) for k in tensors}, str(path))
    return path


@pytest.mark.parametrize("keys,reason", [
    (["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"], "LoRA, not a base model"),
    (["conditioner.embedders.0.model.ln_final.weight", "model.diffusion_model.out.0.weight"],
     "SDXL refiner"),
    (["encoder.conv_in.weight", "decoder.conv_out.weight"], "VAE, not a full checkpoint"),
    (["emb_params"], "textual-inversion"),
    (["foo.bar"], "unknown architecture"),
    (["model.diffusion_model.joint_blocks.0.x"], "SD3/Flux"),
])
def test_refusals_name_the_file_and_the_reason(tmp_path, keys, reason):
    path = _write(tmp_path / "odd file.safetensors", keys)
    with pytest.raises(CheckpointError) as err:
        inspect_checkpoint(path)
    message = str(err.value)
    assert message.startswith("odd file.safetensors: ") and reason in message
    assert "\n" not in message
