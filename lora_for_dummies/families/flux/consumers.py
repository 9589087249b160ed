"""How ComfyUI and Forge Neo place and apply a Flux LoRA — their rules re-stated (neither can be
imported outside its own program), each with the file and version it was read from.

- Forge Neo (Haoming02/sd-webui-forge-classic, branch neo): `backend/patcher/lora.py` (commit
  419825e7) imports `load_lora`, `model_lora_keys_unet` from its vendored
  `modules_forge/packages/comfy/lora.py` (commit 0cc5e9ea), whose header names its source:
  ComfyUI v0.3.77 `comfy/lora.py`. `model_lora_keys_unet` maps, for every weight
  `diffusion_model.<k>.weight` of the loaded model, `lora_unet_<k, . → _>` to it (ComfyUI holds
  a Flux transformer under `diffusion_model.` whatever the file's prefix); `unet_to_diffusers`
  adds nothing for Flux (its config has no `num_res_blocks`); for a repo named flux / chroma,
  `comfy.utils.flux_to_diffusers` adds the diffusers-style names (`transformer.<diffusers
  module>`, `lora_transformer_…`) with row offsets into the fused tensors — the map
  `keys.diffusers_map` states (unchanged from ComfyUI 0.3.64, commit a125cd84, to the vendored
  copy).
- The weight: ComfyUI `comfy/weight_adapter/lora.py` `LoRAAdapter.load` takes
  `<name>.lora_up.weight` / `.lora_down.weight` (+ `.alpha`); `calculate_weight` adds
  `strength · (alpha / rank) · up @ down` (alpha absent: factor 1), computed in fp32 and cast to
  the weight's dtype (`merge_lora_to_weight` in Forge Neo's `backend/patcher/lora.py`).
- Forge Neo skips a LoRA whose unmatched keys are more than half of its keys
  (`lora.consumers.forge_neo_loads`, the rule already re-stated for SD).
"""

from __future__ import annotations

from typing import Any

from lora_for_dummies.lora.consumers import forge_neo_loads

COMFY_PREFIX = "diffusion_model."


def comfy_key_map(weight_keys: list[str], prefix: str = "") -> dict[str, str]:
    """`model_lora_keys_unet` for Flux: {LoRA module name: the weight it patches}, the weight
    named as ComfyUI holds it (`diffusion_model.<BFL key>`). `weight_keys` are the file's
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
    """Forge Neo / ComfyUI loading `lora` onto the BFL state dict `base`: ({BFL key: weight},
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
