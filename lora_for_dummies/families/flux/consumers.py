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

from lora_for_dummies.lora.comfy_unet import (  # the rule itself, shared with Anima
    COMFY_PREFIX,
    comfy_apply,
    comfy_key_map,
    comfy_load,
    comfy_patched,
)

__all__ = ["COMFY_PREFIX", "comfy_apply", "comfy_key_map", "comfy_load", "comfy_patched"]
