"""Flux.1 / Chroma files: the naming rule equals the key lists taken from BFL's and ComfyUI's
own model classes (tests/data/*_keys.json), the synthetic writer writes exactly those names,
and recognition names every layout users have (dev, schnell, Chroma, prefixed, fp8) and each
separate part, and refuses GGUF / nf4 / scaled-fp8 files and LoRAs in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import CheckpointError
from lora_for_dummies.families.flux.architecture import (
    parameter_count,
    transformer_shapes,
    variant_config,
)
from lora_for_dummies.families.flux.layout import flux_layout, identify_part, recognise_flux
from lora_for_dummies.families.flux.synthetic import (
    FP8,
    random_transformer,
    save_transformer,
    write_clip_l,
    write_flux_transformer,
    write_flux_vae,
    write_t5,
)

DATA = Path(__file__).parent / "data"


def reference(name: str) -> dict[str, tuple[int, ...]]:
    keys = json.loads((DATA / f"{name}_keys.json").read_text(encoding="utf-8"))["keys"]
    return {key: tuple(shape) for key, shape in keys.items()}


REFERENCES = [("flux_dev", "dev", False), ("flux_schnell", "schnell", False),
              ("flux_tiny", "dev", True), ("chroma", "chroma", False),
              ("chroma_tiny", "chroma", True)]


@pytest.mark.parametrize(("name", "variant", "tiny"), REFERENCES, ids=[r[0] for r in REFERENCES])
def test_naming_rule_is_the_reference_layout(name, variant, tiny):
    """Every name and shape, none more, none fewer (the full-size lists are BFL's 19 + 38
    blocks: a rule that made up a 20th block, or dropped a bias, fails here)."""
    ours = transformer_shapes(variant_config(variant, tiny))
    theirs = reference(name)
    assert sorted(set(ours) ^ set(theirs)) == []
    assert {k: s for k, s in ours.items() if theirs[k] != s} == {}


def test_dev_is_780_tensors_and_11_9_billion_parameters():
    dev = transformer_shapes(variant_config("dev"))
    assert len(dev) == 780 and round(parameter_count(dev) / 1e9, 1) == 11.9
    schnell = set(transformer_shapes(variant_config("schnell")))
    assert set(dev) - schnell == {f"guidance_in.{p}.{e}" for p in ("in_layer", "out_layer")
                                  for e in ("weight", "bias")}


@pytest.mark.parametrize(("variant", "name"), [("dev", "flux_tiny"), ("chroma", "chroma_tiny")])
def test_written_file_holds_exactly_the_reference_keys(tmp_path, variant, name):
    path = write_flux_transformer(tmp_path / "t.safetensors", variant)
    with CheckpointFile(path) as file:
        assert {k: file.shape(k) for k in file.keys()} == reference(name)


CASES = [("dev", "", None, "float32"), ("schnell", "", None, "float32"),
         ("chroma", "", None, "float32"), ("dev", "model.diffusion_model.", torch.bfloat16,
                                           "bfloat16"),
         ("dev", "", FP8, "float8_e4m3fn"), ("chroma", "model.diffusion_model.", FP8,
                                             "float8_e4m3fn")]


@pytest.mark.parametrize(("variant", "prefix", "dtype", "stored"), CASES)
def test_recognises_each_layout(tmp_path, variant, prefix, dtype, stored):
    path = write_flux_transformer(tmp_path / "t.safetensors", variant, prefix=prefix, dtype=dtype)
    layout = recognise_flux(path)
    config = variant_config(variant, tiny=True)
    assert (layout.variant, layout.prefix, layout.dtype) == (variant, prefix, stored)
    assert (layout.depth, layout.depth_single_blocks, layout.hidden_size, layout.num_heads) == \
        (2, 2, 64, 2)
    assert layout.has_guidance == (variant == "dev")
    assert layout.parameters == parameter_count(transformer_shapes(config))
    assert layout.config == config and layout.other_keys == 0
    assert identify_part(path).kind == "transformer"
    assert layout.title in dict(layout.rows())["Family"]


def test_fp8_weights_read_back_as_float8(tmp_path):
    path = write_flux_transformer(tmp_path / "t.safetensors", dtype=FP8)
    with CheckpointFile(path) as file:
        key = "double_blocks.0.img_attn.qkv.weight"
        assert file.dtype(key) == "float8_e4m3fn"
        assert file.get(key).dtype == torch.float8_e4m3fn
        assert file.dtype("double_blocks.0.img_attn.qkv.bias") == "bfloat16"


def test_gguf_is_refused_by_its_bytes_and_by_its_name(tmp_path):
    gguf = tmp_path / "flux1-dev-Q4_K_S.gguf"
    gguf.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(100))
    renamed = tmp_path / "flux1-dev.safetensors"
    renamed.write_bytes(gguf.read_bytes())
    for path in (gguf, renamed):
        with pytest.raises(CheckpointError, match="GGUF .*not supported yet: use the bf16 / fp8"):
            recognise_flux(path)
    not_gguf_inside = tmp_path / "odd.gguf"
    not_gguf_inside.write_bytes(bytes(100))
    with pytest.raises(CheckpointError, match="GGUF"):
        identify_part(not_gguf_inside)


def test_nf4_and_scaled_fp8_are_refused(tmp_path):
    config = variant_config("dev", tiny=True)
    state = random_transformer(config)
    nf4 = dict(state)
    key = "double_blocks.0.img_attn.qkv.weight"
    nf4[key] = torch.zeros(state[key].numel() // 2, 1, dtype=torch.uint8)  # packed 4-bit
    nf4[key + ".absmax"] = torch.ones(4)
    nf4[key + ".quant_map"] = torch.ones(16)
    nf4[key + ".quant_state.bitsandbytes__nf4"] = torch.zeros(8, dtype=torch.uint8)
    save_transformer(nf4, tmp_path / "nf4.safetensors")
    with pytest.raises(CheckpointError, match="nf4 / fp4 quantized.*use the bf16 / fp8"):
        recognise_flux(tmp_path / "nf4.safetensors")
    scaled = dict(state, scaled_fp8=torch.zeros(0), **{key[:-6] + "scale_weight": torch.ones(1)})
    save_transformer(scaled, tmp_path / "scaled.safetensors")
    with pytest.raises(CheckpointError, match="scaled fp8.*not supported yet"):
        recognise_flux(tmp_path / "scaled.safetensors")


def test_a_flux_lora_is_told_apart(tmp_path):
    from safetensors.torch import save_file

    lora = {"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": torch.zeros(4, 64),
            "lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight": torch.zeros(192, 4),
            "lora_unet_double_blocks_0_img_attn_qkv.alpha": torch.tensor(4.0)}
    save_file(lora, str(tmp_path / "style.safetensors"))
    with pytest.raises(CheckpointError, match="a Flux LoRA, not a base model"):
        recognise_flux(tmp_path / "style.safetensors")
    part = identify_part(tmp_path / "style.safetensors")
    assert part.kind == "lora" and "Flux LoRA" in part.title


def test_incomplete_and_diffusers_layout_are_named(tmp_path):
    state = random_transformer(variant_config("dev", tiny=True))
    del state["single_blocks.1.linear2.bias"]
    save_transformer(state, tmp_path / "cut.safetensors")
    with pytest.raises(CheckpointError, match="incomplete dev Flux file: 1 of its 84.*linear2"):
        recognise_flux(tmp_path / "cut.safetensors")
    from lora_for_dummies.families.flux.keys import bfl_to_diffusers

    config = variant_config("dev", tiny=True)
    diffusers = bfl_to_diffusers(random_transformer(config), config)
    save_transformer({k: v.contiguous() for k, v in diffusers.items()},
                     tmp_path / "diffusers.safetensors")
    with pytest.raises(CheckpointError, match="diffusers' layout"):
        recognise_flux(tmp_path / "diffusers.safetensors")


def test_separate_parts_are_named(tmp_path):
    clip = identify_part(write_clip_l(tmp_path / "clip_l.safetensors"))
    assert clip.kind == "clip_l" and "CLIP text encoder (2 layers, width 32" in clip.title
    t5 = identify_part(write_t5(tmp_path / "t5xxl_fp16.safetensors", dtype=torch.float16))
    assert t5.kind == "t5xxl" and "T5 text encoder (2 blocks, width 32" in t5.title
    assert t5.dtype == "float16"
    t5_fp8 = identify_part(write_t5(tmp_path / "t5xxl_fp8_e4m3fn.safetensors", dtype=FP8))
    assert t5_fp8.dtype == "float8_e4m3fn"
    vae = identify_part(write_flux_vae(tmp_path / "ae.safetensors"))
    assert vae.kind == "vae" and "16-channel Flux VAE (ae.safetensors layout)" in vae.title
    with pytest.raises(CheckpointError, match="not a Flux transformer"):
        recognise_flux(tmp_path / "ae.safetensors")
    with pytest.raises(CheckpointError, match="4 latent channels"):
        identify_part(write_flux_vae(tmp_path / "sd-vae.safetensors", latent_channels=4))


def test_vae_writer_has_the_names_of_bfl_autoencoder(tmp_path):
    """The tiny VAE holds BFL's AutoEncoder names (flux_ae_keys.json), no more, no fewer."""
    with CheckpointFile(write_flux_vae(tmp_path / "ae.safetensors")) as file:
        ours = {k: len(file.shape(k)) for k in file.keys()}
    theirs = {k: len(shape) for k, shape in reference("flux_ae").items()}
    assert ours == theirs
    with CheckpointFile(tmp_path / "ae.safetensors") as file:
        assert file.shape("decoder.conv_in.weight")[1] == reference("flux_ae")[
            "decoder.conv_in.weight"][1] == 16


def test_sd_checkpoint_is_not_flux(tiny_models):
    with CheckpointFile(tiny_models["sd1"]) as file:
        assert flux_layout(file) is None
