"""diffusers' own LoRA loader as an outside check (sets where diffusers has its PEFT backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Pipeline parts that take LoRA modules, and the prefix our kohya names give their modules.
PARTS = {"unet": ("lora_unet_",), "text_encoder": ("lora_te1_", "lora_te_"),
         "text_encoder_2": ("lora_te2_",)}


def pipeline(loaded: Any) -> Any:
    """An SD1 or SDXL pipeline on our loaded models (tokenizers and scheduler bundled, so nothing
    is fetched)."""
    from diffusers import EulerDiscreteScheduler

    from lora_for_dummies.families import bundled_config
    from lora_for_dummies.tokenizer import clip_tokenizer

    models = loaded.models
    if loaded.family == "sdxl":
        from diffusers import StableDiffusionXLPipeline

        # The second encoder pads with "!" (as SDXL's own tokenizer_2 does); add_watermarker=False
        # so the pipeline never reaches for the optional invisible-watermark package.
        return StableDiffusionXLPipeline(
            vae=models["vae"], text_encoder=models["text_encoder"],
            text_encoder_2=models["text_encoder_2"], tokenizer=clip_tokenizer(),
            tokenizer_2=clip_tokenizer("!"), unet=models["unet"],
            scheduler=EulerDiscreteScheduler.from_config(bundled_config("sdxl", "scheduler")),
            add_watermarker=False)
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(
        unet=models["unet"], vae=models["vae"], text_encoder=models["text_encoder"],
        tokenizer=clip_tokenizer(),
        scheduler=EulerDiscreteScheduler.from_config(bundled_config(loaded.family, "scheduler")),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def adapted_per_part(pipe: Any) -> dict[str, int]:
    """How many modules peft wrapped with a LoRA in each part of `pipe` (0 for a part it lacks)."""
    counts = {}
    for part in PARTS:
        model = getattr(pipe, part, None)
        counts[part] = 0 if model is None else sum(
            name.endswith(".lora_A") for name, _ in model.named_modules())
    return counts


def modules_per_part(names: list[str]) -> dict[str, int]:
    """How many of our kohya module names belong to each pipeline part."""
    return {part: sum(n.startswith(prefixes) for n in names) for part, prefixes in PARTS.items()}


def load_with_diffusers(loaded: Any, lora: Path) -> tuple[Any, int]:
    """A pipeline (SD1 or SDXL) on our loaded models with `lora` loaded by diffusers; returns
    the pipeline and the number of modules diffusers adapted."""
    pipe = pipeline(loaded)
    pipe.load_lora_weights(str(lora.parent), weight_name=lora.name)
    return pipe, sum(adapted_per_part(pipe).values())
