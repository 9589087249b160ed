"""Kohya LoRA module names: the one place that decides what a LoRA key is called.

Training (peft injection) and extraction (weight differences) both ask this module, so a LoRA
from either path has the same keys. SD1/SD2 UNet names follow diffusers' module paths; SDXL UNet
names follow the original sgm layout, as the webui's built-in Lora extension and kohya expect.
"""

from __future__ import annotations

import re
from typing import Any

from lora_for_dummies.checkpoints.keymap_unet import unet_module_to_ldm
from lora_for_dummies.families import get_family

# Inside attention blocks (Transformer2DModel): what a LoRA trains by default.
UNET_ATTENTION_TARGETS = re.compile(
    r"attentions\.\d+\.(proj_in|proj_out|transformer_blocks\.\d+\."
    r"(attn1\.to_q|attn1\.to_k|attn1\.to_v|attn1\.to_out\.0|attn2\.to_q|attn2\.to_k|attn2\.to_v|"
    r"attn2\.to_out\.0|ff\.net\.0\.proj|ff\.net\.2))$")
# Convolutions of the ResNet blocks and re-samplers (LoCon / "conv dim").
UNET_CONV_TARGETS = re.compile(
    r"(resnets\.\d+\.(conv1|conv2|conv_shortcut)|downsamplers\.0\.conv|upsamplers\.0\.conv)$")
TEXT_TARGETS = re.compile(r"encoder\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|"
                          r"mlp\.(fc1|fc2))$")


def kohya_name(family: str, component: str, module: str, unet_config: dict[str, Any] | None = None
               ) -> str:
    """Kohya name (`lora_unet_…`, `lora_te…_…`) of a module given by its diffusers path."""
    spec = get_family(family)
    if component == "unet":
        if spec.kohya_unet_style == "sgm":
            if unet_config is None:
                raise ValueError("SDXL names need the UNet config")
            module = unet_module_to_ldm(module, unet_config)
        return "lora_unet_" + module.replace(".", "_")
    for te in spec.text_encoders:
        if te.name == component:
            if not module.startswith("text_model."):
                module = "text_model." + module  # transformers 5 drops the prefix
            return f"{te.kohya_prefix}_" + module.replace(".", "_")
    raise KeyError(f"{family} has no component {component!r}")


def lora_target_modules(model: Any, component: str, include_conv: bool = False) -> list[str]:
    """Names of the modules of a diffusers/transformers model that a LoRA adapts."""
    import torch

    names = []
    for name, module in model.named_modules():
        if component == "unet":
            is_attention = UNET_ATTENTION_TARGETS.search(name) is not None
            is_conv = include_conv and UNET_CONV_TARGETS.search(name) is not None
            if is_attention and isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                names.append(name)
            elif is_conv and isinstance(module, torch.nn.Conv2d):
                names.append(name)
        elif TEXT_TARGETS.search(name) and isinstance(module, torch.nn.Linear):
            names.append(name)
    return names
