"""How the LoRA loaders people use find the layer each LoRA module patches — their key rules,
re-stated here (none of them can be imported outside its own program), each with the file and
commit it was read from. Applied to a base checkpoint's own key names (the LDM / sgm layout of
the file, read from its header), they tell which of a LoRA's modules that loader cannot place.
The self-check after training reports them as "loads in: A1111 ✓ Forge ✓ Forge Neo ✓ ComfyUI ✓".

- A1111 1.10, `extensions-builtin/Lora/networks.py` (kklouzal/stable-diffusion-webui, commit
  08ab02f4): `convert_diffusers_name_to_compvis`, `assign_network_names_to_compvis_modules`
  and the fallbacks in `load_network` (`_[qkv]_proj` → the fused attention, `lora_unet` →
  `diffusion_model`, `lora_te1_text_model` → `0_transformer_text_model`).
- ComfyUI, `comfy/lora.py` (Comfy-Org/ComfyUI, commit 17358c8f): `model_lora_keys_unet` (sgm /
  LDM names directly, diffusers names through `comfy.utils.unet_to_diffusers`) and
  `model_lora_keys_clip` (`LORA_CLIP_MAP` on transformers-layout CLIP layers 0–31).
- Forge Neo: `backend/patcher/lora.py` (Haoming02/sd-webui-forge-classic, branch neo, commit
  419825e7) imports those two functions from its vendored ComfyUI; on top,
  `extensions-builtin/sd_forge_lora/networks.py` (commit 19cc8799) skips a LoRA whose unmatched
  keys are more than half of all, and drops one whose skipped UNet or CLIP keys pass a quarter.
- Forge: `backend/patcher/lora.py` (lllyasviel/stable-diffusion-webui-forge, commit 00f1cd36)
  takes `model_lora_keys_unet` / `_clip` from its copy of ComfyUI's (`packages_3rdparty/
  comfyui_lora_collection`); `extensions-builtin/sd_forge_lora/networks.py` (commit b6cfd7fc)
  `load_lora_for_models` skips a LoRA with more than 12 unmatched keys ("LoRA version mismatch").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.families import get_family

LORA_CLIP_MAP = {"mlp.fc1": "mlp_fc1", "mlp.fc2": "mlp_fc2",
                 "self_attn.k_proj": "self_attn_k_proj", "self_attn.q_proj": "self_attn_q_proj",
                 "self_attn.v_proj": "self_attn_v_proj",
                 "self_attn.out_proj": "self_attn_out_proj"}


def checkpoint_modules(base: Path) -> set[str]:
    """Module names of a single-file checkpoint: its keys without the parameter name
    (`….weight`; OpenCLIP's fused attention `….attn` from `attn.in_proj_weight`)."""
    with CheckpointFile(base) as ckpt:
        keys = ckpt.keys()
    modules = set()
    for key in keys:
        for suffix in (".in_proj_weight", ".weight"):
            if key.endswith(suffix):
                modules.add(key[: -len(suffix)])
                break
    return modules


# -- A1111 1.10 --------------------------------------------------------------------------------

_SUFFIXES = {"resnets": {"conv1": "in_layers_2", "conv2": "out_layers_3", "norm1": "in_layers_0",
                         "norm2": "out_layers_0", "time_emb_proj": "emb_layers_1",
                         "conv_shortcut": "skip_connection"}}


def _openclip_suffix(rest: str) -> str:
    if "mlp_fc1" in rest:
        return rest.replace("mlp_fc1", "mlp_c_fc")
    if "mlp_fc2" in rest:
        return rest.replace("mlp_fc2", "mlp_c_proj")
    return rest.replace("self_attn", "attn")


def a1111_compvis_name(key: str, is_sd2: bool) -> str:
    """`convert_diffusers_name_to_compvis`."""
    rules: list[tuple[str, object]] = [
        (r"lora_unet_conv_in(.*)", lambda m: f"diffusion_model_input_blocks_0_0{m[0]}"),
        (r"lora_unet_conv_out(.*)", lambda m: f"diffusion_model_out_2{m[0]}"),
        (r"lora_unet_time_embedding_linear_(\d+)(.*)",
         lambda m: f"diffusion_model_time_embed_{int(m[0]) * 2 - 2}{m[1]}"),
        (r"lora_unet_down_blocks_(\d+)_(attentions|resnets)_(\d+)_(.+)",
         lambda m: f"diffusion_model_input_blocks_{1 + int(m[0]) * 3 + int(m[2])}_"
                   f"{1 if m[1] == 'attentions' else 0}_{_SUFFIXES.get(m[1], {}).get(m[3], m[3])}"),
        (r"lora_unet_mid_block_(attentions|resnets)_(\d+)_(.+)",
         lambda m: f"diffusion_model_middle_block_{1 if m[0] == 'attentions' else int(m[1]) * 2}"
                   f"_{_SUFFIXES.get(m[0], {}).get(m[2], m[2])}"),
        (r"lora_unet_up_blocks_(\d+)_(attentions|resnets)_(\d+)_(.+)",
         lambda m: f"diffusion_model_output_blocks_{int(m[0]) * 3 + int(m[2])}_"
                   f"{1 if m[1] == 'attentions' else 0}_{_SUFFIXES.get(m[1], {}).get(m[3], m[3])}"),
        (r"lora_unet_down_blocks_(\d+)_downsamplers_0_conv",
         lambda m: f"diffusion_model_input_blocks_{3 + int(m[0]) * 3}_0_op"),
        (r"lora_unet_up_blocks_(\d+)_upsamplers_0_conv",
         lambda m: f"diffusion_model_output_blocks_{2 + int(m[0]) * 3}_"
                   f"{2 if int(m[0]) > 0 else 1}_conv"),
        (r"lora_te_text_model_encoder_layers_(\d+)_(.+)",
         lambda m: f"model_transformer_resblocks_{m[0]}_{_openclip_suffix(m[1])}" if is_sd2
         else f"transformer_text_model_encoder_layers_{m[0]}_{m[1]}"),
        (r"lora_te2_text_model_encoder_layers_(\d+)_(.+)",
         lambda m: f"1_model_transformer_resblocks_{m[0]}_{_openclip_suffix(m[1])}"),
    ]
    for pattern, build in rules:
        match = re.match(pattern, key)
        if match:
            return build(match.groups())  # type: ignore[operator]
    return key


def a1111_layer_names(family: str, modules: set[str]) -> set[str]:
    """`assign_network_names_to_compvis_modules`: the UNet's modules under `sd_model.model`,
    the text encoders' under each embedder's `wrapped` (SDXL: numbered `0_`, `1_`)."""
    names = set()
    for module in modules:
        if module.startswith("model.diffusion_model."):
            names.add(module[len("model."):].replace(".", "_"))
        elif module.startswith("conditioner.embedders."):  # SDXL's two: numbered
            index, rest = module[len("conditioner.embedders."):].split(".", 1)
            names.add(f"{index}_{rest.replace('.', '_')}")
        elif module.startswith("cond_stage_model."):
            names.add(module[len("cond_stage_model."):].replace(".", "_"))
    return names


def a1111_unmatched(lora_modules: list[str], family: str, base_modules: set[str]) -> list[str]:
    """`load_network`'s matching, module by module; returns the ones it cannot place."""
    mapping = a1111_layer_names(family, base_modules)
    is_sd2 = any(n.startswith("model_transformer_resblocks") for n in mapping)
    missing = []
    for name in lora_modules:
        key = a1111_compvis_name(name, is_sd2)
        found = key in mapping
        if not found and (m := re.match(r"(.*)_([qkv]_proj)$", key)):
            found = m.group(1) in mapping
        if not found and "lora_unet" in name:
            found = name.replace("lora_unet", "diffusion_model") in mapping
        elif not found and "lora_te1_text_model" in name:
            found = name.replace("lora_te1_text_model", "0_transformer_text_model") in mapping \
                or name.replace("lora_te1_text_model", "transformer_text_model") in mapping
        if not found:
            missing.append(name)
    return missing


# -- ComfyUI and Forge Neo ----------------------------------------------------------------------

_UNET = "model.diffusion_model."

def comfy_accepted(family: str, base_modules: set[str], unet_config: dict[str, Any]
                   ) -> set[str]:
    """The LoRA names `model_lora_keys_unet` + `model_lora_keys_clip` accept for this base.

    `comfy.utils.unet_to_diffusers` (the LDM ⇄ diffusers naming) is stood in by
    `keymap_unet.unet_ldm_to_module`, which a test checks against diffusers' own converter."""
    from lora_for_dummies.checkpoints.keymap_unet import unet_ldm_to_module

    unet = [m[len(_UNET):] for m in base_modules if m.startswith(_UNET)]
    accepted = {"lora_unet_" + m.replace(".", "_") for m in unet}
    for module in unet:
        try:
            accepted.add("lora_unet_" + unet_ldm_to_module(module, unet_config).replace(".", "_"))
        except KeyError:  # a module diffusers has no name for (ComfyUI maps none either)
            continue
    # ComfyUI holds every CLIP (clip_l / clip_h / clip_g) in the transformers layout (OpenCLIP
    # files converted on load, all their blocks kept): layer `b` exists where the file has it.
    for encoder in get_family(family).text_encoders:
        for layer in range(32):
            if not any(m.startswith(f"{encoder.layers_prefix}{layer}.") for m in base_modules):
                continue
            for short in LORA_CLIP_MAP.values():
                accepted |= {f"{p}_text_model_encoder_layers_{layer}_{short}"
                             for p in encoder.comfy_prefixes}
    return accepted


def forge_neo_loads(unmatched: int, total_keys: int) -> bool:
    """`load_lora_for_models`: a LoRA with more than half of its keys unmatched is skipped."""
    return unmatched / total_keys <= 0.5


def forge_loads(unmatched: int) -> bool:
    """Forge's `load_lora_for_models`: more than 12 unmatched keys skip the whole LoRA."""
    return unmatched <= 12


def unmatched_per_host(lora_modules: list[str], family: str, base: Path,
                       unet_config: dict[str, Any]) -> dict[str, list[str]]:
    """{host: the LoRA modules its loader cannot place} for A1111, Forge, Forge Neo and
    ComfyUI (Forge and Forge Neo place what ComfyUI does; each then skips the whole file past
    its own limit). A module is three keys (down, up, alpha)."""
    base_modules = checkpoint_modules(base)
    accepted = comfy_accepted(family, base_modules, unet_config)
    comfy = [m for m in lora_modules if m not in accepted]
    neo = comfy if forge_neo_loads(3 * len(comfy), 3 * len(lora_modules)) else list(lora_modules)
    forge = comfy if forge_loads(3 * len(comfy)) else list(lora_modules)
    return {"A1111": a1111_unmatched(lora_modules, family, base_modules), "Forge": forge,
            "Forge Neo": neo, "ComfyUI": comfy}
