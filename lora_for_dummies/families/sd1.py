"""Stable Diffusion 1.x (and the NovelAI-lineage anime models built on it)."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.families.base import TextEncoderSpec
from lora_for_dummies.families.stable_diffusion import StableDiffusionFamily
from lora_for_dummies.families.tiny import TINY_TEXT, TINY_VAE

_MARK = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"


class SD1(StableDiffusionFamily):
    def recognises(self, keys: Any) -> bool:
        return _MARK in keys


FAMILY = SD1(
    key="sd1", title="Stable Diffusion 1.x", short_title="SD 1.x",
    text_encoders=(TextEncoderSpec("text_encoder", "cond_stage_model.transformer.", "clip", False,
                                   "lora_te", "clip_l", ("lora_te", "lora_te1")),),
    kohya_unet_style="diffusers", base_model_version="sd_v1",
    modelspec_architecture="stable-diffusion-v1", sd_version="SD1",
    native_resolution=512, metadata_resolution=512, process_resolutions=(768, 512),
    clip_skip_default=(1, "base SD 1.x; use 2 for NovelAI-lineage anime models"),
    gpu_seconds_per_step=0.45, full_size_unet_parameters=860e6, rough_vram_gb=6.0,
    base_vram_gb={512: 6.5, 768: 9.0},
    tiny_overrides={
        # One attention head (diffusers reads `attention_head_dim` as the number of heads): the
        # weights are the same, and at a 64×64 latent each extra head is another 4096² map.
        "unet": dict(block_out_channels=[32, 32, 64], attention_head_dim=1, cross_attention_dim=32,
                     down_block_types=["CrossAttnDownBlock2D"] * 2 + ["DownBlock2D"],
                     up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
                     sample_size=8),
        "vae": TINY_VAE, "text_encoder": TINY_TEXT,
    },
)
