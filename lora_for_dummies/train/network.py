"""The LoRA network: injected with peft into the UNet and text encoder(s), saved kohya-style.

peft's `inject_adapter_in_model` works on every dependency set (diffusers' own `add_adapter`
needs transformers > 4.33). Module choice and names come from `checkpoints.kohya_names`, the
same as extraction, so both write the same keys.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from lora_for_dummies.checkpoints.kohya_names import lora_target_modules
from lora_for_dummies.errors import UserError
from lora_for_dummies.families import DEFAULT, get_family
from lora_for_dummies.lora.format import LoraModule
from lora_for_dummies.train.config import NetworkConfig

ADAPTER = "default"
ATTENTION_ONLY = re.compile(r"attn[12]\.(to_q|to_k|to_v|to_out\.0)$")
TEXT_LAYER = re.compile(r"encoder\.layers\.(\d+)\.")


def unet_and_clip_targets(model: Any, component: str, network: NetworkConfig,
                          skip_final_layers: int = 0) -> tuple[list[str], list[str]]:
    """(linear targets, conv targets) of a Stable Diffusion UNet or CLIP text encoder, none in
    its last `skip_final_layers` layers (the ones clip skip leaves out)."""
    attention = lora_target_modules(model, component)
    if skip_final_layers:
        first_unused = model.config.num_hidden_layers - skip_final_layers
        attention = [m for m in attention if int(TEXT_LAYER.search(m).group(1)) < first_unused]
    if component == "unet" and network.unet_layers == "attention":
        attention = [m for m in attention if ATTENTION_ONLY.search(m)]
    convs = [m for m in lora_target_modules(model, component, include_conv=True)
             if m not in attention] if component == "unet" and network.conv_rank else []
    return attention, convs


def inject_lora(model: Any, component: str, network: NetworkConfig,
                skip_final_layers: int = 0, family: str = DEFAULT) -> list[str]:
    """Add LoRA layers to the modules of `model` the family targets (`Family.lora_targets`);
    returns the adapted module names."""
    from peft import LoraConfig, inject_adapter_in_model

    attention, convs = get_family(family).lora_targets(model, component, network,
                                                       skip_final_layers)
    largest = max(min(model.get_submodule(m).weight.shape[:2]) for m in attention)
    if network.rank > largest:
        raise UserError(f"rank {network.rank} is larger than every layer of the {component} "
                        f"(the largest allows {largest})")
    for targets, rank, alpha in ((attention, network.rank, network.alpha),
                                 (convs, network.conv_rank, network.conv_alpha)):
        if targets:
            config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets,
                                init_lora_weights=True, lora_dropout=0.0)
            with warnings.catch_warnings():
                # The conv layers join the same adapter with their own rank: peft's "multiple
                # adapters" warning about that second call is expected, not a problem.
                warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                inject_adapter_in_model(config, model, adapter_name=ADAPTER)
    get_family(family).tie_lora(model, component, ADAPTER)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(".lora_A." in name or ".lora_B." in name)
    return attention + convs


def lora_parameters(model: Any) -> list[Any]:
    return [p for n, p in model.named_parameters() if ".lora_A." in n or ".lora_B." in n]


def lora_modules(family: str, component: str, model: Any, names: list[str],
                 unet_config: dict[str, Any]) -> dict[str, LoraModule]:
    """Current LoRA weights of `model` as kohya modules (detached fp32 copies)."""
    out = {}
    for name in names:
        layer = model.get_submodule(name)
        down = layer.lora_A[ADAPTER].weight.detach().float().cpu().clone()
        up = layer.lora_B[ADAPTER].weight.detach().float().cpu().clone()
        out[name] = LoraModule(down, up, float(layer.lora_alpha[ADAPTER]))
    return get_family(family).lora_file_modules(component, out, unet_config)


def network_modules(family: str, adapted: dict[str, list[str]], models: dict[str, Any],
                    unet_config: dict[str, Any]) -> dict[str, LoraModule]:
    """The whole network's kohya modules: `adapted` {component: module names} of `models`."""
    modules: dict[str, LoraModule] = {}
    for component, names in adapted.items():
        modules.update(lora_modules(family, component, models[component], names, unet_config))
    return modules


def lora_state(model: Any) -> dict[str, Any]:
    """Trainable LoRA tensors of one model, for resume."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters()
            if ".lora_A." in n or ".lora_B." in n}


def enable_checkpointing(mode: str, unet: Any, trained_text_encoders: list[Any]) -> None:
    """Gradient checkpointing: "full" on the whole UNet and the trained text encoders;
    "partial" on the UNet's highest-resolution down and up blocks only. Measured on SD1.5 at
    512 px (CPU, fp32, bench/train_step.py): partial kept 0.5–0.7 GB less at the same step time,
    full 1.5 GB less at +24 % step time."""
    if mode == "off":
        return
    unet.enable_gradient_checkpointing()
    if mode == "full":
        for model in trained_text_encoders:
            model.gradient_checkpointing_enable()
            # transformers checkpoints re-entrantly (up to 4.x): a segment whose inputs need no
            # gradient (frozen embeddings) would pass none to the LoRA weights inside it.
            model.enable_input_require_grads()
        return
    if not hasattr(unet, "down_blocks"):  # a transformer (Flux) has no resolution levels
        return
    outermost = {id(m) for block in (unet.down_blocks[0], unet.up_blocks[-1])
                 for m in block.modules()}
    for module in unet.modules():
        if module is not unet and id(module) not in outermost and \
                getattr(module, "gradient_checkpointing", False):
            module.gradient_checkpointing = False
