"""The LoRA network: the trainable layers of its kind (LoRA, DoRA, LoHa, LoKr, full: each kind's
plug-in in `lora.kinds`) on the UNet and text encoder(s), saved kohya-style.

peft's `inject_adapter_in_model` works on every dependency set (diffusers' own `add_adapter`
needs transformers > 4.33). Module choice and names come from `checkpoints.kohya_names`, the
same as extraction, so both write the same keys.
"""

from __future__ import annotations

import re
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.checkpoints.kohya_names import lora_target_modules
from lora_for_dummies.errors import UserError
from lora_for_dummies.families import DEFAULT, get_family
from lora_for_dummies.lora.kinds import TRAINABLE, plugin
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
    """Add the trainable layers of the network's kind (`lora.kinds`) to the modules of `model`
    the family targets (`Family.lora_targets`); returns the adapted module names."""
    kind = plugin(network.kind)
    attention, convs = get_family(family).lora_targets(model, component, network,
                                                       skip_final_layers)
    largest = max(min(model.get_submodule(m).weight.shape[:2]) for m in attention)
    if kind.RANK_LIMITED and network.rank > largest:
        raise UserError(f"rank {network.rank} is larger than every layer of the {component} "
                        f"(the largest allows {largest})")
    groups = [(targets, rank, alpha) for targets, rank, alpha in
              ((attention, network.rank, network.alpha),
               (convs, network.conv_rank, network.conv_alpha)) if targets]
    kind.inject(model, groups, ADAPTER)
    get_family(family).tie_lora(model, component, ADAPTER)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(is_trained(name))
    return attention + convs


# Every kind's trained parameter names: one model holds one kind's.
TRAINED_MARKS = tuple(mark for key in TRAINABLE for mark in plugin(key).TRAINED)


def is_trained(name: str) -> bool:
    return any(mark in name for mark in TRAINED_MARKS)


def lora_parameters(model: Any) -> list[Any]:
    return [p for n, p in model.named_parameters() if is_trained(n)]


def lora_modules(family: str, component: str, model: Any, names: list[str],
                 unet_config: dict[str, Any], kind: str = "lora") -> dict[str, Any]:
    """Current trained weights of `model` as the file's modules (detached fp32 copies)."""
    plug = plugin(kind)
    out = {name: plug.file_module(model.get_submodule(name), ADAPTER) for name in names}
    return get_family(family).lora_file_modules(component, out, unet_config)


def network_modules(family: str, adapted: dict[str, list[str]], models: dict[str, Any],
                    unet_config: dict[str, Any], kind: str = "lora") -> dict[str, Any]:
    """The whole network's file modules: `adapted` {component: module names} of `models`."""
    modules: dict[str, Any] = {}
    for component, names in adapted.items():
        modules.update(lora_modules(family, component, models[component], names, unet_config,
                                    kind))
    return modules


def lora_state(model: Any) -> dict[str, Any]:
    """Trainable tensors of one model, for resume."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if is_trained(n)}


def load_lora_state(model: Any, state: dict[str, Any]) -> None:
    """Put a saved `lora_state` back; refused when it is not this network's (another kind,
    rank or set of layers), which `load_state_dict(strict=False)` would pass in silence."""
    own = set(lora_state_names(model))
    if own != set(state):
        raise msg.RESUME_OTHER_NETWORK.error()
    model.load_state_dict(state, strict=False)


def lora_state_names(model: Any) -> list[str]:
    return [n for n, _ in model.named_parameters() if is_trained(n)]


def set_adapters(models: list[Any], enabled: bool) -> None:
    """Every trained layer on or off (a sample without the LoRA), whatever its kind."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for model in models:
        for module in model.modules():
            if isinstance(module, BaseTunerLayer):  # peft's LoRA, LoHa, LoKr
                module.enable_adapters(enabled)
            elif getattr(module, "lfd_switchable", False):  # ours: DoRA, full
                module.enabled = enabled


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
