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
from lora_for_dummies.checkpoints.families import FAMILIES, bundled_config, component_names
from lora_for_dummies.checkpoints.models import build_model, canonical_text_key
from lora_for_dummies.checkpoints.write import save_checkpoint

_TINY_TEXT = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                  num_hidden_layers=2, projection_dim=32)
# SD's VAE geometry (four blocks: 8× smaller latents), at small widths. With fewer blocks a
# 512 px image would give a 256×256 latent (65 k attention tokens): slower per step than SD 1.5.
_TINY_VAE = dict(block_out_channels=[8, 16, 32, 32], down_block_types=["DownEncoderBlock2D"] * 4,
                 up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=1, norm_num_groups=8,
                 sample_size=64)
TINY_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "sd1": {
        # One attention head (diffusers reads `attention_head_dim` as the number of heads): the
        # weights are the same, and at a 64×64 latent each extra head is another 4096² map.
        "unet": dict(block_out_channels=[32, 32, 64], attention_head_dim=1, cross_attention_dim=32,
                     down_block_types=["CrossAttnDownBlock2D"] * 2 + ["DownBlock2D"],
                     up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
                     sample_size=8),
        "vae": _TINY_VAE, "text_encoder": _TINY_TEXT,
    },
    "sd2": {
        "unet": dict(block_out_channels=[32, 64], attention_head_dim=[2, 4], cross_attention_dim=32,
                     down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                     up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], sample_size=8),
        "vae": _TINY_VAE, "text_encoder": _TINY_TEXT,
    },
    "sdxl": {
        # The two encoders get different widths: with equal widths diffusers' own loader silently
        # puts encoder 1's weights into encoder 2, which would hide mapping mistakes.
        "unet": dict(block_out_channels=[32, 64], attention_head_dim=[2, 4],
                     cross_attention_dim=80, transformer_layers_per_block=[1, 2],
                     addition_time_embed_dim=8, projection_class_embeddings_input_dim=80,
                     sample_size=8),
        "vae": _TINY_VAE, "text_encoder": _TINY_TEXT,
        "text_encoder_2": dict(_TINY_TEXT, hidden_size=48, intermediate_size=53,
                               projection_dim=32),
    },
}
TINY_OVERRIDES["sdxl"]["unet"].update(
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"])


def model_configs(family: str, tiny: bool, inpainting: bool = False) -> dict[str, dict[str, Any]]:
    configs = {}
    for name in component_names(family):
        config = bundled_config(family, name)
        if tiny:
            config.update(copy.deepcopy(TINY_OVERRIDES[family][name]))
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
    if family != "sdxl":
        extras["alphas_cumprod"] = _alphas_cumprod()
    for te in FAMILIES[family].text_encoders:
        hidden = configs[te.name]["hidden_size"]
        if te.layout == "clip":
            extras[te.prefix + "text_model.embeddings.position_ids"] = torch.arange(77)[None]
            continue
        extras[te.prefix + "logit_scale"] = torch.tensor(4.6052)  # CLIP's, kept in the file
        if family != "sd2":  # SDXL's ViT-bigG holds exactly the 32 blocks it uses (0–31)
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
