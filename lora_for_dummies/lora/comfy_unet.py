"""ComfyUI's generic rule for a transformer model's LoRA, which Forge Neo's vendored copy shares
(ComfyUI v0.3.77 `comfy/lora.py`, `model_lora_keys_unet`'s first loop and `load_lora`; the
weight as `comfy/weight_adapter/lora.py` `LoRAAdapter` computes it): for every weight
`diffusion_model.<k>.weight` of the loaded model, `lora_unet_<k, . → _>` and
`diffusion_model.<k>` name it, and a module's change is `strength · (alpha / rank) · up @ down`.
The families whose LoRAs use these names (Flux, Anima) re-state their loaders with it
(`families/flux/consumers.py`, `families/anima/family.py`).
"""

from __future__ import annotations

from typing import Any

from lora_for_dummies.lora.consumers import forge_neo_loads

COMFY_PREFIX = "diffusion_model."


def comfy_key_map(weight_keys: list[str], prefix: str = "") -> dict[str, str]:
    """`model_lora_keys_unet`'s generic names: {LoRA module name: the weight it patches}, the
    weight named as ComfyUI holds it (`diffusion_model.<key>`). `weight_keys` are the file's
    tensor names (with its `prefix`, which ComfyUI strips on load)."""
    key_map = {}
    for key in weight_keys:
        if not key.startswith(prefix) or not key.endswith(".weight"):
            continue
        bfl = key[len(prefix): -len(".weight")]
        key_map["lora_unet_" + bfl.replace(".", "_")] = COMFY_PREFIX + bfl + ".weight"
        key_map[COMFY_PREFIX + bfl] = COMFY_PREFIX + bfl + ".weight"  # "generic lora format"
    return key_map


def comfy_load(lora: dict[str, Any], key_map: dict[str, str]
               ) -> tuple[dict[str, tuple[Any, Any, float | None]], dict[str, Any]]:
    """`load_lora`: ({patched weight: (up, down, alpha)}, the LoRA's keys nothing used)."""
    patches, loaded = {}, set()
    for name, weight in key_map.items():
        up, down = f"{name}.lora_up.weight", f"{name}.lora_down.weight"
        if up not in lora:
            continue
        alpha = float(lora[f"{name}.alpha"].item()) if f"{name}.alpha" in lora else None
        loaded.update({up, down} | ({f"{name}.alpha"} if alpha is not None else set()))
        patches[weight] = (lora[up], lora[down], alpha)
    return patches, {k: v for k, v in lora.items() if k not in loaded}


def comfy_patched(weight: Any, patch: tuple[Any, Any, float | None], strength: float) -> Any:
    """`LoRAAdapter.calculate_weight`: the weight with the patch applied at `strength`."""
    import torch

    up, down, alpha = patch
    scale = alpha / down.shape[0] if alpha is not None else 1.0
    diff = torch.mm(up.float().flatten(1), down.float().flatten(1)).reshape(weight.shape)
    return (weight.float() + (strength * scale) * diff).to(weight.dtype)


def comfy_apply(base: dict[str, Any], lora: dict[str, Any], strength: float = 1.0,
                prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """Forge Neo / ComfyUI loading `lora` onto the native state dict `base`: ({key: weight},
    the LoRA keys left unmatched). Raises ValueError where Forge Neo skips the whole file."""
    patches, remaining = comfy_load(lora, comfy_key_map(list(base), prefix))
    if not forge_neo_loads(len(remaining), len(lora)):
        raise ValueError(f"Forge Neo skips this LoRA: {len(remaining)} of {len(lora)} keys "
                         "unmatched")
    out = {}
    for key, weight in base.items():
        held = COMFY_PREFIX + key[len(prefix):]
        out[key] = comfy_patched(weight, patches[held], strength) if held in patches else weight
    return out, sorted(remaining)


def unmatched_in_comfy_and_neo(modules: list[str], comfy_unmatched: list[str]
                               ) -> dict[str, list[str]]:
    """`Family.unmatched_per_host` of a family ComfyUI places: Forge Neo places what ComfyUI
    does, and skips the whole file past half of its keys (a module is 3 keys: down, up,
    alpha)."""
    neo = comfy_unmatched if forge_neo_loads(3 * len(comfy_unmatched), 3 * len(modules)) \
        else list(modules)
    return {"Forge Neo": neo, "ComfyUI": comfy_unmatched}
