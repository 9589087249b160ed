"""Stable Diffusion 2.x: OpenCLIP ViT-H, 512 px ε or 768 px v-prediction models."""

from __future__ import annotations

from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.families.base import TextEncoderSpec
from lora_for_dummies.families.stable_diffusion import StableDiffusionFamily
from lora_for_dummies.families.tiny import TINY_TEXT, TINY_VAE

_MARK = "cond_stage_model.model.ln_final.weight"
SD2_GONE = msg.SD2_ON_FORGE_NEO.text


class SD2(StableDiffusionFamily):
    def recognises(self, keys: Any) -> bool:
        return _MARK in keys

    def default_prediction(self) -> tuple[str, str]:
        return "unknown", ("SD 2.x 768 models use v-prediction, 512 base models do not; set it "
                           "before training")

    def variant(self, prediction: str, inpainting: bool, zero_terminal_snr: bool) -> str:
        size = {"v": "768 v-prediction", "epsilon": "512 (epsilon)"}.get(
            prediction, "(prediction unknown)")
        parts = [self.short_title, size] + (["zero terminal SNR"] if zero_terminal_snr else []) \
            + (["inpainting"] if inpainting else [])
        return " ".join(parts)

    # kohya writes the 768 v-prediction models apart: "sd_v2_v", "…-v2-768-v", 768 px.
    def lora_base_model_version(self, v_prediction: bool) -> str:
        return self.base_model_version + ("_v" if v_prediction else "")

    def lora_architecture(self, v_prediction: bool) -> str:
        return "stable-diffusion-v2-768-v" if v_prediction else self.modelspec_architecture

    def lora_resolution(self, v_prediction: bool) -> int:
        return 768 if v_prediction else self.metadata_resolution

    def is_v2(self) -> bool:
        return True

    def unavailable_on(self, host_kind: str) -> str:
        return SD2_GONE if host_kind == "forge_neo" else ""


FAMILY = SD2(
    key="sd2", title="Stable Diffusion 2.x", short_title="SD 2.x",
    text_encoders=(TextEncoderSpec("text_encoder", "cond_stage_model.model.", "openclip", False,
                                   "lora_te", "clip_h", ("lora_te", "lora_te1"),
                                   unused_last_block=True),),
    kohya_unet_style="diffusers", base_model_version="sd_v2",
    modelspec_architecture="stable-diffusion-v2-512", sd_version="SD2",
    native_resolution=768, metadata_resolution=512, process_resolutions=(768, 512),
    train_defaults={"training.resolution": 768, "samples.width": 768, "samples.height": 768},
    gpu_seconds_per_step=0.6, full_size_unet_parameters=865e6, rough_vram_gb=7.5,
    base_vram_gb={768: 10.0},
    tiny_overrides={
        "unet": dict(block_out_channels=[32, 64], attention_head_dim=[2, 4], cross_attention_dim=32,
                     down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                     up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], sample_size=8),
        "vae": TINY_VAE, "text_encoder": TINY_TEXT,
    },
)
