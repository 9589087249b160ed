"""The model families a user can hold, where each part lives in a single-file checkpoint, and
the bundled diffusers configs that let us load them without a hub."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TextEncoderSpec:
    name: str  # diffusers component name: text_encoder | text_encoder_2
    prefix: str  # key prefix inside the single-file checkpoint
    layout: str  # "clip" (transformers names) or "openclip"
    with_projection: bool  # CLIPTextModelWithProjection (SDXL encoder 2)
    kohya_prefix: str  # lora_te | lora_te1 | lora_te2


@dataclass(frozen=True)
class Family:
    key: str  # sd1 | sd2 | sdxl
    title: str
    text_encoders: tuple[TextEncoderSpec, ...]
    kohya_unet_style: str  # "diffusers" (SD1/SD2) or "sgm" (SDXL)
    base_model_version: str  # kohya ss_base_model_version (SD2 v-prediction adds "_v")
    modelspec_architecture: str
    default_resolution: int


ASSETS = Path(__file__).resolve().parent.parent / "assets"
UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."

FAMILIES: dict[str, Family] = {
    "sd1": Family("sd1", "Stable Diffusion 1.x",
                  (TextEncoderSpec("text_encoder", "cond_stage_model.transformer.", "clip", False,
                                   "lora_te"),),
                  "diffusers", "sd_v1", "stable-diffusion-v1", 512),
    "sd2": Family("sd2", "Stable Diffusion 2.x",
                  (TextEncoderSpec("text_encoder", "cond_stage_model.model.", "openclip", False,
                                   "lora_te"),),
                  "diffusers", "sd_v2", "stable-diffusion-v2-512", 768),
    "sdxl": Family("sdxl", "Stable Diffusion XL",
                   (TextEncoderSpec("text_encoder", "conditioner.embedders.0.transformer.", "clip",
                                    False, "lora_te1"),
                    TextEncoderSpec("text_encoder_2", "conditioner.embedders.1.model.", "openclip",
                                    True, "lora_te2")),
                   "sgm", "sdxl_base_v1-0", "stable-diffusion-xl-v1-base", 1024),
}


@cache
def _bundled_config(family: str, component: str) -> str:
    return (ASSETS / "configs" / family / f"{component}.json").read_text(encoding="utf-8")


def bundled_config(family: str, component: str) -> dict[str, Any]:
    """A fresh copy of the bundled diffusers/transformers config of one component."""
    return json.loads(_bundled_config(family, component))


def component_names(family: str) -> list[str]:
    return ["unet", "vae"] + [spec.name for spec in FAMILIES[family].text_encoders]
