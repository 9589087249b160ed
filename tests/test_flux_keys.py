"""Flux LoRA names and the BFL ⇄ diffusers map: kohya's default target set, named
`lora_unet_<BFL module>`; the map equals diffusers' own converter where that one works (full
size), and loads a tiny BFL file into a real FluxTransformer2DModel, strictly and back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lora_for_dummies.families.flux.architecture import variant_config
from lora_for_dummies.families.flux.keys import (
    bfl_to_diffusers,
    diffusers_config,
    diffusers_map,
    diffusers_to_bfl,
    flux_targets,
    kohya_name,
    split_delta,
)
from lora_for_dummies.families.flux.synthetic import random_transformer

DEV_KEYS = json.loads((Path(__file__).parent / "data" / "flux_dev_keys.json").read_text(
    encoding="utf-8"))["keys"]


def test_kohya_default_set_and_names():
    """kohya's LoRANetwork: every Linear of the 19 double and 38 single blocks (10 + 3 each,
    modulation included); `*_mod_dim=0` drops 2 + 1; `in_dims` adds the 8 embedder layers."""
    dev = variant_config("dev")
    default = flux_targets(dev)
    assert len(default) == 19 * 10 + 38 * 3 == 304
    names = {t.name for t in default}
    assert {"lora_unet_double_blocks_0_img_attn_qkv", "lora_unet_double_blocks_18_txt_mlp_2",
            "lora_unet_single_blocks_0_linear1", "lora_unet_single_blocks_37_modulation_lin",
            "lora_unet_double_blocks_3_img_mod_lin"} <= names
    assert len(names) == len(default)
    assert all(t.key in DEV_KEYS and tuple(DEV_KEYS[t.key]) == t.shape for t in default)
    outside = ("lora_unet_final_layer", "lora_unet_img_in")
    assert not any(t.name.startswith(outside) for t in default)
    plain = flux_targets(dev, modulation=False)
    assert len(plain) == 19 * 8 + 38 * 2 and not any("mod" in t.name for t in plain)
    embedders = {t.name for t in flux_targets(dev, embedders=True)} - names
    assert embedders == {kohya_name(m) for m in (
        "img_in", "txt_in", "time_in.in_layer", "time_in.out_layer", "vector_in.in_layer",
        "vector_in.out_layer", "guidance_in.in_layer", "guidance_in.out_layer")}
    chroma = flux_targets(variant_config("chroma"))
    assert len(chroma) == 19 * 8 + 38 * 2  # its blocks have no modulation layers


def _tagged(config) -> dict[str, torch.Tensor]:
    """Full-size BFL keys whose rows say where they come from (key index × 10⁵ + row); one
    column only, so that 11.9 B parameters take a few MB."""
    from lora_for_dummies.families.flux.architecture import transformer_shapes

    state = {}
    for index, (key, shape) in enumerate(transformer_shapes(config).items()):
        rows = index * 100_000 + torch.arange(shape[0], dtype=torch.int32)
        state[key] = rows.reshape(-1, *([1] * (len(shape) - 1)))
    return state


@pytest.mark.parametrize("variant", ["dev", "schnell"])
def test_map_equals_diffusers_converter_at_full_size(variant):
    """diffusers' convert_flux_transformer_checkpoint_to_diffusers (it hard-codes width 3072)
    and our map send every row of every BFL tensor to the same diffusers tensor."""
    from diffusers.loaders.single_file_utils import (
        convert_flux_transformer_checkpoint_to_diffusers,
    )

    config = variant_config(variant)
    state = _tagged(config)
    theirs = convert_flux_transformer_checkpoint_to_diffusers(
        {"model.diffusion_model." + k: v for k, v in state.items()})
    ours = bfl_to_diffusers(state, config)
    assert sorted(set(theirs) ^ set(ours)) == []
    assert [k for k in ours if not torch.equal(ours[k], theirs[k])] == []


def test_tiny_file_loads_into_diffusers_model_and_back():
    from diffusers import FluxTransformer2DModel

    for variant in ("dev", "schnell"):
        config = variant_config(variant, tiny=True)
        state = random_transformer(config)
        model = FluxTransformer2DModel(**diffusers_config(config))
        result = model.load_state_dict(bfl_to_diffusers(state, config), strict=True)
        assert not result.missing_keys and not result.unexpected_keys
        back = diffusers_to_bfl(model.state_dict(), config)
        assert back.keys() == state.keys()
        assert all(torch.equal(back[k], state[k]) for k in state)


def test_fused_deltas_split_by_rows():
    config = variant_config("dev", tiny=True)
    h, mlp = config.hidden_size, config.mlp_hidden
    delta = torch.randn(3 * h + mlp, h)
    parts = split_delta("single_blocks.1.linear1", delta, config)
    assert list(parts) == [f"single_transformer_blocks.1.{p}" for p in
                           ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")]
    assert torch.equal(torch.cat(list(parts.values())), delta)
    qkv = split_delta("double_blocks.0.txt_attn.qkv", delta[: 3 * h], config)
    assert torch.equal(qkv["transformer_blocks.0.attn.add_k_proj"], delta[h: 2 * h])
    with pytest.raises(ValueError, match="Chroma"):
        diffusers_map(variant_config("chroma", tiny=True))
