"""VAE key names: diffusers AutoencoderKL ⇄ original LDM layout (`first_stage_model.…`).

LDM stores the mid-block attention projections as 1×1 convolutions; diffusers uses Linear
layers. `vae_key_map` returns the names, `needs_conv_shape` says which tensors change shape.
"""

from __future__ import annotations

import re
from typing import Any

LDM_VAE_PREFIX = "first_stage_model."

_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
_TOP = {"encoder.conv_norm_out": "encoder.norm_out", "decoder.conv_norm_out": "decoder.norm_out"}
_DOWN = re.compile(r"^encoder\.down_blocks\.(\d+)\.(resnets\.(\d+)|downsamplers\.0)\.(.+)$")
_UP = re.compile(r"^decoder\.up_blocks\.(\d+)\.(resnets\.(\d+)|upsamplers\.0)\.(.+)$")
_MID = re.compile(r"^(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d+)\.(.+)$")


def _resnet(rest: str) -> str:
    return rest.replace("conv_shortcut", "nin_shortcut", 1)


def vae_module_to_ldm(name: str, config: dict[str, Any]) -> str:
    """Map a diffusers VAE key to its LDM key (without the prefix)."""
    for diffusers_name, ldm_name in _TOP.items():
        if name.startswith(diffusers_name + "."):
            return ldm_name + name[len(diffusers_name):]
    match = _DOWN.match(name)
    if match:
        block, part, index, rest = match.groups()
        if index is None:
            return f"encoder.down.{block}.downsample.{rest}"
        return f"encoder.down.{block}.block.{index}.{_resnet(rest)}"
    match = _UP.match(name)
    if match:
        block, part, index, rest = match.groups()
        ldm_block = len(config["block_out_channels"]) - 1 - int(block)
        if index is None:
            return f"decoder.up.{ldm_block}.upsample.{rest}"
        return f"decoder.up.{ldm_block}.block.{index}.{_resnet(rest)}"
    match = _MID.match(name)
    if match:
        coder, part, index, rest = match.groups()
        if part == "resnets":
            return f"{coder}.mid.block_{int(index) + 1}.{_resnet(rest)}"
        for diffusers_name, ldm_name in _ATTENTION.items():
            if rest.startswith(diffusers_name + "."):
                return f"{coder}.mid.attn_1.{ldm_name}{rest[len(diffusers_name):]}"
    if name.split(".")[0] in ("quant_conv", "post_quant_conv") or name.split(".")[1] in (
            "conv_in", "conv_out"):
        return name
    raise KeyError(f"no LDM name for VAE key {name!r}")


def vae_key_map(diffusers_keys: list[str], config: dict[str, Any]) -> dict[str, str]:
    """{diffusers key: full LDM key} for every key of a diffusers AutoencoderKL state dict."""
    mapping = {key: LDM_VAE_PREFIX + vae_module_to_ldm(key, config) for key in diffusers_keys}
    if len(set(mapping.values())) != len(mapping):
        raise ValueError("VAE key map is not one-to-one for this config")
    return mapping


def needs_conv_shape(diffusers_key: str) -> bool:
    """True for the mid-block attention weights that LDM stores as 1×1 convolutions."""
    return ".mid_block.attentions." in diffusers_key and diffusers_key.endswith(".weight") and \
        "group_norm" not in diffusers_key
