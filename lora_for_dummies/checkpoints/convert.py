"""Convert whole single-file checkpoints: LDM/sgm layout ⇄ diffusers components.

`split_checkpoint` reads only the tensors the requested components need, a component at a time,
from a lazy `CheckpointFile`. Everything it does not convert (EMA copies, noise-schedule buffers,
OpenCLIP's unused last layer, `logit_scale`…) is returned as `extras` so that
`join_checkpoint(split_checkpoint(x)) == x` tensor by tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lora_for_dummies.checkpoints.keymap_text import hf_to_openclip, openclip_to_hf
from lora_for_dummies.checkpoints.keymap_unet import unet_key_map
from lora_for_dummies.checkpoints.keymap_vae import needs_conv_shape, vae_key_map
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.families import UNET_PREFIX, VAE_PREFIX, TextEncoderSpec, get_family


@dataclass
class SplitCheckpoint:
    family: str
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


def ema_key(ldm_key: str) -> str:
    """The EMA copy of a UNet weight: `model.diffusion_model.a.b` → `model_ema.diffusion_modelab`.
    """
    return "model_ema." + ldm_key[len("model."):].replace(".", "")


def _text_keys(keys: Iterable[str]) -> list[str]:
    return [k for k in keys if not k.endswith("position_ids")]


def split_checkpoint(ckpt: CheckpointFile, family: str, configs: dict[str, dict[str, Any]],
                     model_keys: dict[str, list[str]], use_ema: bool = False,
                     keep_extras: bool = True) -> SplitCheckpoint:
    """Convert the components named in `model_keys` ({component: diffusers keys}) to diffusers.

    With `use_ema` the UNet is read from the EMA copy (`model_ema.*`). Missing weights raise
    KeyError naming the first few; the caller turns that into a message about the file.
    """
    result = SplitCheckpoint(family)
    used: set[str] = set()

    def take(mapping: dict[str, str], transform: Callable[[str, Any], Any] | None = None
             ) -> dict[str, Any]:
        missing = [ldm for ldm in mapping.values() if ldm not in ckpt]
        if missing:
            raise KeyError(f"{len(missing)} weights missing, e.g. {missing[0]}")
        read = ckpt.get_many(list(mapping.values()))
        used.update(read)
        return {key: transform(key, read[ldm]) if transform else read[ldm]
                for key, ldm in mapping.items()}

    if "unet" in model_keys:
        mapping = unet_key_map(model_keys["unet"], configs["unet"])
        if use_ema:
            mapping = {k: ema_key(v) for k, v in mapping.items()}
        result.components["unet"] = take(mapping)
    if "vae" in model_keys:
        mapping = vae_key_map(model_keys["vae"], configs["vae"])
        result.components["vae"] = take(mapping, lambda k, t: t.flatten(1) if needs_conv_shape(k)
                                        and t.dim() == 4 else t)
    for spec in get_family(family).text_encoders:
        if spec.name in model_keys:
            result.components[spec.name] = _split_text(ckpt, spec, configs[spec.name],
                                                       _text_keys(model_keys[spec.name]), used)
    if keep_extras:
        result.extras = {k: ckpt.get(k) for k in ckpt.keys() if k not in used}
    return result


def _split_text(ckpt: CheckpointFile, spec: TextEncoderSpec, config: dict[str, Any],
                keys: list[str], used: set[str]) -> dict[str, Any]:
    if spec.layout == "clip":
        missing = [k for k in keys if spec.prefix + k not in ckpt]
        if missing:
            raise KeyError(f"{len(missing)} text encoder weights missing, "
                           f"e.g. {spec.prefix}{missing[0]}")
        used.update(spec.prefix + k for k in keys)
        return {k: ckpt.get(spec.prefix + k) for k in keys}
    raw = {k[len(spec.prefix):]: ckpt.get(k) for k in ckpt.keys() if k.startswith(spec.prefix)}
    converted, consumed = openclip_to_hf(raw, config["num_hidden_layers"], spec.with_projection)
    missing = [k for k in keys if k not in converted]
    if missing:
        raise KeyError(f"{len(missing)} text encoder weights missing, e.g. {missing[0]}")
    used.update(spec.prefix + k for k in consumed)
    return {k: converted[k] for k in keys}


def join_checkpoint(split: SplitCheckpoint, configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Write diffusers components back to one LDM/sgm-layout state dict (plus the extras)."""
    out: dict[str, Any] = {}
    components = split.components
    if "unet" in components:
        for key, ldm in unet_key_map(list(components["unet"]), configs["unet"]).items():
            out[ldm] = components["unet"][key]
    if "vae" in components:
        for key, ldm in vae_key_map(list(components["vae"]), configs["vae"]).items():
            tensor = components["vae"][key]
            out[ldm] = tensor[:, :, None, None] if needs_conv_shape(key) and tensor.dim() == 2 \
                else tensor
    for spec in get_family(split.family).text_encoders:
        if spec.name not in components:
            continue
        tensors = {k: v for k, v in components[spec.name].items() if not k.endswith("position_ids")}
        if spec.layout == "openclip":
            tensors = hf_to_openclip(tensors)
        out.update({spec.prefix + k: v for k, v in tensors.items()})
    out.update(split.extras)
    return out


__all__ = ["SplitCheckpoint", "ema_key", "join_checkpoint", "split_checkpoint",
           "UNET_PREFIX", "VAE_PREFIX"]
