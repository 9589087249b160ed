"""Random-weight models written as real single-file checkpoints.

Used by the tests (tiny models, built from config as diffusers' own tests do), by the benchmarks
(full-size SD1.5 / SDXL architectures) and by the demo workspace. The files are laid out exactly
like real ones: original key names, OpenCLIP's fused q/k/v, SD2's unused last text layer,
`logit_scale`, position ids, the noise schedule, optional EMA copy, optional inpainting input.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from lora_for_dummies.checkpoints.convert import SplitCheckpoint, ema_key
from lora_for_dummies.checkpoints.models import build_model, canonical_text_key
from lora_for_dummies.checkpoints.write import save_checkpoint
from lora_for_dummies.families import bundled_config, component_names, get_family


def model_configs(family: str, tiny: bool, inpainting: bool = False) -> dict[str, dict[str, Any]]:
    configs = {}
    for name in component_names(family):
        config = bundled_config(family, name)
        if tiny:
            config.update(copy.deepcopy(get_family(family).tiny_overrides[name]))
        configs[name] = config
    if inpainting:
        configs["unet"]["in_channels"] = 9
    return configs


def _alphas_cumprod() -> Any:
    import torch

    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, dim=0).float()


def random_split(family: str, configs: dict[str, dict[str, Any]], seed: int = 0,
                 ema: bool = False, vae: bool = True) -> SplitCheckpoint:
    """Random diffusers weights for every component plus the extras a real file carries."""
    import torch

    from lora_for_dummies.checkpoints.keymap_unet import unet_key_map

    torch.manual_seed(seed)
    split = SplitCheckpoint(family)
    for name in component_names(family):
        if name == "vae" and not vae:
            continue
        model = build_model(name, configs[name])
        state = model.state_dict()
        if name.startswith("text_encoder"):
            state = {canonical_text_key(k): v for k, v in state.items()
                     if not k.endswith("position_ids")}
        split.components[name] = state
        del model
    extras: dict[str, Any] = {}
    if get_family(family).stores_alphas_cumprod:
        extras["alphas_cumprod"] = _alphas_cumprod()
    for te in get_family(family).text_encoders:
        hidden = configs[te.name]["hidden_size"]
        if te.layout == "clip":
            extras[te.prefix + "text_model.embeddings.position_ids"] = torch.arange(77)[None]
            continue
        extras[te.prefix + "logit_scale"] = torch.tensor(4.6052)  # CLIP's, kept in the file
        if not te.unused_last_block:  # SDXL's ViT-bigG holds exactly the 32 it uses (0–31)
            continue
        # SD2's ViT-H file holds 24 blocks of which the last is unused (diffusers builds 23).
        last = configs[te.name]["num_hidden_layers"]
        width = configs[te.name]["intermediate_size"]
        for part, shape in {"ln_1.weight": (hidden,), "ln_1.bias": (hidden,),
                            "attn.in_proj_weight": (3 * hidden, hidden),
                            "attn.in_proj_bias": (3 * hidden,),
                            "attn.out_proj.weight": (hidden, hidden),
                            "attn.out_proj.bias": (hidden,),
                            "ln_2.weight": (hidden,), "ln_2.bias": (hidden,),
                            "mlp.c_fc.weight": (width, hidden), "mlp.c_fc.bias": (width,),
                            "mlp.c_proj.weight": (hidden, width), "mlp.c_proj.bias": (hidden,)
                            }.items():
            extras[f"{te.prefix}transformer.resblocks.{last}.{part}"] = torch.randn(shape) * 0.02
        if not te.with_projection:
            extras[te.prefix + "text_projection"] = torch.randn(
                hidden, configs[te.name]["projection_dim"]) * 0.02
    if ema:
        mapping = unet_key_map(list(split.components["unet"]), configs["unet"])
        for key, ldm in mapping.items():
            extras[ema_key(ldm)] = split.components["unet"][key].clone()
        extras["model_ema.decay"] = torch.tensor(0.9999)
        extras["model_ema.num_updates"] = torch.tensor(1000, dtype=torch.int32)
    split.extras = extras
    return split


def write_random_checkpoint(path: str | Path, family: str, tiny: bool = True, seed: int = 0,
                            dtype: Any = None, ema: bool = False, vae: bool = True,
                            inpainting: bool = False, prediction: str | None = None,
                            markers: tuple[str, ...] = ()) -> Path:
    """Write a random model of `family` as a single-file checkpoint (`.safetensors` or `.ckpt`).

    `markers`: empty marker tensors such as `v_pred` and `ztsnr`, which v-prediction SDXL
    files like NoobAI-XL V-Pred carry for A1111 dev, Forge Neo and ComfyUI."""
    import torch

    configs = model_configs(family, tiny, inpainting)
    split = random_split(family, configs, seed, ema=ema, vae=vae)
    split.extras.update({marker: torch.zeros(0) for marker in markers})
    metadata = {"modelspec.prediction_type": prediction} if prediction else {}
    return save_checkpoint(split, configs, path, dtype=dtype, embed_configs=tiny,
                           metadata=metadata)
