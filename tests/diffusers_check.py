"""diffusers' own LoRA loader as an outside check (sets where diffusers has its PEFT backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_with_diffusers(loaded: Any, lora: Path) -> tuple[Any, int]:
    """An SD1 pipeline on our loaded models with `lora` loaded by diffusers; returns the
    pipeline and the number of modules diffusers adapted."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    from lora_for_dummies.checkpoints.families import bundled_config
    from lora_for_dummies.tokenizer import clip_tokenizer

    pipe = StableDiffusionPipeline(
        unet=loaded.models["unet"], vae=loaded.models["vae"],
        text_encoder=loaded.models["text_encoder"], tokenizer=clip_tokenizer(),
        scheduler=EulerDiscreteScheduler.from_config(bundled_config("sd1", "scheduler")),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.load_lora_weights(str(lora.parent), weight_name=lora.name)
    adapted = [n for n, _ in pipe.unet.named_modules() if n.endswith(".lora_A")] + [
        n for n, _ in pipe.text_encoder.named_modules() if n.endswith(".lora_A")]
    return pipe, len(adapted)
