"""How Forge Neo and ComfyUI place and apply a Z-Image LoRA — their rules re-stated (neither can
be imported outside its own program), with the files they were read from.

- Forge Neo (Haoming02/sd-webui-forge-classic, branch neo) `modules_forge/packages/comfy/lora.py`
  (its header: ComfyUI v0.3.77 `comfy/lora.py`, with Neo's model detection) —
  `model_lora_keys_unet`: for every weight `diffusion_model.<native>.weight` of the loaded
  model, `lora_unet_<native, . → _>` and `diffusion_model.<native>` ("generic lora format");
  for a Z-Image / Lumina model (`"z-image" in huggingface_repo`), every diffusers weight of
  `comfy/utils.py` `z_image_to_diffusers` under four names — `diffusion_model.<diffusers>`,
  `transformer.<diffusers>`, `lycoris_<diffusers, . → _>` and `<diffusers>` — each onto its
  native weight, q / k / v as (qkv, (dim 0, offset, dim)) row blocks (`keys.diffusers_map`).
  ComfyUI's own `comfy/lora.py` (its Lumina2 branch, since Z-Image's release) holds the same
  four names.
- The weight: `comfy/weight_adapter/lora.py` `LoRAAdapter.load` reads `<name>.lora_up.weight`
  / `.lora_down.weight`, or diffusers' `<name>.lora_B.weight` / `.lora_A.weight`, with
  `<name>.alpha`; `calculate_weight` narrows the weight to the row block when the key map gives
  one and adds `strength · (alpha / rank) · up @ down` there (no alpha: factor 1), computed in
  fp32 and cast back.
- Forge Neo skips a LoRA whose unmatched keys are more than half of its keys
  (`lora.consumers.forge_neo_loads`).
"""

from __future__ import annotations

from typing import Any

from lora_for_dummies.families.zimage.architecture import ZImageConfig, native_shapes
from lora_for_dummies.families.zimage.keys import LORA_PREFIX, Slice, diffusers_map
from lora_for_dummies.lora.consumers import forge_neo_loads

HELD_AS = "diffusion_model."  # how ComfyUI holds the transformer, whatever the file's prefix
# (up, down) parameter names ComfyUI's LoRAAdapter reads, in the order it tries them
WEIGHT_NAMES = (("lora_up.weight", "lora_down.weight"), ("lora_B.weight", "lora_A.weight"))


def comfy_key_map(config: ZImageConfig) -> dict[str, Slice]:
    """{LoRA module name: the native weight rows it patches} (`model_lora_keys_unet` for a
    Z-Image model); native keys without any file prefix."""
    key_map: dict[str, Slice] = {}
    for key in native_shapes(config):
        if key.endswith(".weight"):
            native = key[: -len(".weight")]
            key_map["lora_unet_" + native.replace(".", "_")] = Slice(key)
            key_map[HELD_AS + native] = Slice(key)
    for diffusers_key, rows in diffusers_map(config).items():
        if not diffusers_key.endswith(".weight"):
            continue
        module = diffusers_key[: -len(".weight")]
        for name in (LORA_PREFIX + module, "transformer." + module,
                     "lycoris_" + module.replace(".", "_"), module):
            key_map[name] = rows
    return key_map


def comfy_load(lora: dict[str, Any], key_map: dict[str, Slice]
               ) -> tuple[list[tuple[Slice, Any, Any, float | None]], dict[str, Any]]:
    """`load_lora`: ([(rows, up, down, alpha)], the LoRA's keys nothing used)."""
    patches, used = [], set()
    for name, rows in key_map.items():
        for up_name, down_name in WEIGHT_NAMES:
            up, down = f"{name}.{up_name}", f"{name}.{down_name}"
            if up in lora and down in lora:
                alpha_key = f"{name}.alpha"
                alpha = float(lora[alpha_key].item()) if alpha_key in lora else None
                used.update({up, down, alpha_key})
                patches.append((rows, lora[up], lora[down], alpha))
                break
    return patches, {k: v for k, v in lora.items() if k not in used}


def comfy_apply(base: dict[str, Any], lora: dict[str, Any], config: ZImageConfig,
                strength: float = 1.0, prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """Forge Neo / ComfyUI loading `lora` onto the native state dict `base` (keys under the
    file's `prefix`): ({key: weight}, the LoRA keys left unmatched). Raises ValueError where
    Forge Neo skips the whole file."""
    import torch

    patches, remaining = comfy_load(lora, comfy_key_map(config))
    if not forge_neo_loads(len(remaining), len(lora)):
        raise ValueError(f"Forge Neo skips this LoRA: {len(remaining)} of {len(lora)} keys "
                         "unmatched")
    out = {k: v.clone() for k, v in base.items()}
    for rows, up, down, alpha in patches:
        weight = out[prefix + rows.key]
        block = weight if rows.rows is None else weight.narrow(0, rows.start, rows.rows)
        scale = alpha / down.shape[0] if alpha is not None else 1.0
        change = torch.mm(up.float().flatten(1), down.float().flatten(1)).reshape(block.shape)
        block.copy_((block.float() + (strength * scale) * change).to(weight.dtype))
    return out, sorted(remaining)


def unmatched(modules: list[str], config: ZImageConfig) -> list[str]:
    """The LoRA modules Forge Neo / ComfyUI cannot place on a Z-Image model of `config`."""
    accepted = comfy_key_map(config)
    return [m for m in modules if m not in accepted]
