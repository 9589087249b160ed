"""Which weights a LoRA of a checkpoint can hold, where each lives in the file, and its name.

The module set and the names come from `checkpoints.kohya_names`, the same as training uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lora_for_dummies.checkpoints.keymap_text import openclip_weight_location
from lora_for_dummies.checkpoints.keymap_unet import unet_ldm_to_module, unet_module_to_ldm
from lora_for_dummies.checkpoints.kohya_names import (
    UNET_ATTENTION_TARGETS,
    UNET_CONV_TARGETS,
    kohya_name,
    lora_target_modules,
)
from lora_for_dummies.checkpoints.models import build_model
from lora_for_dummies.families import UNET_PREFIX, get_family


@dataclass(frozen=True)
class Target:
    part: str  # unet | text_encoder | text_encoder_2
    module: str  # diffusers / transformers module path
    name: str  # kohya LoRA name
    key: str  # weight key in the single-file checkpoint
    third: int | None  # for OpenCLIP's fused q/k/v: which third of in_proj_weight
    conv: bool  # a ResNet/sampler convolution (LoCon), ranked by the conv rule


def extraction_targets(family: str, configs: dict[str, dict[str, Any]], text_encoders: bool,
                       conv: bool, keys: list[str] | None = None) -> list[Target]:
    """The targets of a model. With the checkpoint's `keys` they are read from the file's own
    names (no model is built, so diffusers and transformers are not even imported)."""
    if keys is not None:
        return _targets_from_keys(family, configs, text_encoders, conv, keys)
    targets = []
    unet = build_model("unet", configs["unet"], empty=True)
    attention = set(lora_target_modules(unet, "unet"))
    for module in lora_target_modules(unet, "unet", include_conv=conv):
        key = UNET_PREFIX + unet_module_to_ldm(module + ".weight", configs["unet"])
        targets.append(Target("unet", module, kohya_name(family, "unet", module, configs["unet"]),
                              key, None, module not in attention))
    if not text_encoders:
        return targets
    return targets + _text_targets(family, configs)


def _targets_from_keys(family: str, configs: dict[str, dict[str, Any]], text_encoders: bool,
                       conv: bool, keys: list[str]) -> list[Target]:
    unet_config = configs["unet"]
    targets = []
    for key in keys:
        if not key.startswith(UNET_PREFIX) or not key.endswith(".weight"):
            continue
        try:
            module = unet_ldm_to_module(key[len(UNET_PREFIX):-len(".weight")], unet_config)
        except KeyError:
            continue
        is_attention = UNET_ATTENTION_TARGETS.search(module) is not None
        is_conv = conv and UNET_CONV_TARGETS.search(module) is not None
        if is_attention or is_conv:
            targets.append(Target("unet", module, kohya_name(family, "unet", module, unet_config),
                                  key, None, not is_attention))
    if not text_encoders:
        return targets
    return targets + _text_targets(family, configs)


def _text_targets(family: str, configs: dict[str, dict[str, Any]]) -> list[Target]:
    """Attention and MLP projections of every text-encoder layer (the same set
    `lora_target_modules` finds in a built model; a test checks it)."""
    parts = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
             "mlp.fc1", "mlp.fc2")
    targets = []
    for spec in get_family(family).text_encoders:
        for layer in range(configs[spec.name]["num_hidden_layers"]):
            for part in parts:
                module = f"text_model.encoder.layers.{layer}.{part}"
                if spec.layout == "clip":
                    key, third = spec.prefix + module + ".weight", None
                else:
                    inner, third = openclip_weight_location(module)
                    key = spec.prefix + inner
                targets.append(Target(spec.name, module, kohya_name(family, spec.name, module),
                                      key, third, False))
    return targets
