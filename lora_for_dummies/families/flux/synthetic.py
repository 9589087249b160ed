"""Random-weight Flux files laid out exactly like real ones: the transformer with BFL's names
and shapes (`architecture.transformer_shapes`), optionally under `model.diffusion_model.`, in
fp8 storage, schnell (no `guidance_in`) or Chroma; the separate CLIP-L, T5 and 16-channel VAE
files; and a fine-tuned pair (a base and a copy with a known low-rank change) for extraction.

Used by the tests and the tiny demo; nothing here is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lora_for_dummies.families.flux.architecture import (
    FluxConfig,
    transformer_shapes,
    variant_config,
)

FP8 = "fp8"  # the `dtype` that stores each 2-D weight as float8_e4m3fn (the rest bf16)


def random_transformer(config: FluxConfig, seed: int = 0) -> dict[str, Any]:
    """{BFL key: fp32 tensor}: weights ~ N(0, 1/fan_in) (the model's outputs stay finite
    through every block), biases small, RMSNorm scales near 1."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in transformer_shapes(config).items():
        if key.endswith(".scale"):
            tensor = 1 + 0.05 * torch.randn(shape, generator=generator)
        elif len(shape) == 1:
            tensor = 0.02 * torch.randn(shape, generator=generator)
        else:
            tensor = torch.randn(shape, generator=generator) / shape[1] ** 0.5
        state[key] = tensor
    return state


def _stored(state: dict[str, Any], dtype: Any) -> dict[str, Any]:
    import torch

    if dtype is None:
        return state
    if dtype == FP8:
        return {k: v.to(torch.float8_e4m3fn if v.dim() == 2 else torch.bfloat16)
                for k, v in state.items()}
    return {k: v.to(dtype) for k, v in state.items()}


def save_transformer(state: dict[str, Any], path: str | Path, prefix: str = "",
                     dtype: Any = None, metadata: dict[str, str] | None = None) -> Path:
    """Write a BFL-layout state dict (fp32) as `.safetensors`, under `prefix`, stored in
    `dtype` (a torch dtype, FP8, or None: as given)."""
    from lora_for_dummies.checkpoints.write import save_state_dict

    stored = _stored({prefix + k: v for k, v in state.items()}, dtype)
    return save_state_dict(stored, path, metadata or {})


def write_flux_transformer(path: str | Path, variant: str = "dev", tiny: bool = True,
                           seed: int = 0, prefix: str = "", dtype: Any = None) -> Path:
    """A random Flux / Chroma transformer file (tiny: about 0.5 M parameters)."""
    config = variant_config(variant, tiny)
    return save_transformer(random_transformer(config, seed), path, prefix, dtype)


def write_tuned_pair(folder: str | Path, variant: str = "dev", seed: int = 0, rank: int = 4,
                     scale: float = 0.05, tuned_prefix: str = "", dtype: Any = None
                     ) -> tuple[Path, Path, dict[str, Any]]:
    """`base.safetensors` and `tuned.safetensors` (base + a rank-`rank` change in every layer of
    kohya's default target set, nothing else changed). Returns (base, tuned, {kohya name:
    the change in fp32}). With `dtype` the change is what the stored files differ by."""
    from lora_for_dummies.families.flux.keys import flux_targets

    folder = Path(folder)
    config = variant_config(variant, tiny=True)
    base = random_transformer(config, seed)
    tuned, changes = _changed(base, config, rank, scale, seed + 1)
    base_path = save_transformer(base, folder / "base.safetensors", dtype=dtype)
    tuned_path = save_transformer(tuned, folder / "tuned.safetensors", tuned_prefix, dtype)
    if dtype is not None:  # what the stored files differ by, rounding included
        stored_base, stored_tuned = _stored(base, dtype), _stored(tuned, dtype)
        changes = {t.name: stored_tuned[t.key].float() - stored_base[t.key].float()
                   for t in flux_targets(config)}
    return base_path, tuned_path, changes


def write_finetune(base: str | Path, tuned: str | Path, rank: int = 4, scale: float = 0.05,
                   seed: int = 1) -> Path:
    """A fine-tune of the Flux transformer file `base` (BFL names, no prefix): the same
    weights plus a rank-`rank` change in each of kohya's default targets — the demo's pair."""
    from safetensors.torch import load_file

    from lora_for_dummies.families.flux.layout import recognise_flux

    config = recognise_flux(base).config
    state = {k: v.float() for k, v in load_file(str(base)).items()}
    changed, _ = _changed(state, config, rank, scale, seed)
    return save_transformer(changed, tuned)


