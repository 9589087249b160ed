"""UNet key names: diffusers ⇄ original LDM/sgm layout (`model.diffusion_model.…`).

The map is derived from the UNet config (number of blocks, layers per block, which blocks carry
attention), so it serves SD1, SD2, SDXL and the tiny test models alike. It is a bijection on the
keys a diffusers UNet has, which makes LDM → diffusers → LDM round trips exact by construction;
the tests check it against diffusers' own single-file converter.
"""

from __future__ import annotations

import re
from typing import Any

LDM_UNET_PREFIX = "model.diffusion_model."

# ResnetBlock2D (diffusers) → ResBlock (LDM); attention blocks use the same names in both.
_RESNET_RENAMES = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_TOP_LEVEL = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}

_BLOCK = re.compile(r"^(down_blocks|up_blocks)\.(\d+)\.(resnets|attentions|downsamplers|upsamplers)"
                    r"\.(\d+)\.(.+)$")
_MID = re.compile(r"^mid_block\.(resnets|attentions)\.(\d+)\.(.+)$")


def _layers(config: dict[str, Any]) -> int:
    layers = config["layers_per_block"]
    if isinstance(layers, (list, tuple)):
        if len(set(layers)) != 1:
            raise ValueError("UNets with different layers per block are not supported")
        layers = layers[0]
    return int(layers)


def _resnet(rest: str) -> str:
    head, dot, tail = rest.partition(".")
    return f"{_RESNET_RENAMES[head]}{dot}{tail}"


def unet_module_to_ldm(name: str, config: dict[str, Any]) -> str:
    """Map a diffusers UNet parameter or module name to its LDM name (without the prefix)."""
    for diffusers_name, ldm_name in _TOP_LEVEL.items():
        if name == diffusers_name or name.startswith(diffusers_name + "."):
            return ldm_name + name[len(diffusers_name):]
    layers = _layers(config)
    match = _BLOCK.match(name)
    if match:
        kind, block, part, index, rest = match.groups()
        block, index = int(block), int(index)
        if kind == "down_blocks":
            base = 1 + block * (layers + 1)
            if part == "resnets":
                return f"input_blocks.{base + index}.0.{_resnet(rest)}"
            if part == "attentions":
                return f"input_blocks.{base + index}.1.{rest}"
            rest = "op" + rest[4:] if rest == "conv" or rest.startswith("conv.") else rest
            return f"input_blocks.{base + layers}.0.{rest}"
        base = block * (layers + 2)
        if part == "resnets":
            return f"output_blocks.{base - block + index}.0.{_resnet(rest)}"
        if part == "attentions":
            return f"output_blocks.{base - block + index}.1.{rest}"
        has_attention = "CrossAttn" in config["up_block_types"][block]
        slot = 2 if has_attention else 1
        return f"output_blocks.{base - block + layers}.{slot}.{rest}"
    match = _MID.match(name)
    if match:
        part, index, rest = match.groups()
        if part == "attentions":
            return f"middle_block.1.{rest}"
        return f"middle_block.{0 if index == '0' else 2}.{_resnet(rest)}"
    raise KeyError(f"no LDM name for UNet key {name!r}")


def unet_key_map(diffusers_keys: list[str], config: dict[str, Any]) -> dict[str, str]:
    """{diffusers key: full LDM key} for every key of a diffusers UNet state dict."""
    mapping = {key: LDM_UNET_PREFIX + unet_module_to_ldm(key, config) for key in diffusers_keys}
    if len(set(mapping.values())) != len(mapping):
        raise ValueError("UNet key map is not one-to-one for this config")
    return mapping


_LDM_INPUT = re.compile(r"^input_blocks\.(\d+)\.(\d+)\.(.+)$")
_LDM_OUTPUT = re.compile(r"^output_blocks\.(\d+)\.(\d+)\.(.+)$")
_LDM_MIDDLE = re.compile(r"^middle_block\.(\d+)\.(.+)$")


def _resnet_back(rest: str) -> str:
    for diffusers_name, ldm_name in _RESNET_RENAMES.items():
        if rest == ldm_name or rest.startswith(ldm_name + "."):
            return diffusers_name + rest[len(ldm_name):]
    return rest


def unet_ldm_to_module(name: str, config: dict[str, Any]) -> str:
    """Inverse of `unet_module_to_ldm`: an LDM name (without prefix) → its diffusers name.

    Lets extraction name modules from the checkpoint's own keys, without building a model.
    """
    for diffusers_name, ldm_name in _TOP_LEVEL.items():
        if name == ldm_name or name.startswith(ldm_name + "."):
            return diffusers_name + name[len(ldm_name):]
    layers = _layers(config)
    match = _LDM_INPUT.match(name)
    if match:
        number, slot, rest = int(match.group(1)), match.group(2), match.group(3)
        block, index = divmod(number - 1, layers + 1)
        if index == layers:
            rest = "conv" + rest[2:] if rest == "op" or rest.startswith("op.") else rest
            return f"down_blocks.{block}.downsamplers.0.{rest}"
        if slot == "0":
            return f"down_blocks.{block}.resnets.{index}.{_resnet_back(rest)}"
        return f"down_blocks.{block}.attentions.{index}.{rest}"
    match = _LDM_OUTPUT.match(name)
    if match:
        number, slot, rest = int(match.group(1)), match.group(2), match.group(3)
        block, index = divmod(number, layers + 1)
        if slot == "0":
            return f"up_blocks.{block}.resnets.{index}.{_resnet_back(rest)}"
        has_attention = "CrossAttn" in config["up_block_types"][block]
        if slot == "1" and has_attention:
            return f"up_blocks.{block}.attentions.{index}.{rest}"
        return f"up_blocks.{block}.upsamplers.0.{rest}"
    match = _LDM_MIDDLE.match(name)
    if match:
        slot, rest = match.groups()
        if slot == "1":
            return f"mid_block.attentions.0.{rest}"
        return f"mid_block.resnets.{0 if slot == '0' else 1}.{_resnet_back(rest)}"
    raise KeyError(f"no diffusers name for UNet key {name!r}")
