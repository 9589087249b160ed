"""diffusers' own single-file converter as the independent stand-in for ComfyUI's
`comfy.utils.unet_to_diffusers`, to check the one the core uses (`keymap_unet`)."""

from __future__ import annotations

from pathlib import Path

from lora_for_dummies.checkpoints.reader import CheckpointFile


def diffusers_lora_names(base: Path) -> set[str]:
    """`lora_unet_<diffusers name>` for every UNet weight, named by diffusers' converter."""
    from diffusers.loaders import single_file_utils

    from lora_for_dummies.checkpoints.detect import detect_family
    from lora_for_dummies.checkpoints.models import resolve_configs

    with CheckpointFile(base) as ckpt:
        state = {k: ckpt.get(k) for k in ckpt.keys() if k.startswith("model.diffusion_model.")}
        configs = resolve_configs(ckpt, detect_family(ckpt))
    keys = single_file_utils.convert_ldm_unet_checkpoint(state, configs["unet"])
    return {"lora_unet_" + k[: -len(".weight")].replace(".", "_") for k in keys
            if k.endswith(".weight")}