def _changed(base: dict[str, Any], config: FluxConfig, rank: int, scale: float, seed: int
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(base + a low-rank change in every default target, {kohya name: the change})."""
    import torch

    from lora_for_dummies.checkpoints.synthetic_change import low_rank_change
    from lora_for_dummies.families.flux.keys import flux_targets

    tuned = dict(base)
    generator = torch.Generator().manual_seed(seed)
    changes = {}
    for target in flux_targets(config):
        weight = base[target.key]
        change = low_rank_change(weight.shape, rank, scale * float(weight.norm()), generator)
        tuned[target.key] = weight + change
        changes[target.name] = change
    return tuned, changes


# -- the separate parts ---------------------------------------------------------------------------

_CLIP = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
             vocab_size=1000, projection_dim=32)
_T5 = dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, vocab_size=1000,
           feed_forward_proj="gated-gelu")
_VAE = dict(block_out_channels=[8, 16, 32, 32], down_block_types=["DownEncoderBlock2D"] * 4,
            up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=2, norm_num_groups=8,
            use_quant_conv=False, use_post_quant_conv=False)


def _with_config(component: str, config: dict[str, Any]) -> dict[str, str]:
    """The file's own config (`parts.CONFIGS_KEY`), which Flux's parts loader reads first."""
    import json

    from lora_for_dummies.families.flux.parts import CONFIGS_KEY

    return {CONFIGS_KEY: json.dumps({component: config})}


def write_clip_l(path: str | Path, seed: int = 0, config: dict[str, Any] | None = None) -> Path:
    """A tiny CLIP text model with the names of `clip_l.safetensors` (`text_model.…`)."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    from lora_for_dummies.checkpoints.models import canonical_text_key
    from lora_for_dummies.checkpoints.write import save_state_dict

    config = dict(config or _CLIP)
    torch.manual_seed(seed)
    model = CLIPTextModel(CLIPTextConfig(**config))
    state = {canonical_text_key(k): v for k, v in model.state_dict().items()
             if not k.endswith("position_ids")}
    return save_state_dict(state, path, _with_config(
        "text_encoder", dict(config, architectures=["CLIPTextModel"])))


def write_t5(path: str | Path, seed: int = 0, dtype: Any = None,
             config: dict[str, Any] | None = None) -> Path:
    """A tiny T5 encoder with the names of `t5xxl_fp16.safetensors` (`encoder.block.N…`,
    `shared.weight`); `dtype` FP8 stores it as `t5xxl_fp8_e4m3fn` does."""
    import torch
    from transformers import T5Config, T5EncoderModel

    from lora_for_dummies.checkpoints.write import save_state_dict

    config = dict(config or _T5)
    torch.manual_seed(seed)
    model = T5EncoderModel(T5Config(**config))
    state = {k: v for k, v in model.state_dict().items() if k != "encoder.embed_tokens.weight"}
    return save_state_dict(_stored(state, dtype), path, _with_config(
        "text_encoder_2", dict(config, architectures=["T5EncoderModel"])))


def write_flux_vae(path: str | Path, seed: int = 0, latent_channels: int = 16,
                   config: dict[str, Any] | None = None) -> Path:
    """A tiny VAE in the layout of BFL's `ae.safetensors` (LDM names, no quant convs, 16
    latent channels): diffusers' AutoencoderKL, renamed by the project's VAE key map."""
    import torch
    from diffusers import AutoencoderKL

    from lora_for_dummies.checkpoints.keymap_vae import needs_conv_shape, vae_module_to_ldm
    from lora_for_dummies.checkpoints.write import save_state_dict

    config = dict(config or dict(_VAE, latent_channels=latent_channels))
    torch.manual_seed(seed)
    model = AutoencoderKL(**config)
    state = {}
    for key, value in model.state_dict().items():
        state[vae_module_to_ldm(key, config)] = value[..., None, None] \
            if needs_conv_shape(key) else value
    return save_state_dict(state, path, _with_config(
        "vae", dict(config, _class_name="AutoencoderKL")))
