"""Performance Wizard: settings that fit the GPU, with the reason for each choice.

SDXL, what most people train on, picks one of the 8 / 12 / 16 / 24 GB tiers of `vram_tiers`
(each figure labelled an estimate until bench/gpu_check.sh measures it). SD 1.x / 2.x use the
older table below, also an ESTIMATE from typical LoRA runs (UNet + text encoder, rank ≤ 64,
SDPA attention).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from lora_for_dummies.families import get_family
from lora_for_dummies.train.vram_tiers import tier_for

ESTIMATE_LABEL = "estimate (not yet measured on a GPU)"


@dataclass
class WizardChoice:
    settings: dict[str, object] = field(default_factory=dict)  # "section.key" → value
    reasons: list[str] = field(default_factory=list)
    label: str = ESTIMATE_LABEL


def detect_vram_gb() -> float:
    """Total memory of the first CUDA GPU, or 0 without one."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_properties(0).total_memory / 2**30
    except Exception:  # a broken CUDA install must not break the tab
        pass
    return 0.0


def gpu_name() -> str:
    """The first CUDA GPU's name, or "" without one."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # a broken CUDA install must not break the tab
        pass
    return ""


def bf16_supported() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    except Exception:  # a broken CUDA install must not break the tab
        return False


def eight_bit_adam_available() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def choose_sdxl(vram_gb: float, bf16: bool, eight_bit: bool) -> WizardChoice:
    """SDXL, the main case: one of the tiers of `vram_tiers`, said in one line each."""
    tier = tier_for(vram_gb)
    choice = WizardChoice(settings=tier.settings(bf16), label=f"SDXL {tier.gigabytes} GB tier, "
                          f"{tier.vram_label()}")
    why = choice.reasons
    if vram_gb < 0.9 * tier.gigabytes:
        why.append(f"{vram_gb:.1f} GB is below what SDXL LoRA training needs (8 GB); it may "
                   "run out of memory — lower the resolution to 768 if it does")
    why.append(f"{choice.settings['training.precision']} base weights (5.1 GB for the UNet)"
               + ("" if bf16 else "; bf16 needs an RTX 30xx or newer"))
    why.append("latents cached, so the VAE leaves the GPU before step 1")
    if tier.train_text_encoder:
        why.append("text encoders trained too: better trigger words, +1.6 GB")
    else:
        why.append("text encoders frozen and their outputs cached: they leave the GPU "
                   "(+1.6 GB free); the UNet learns the concept on its own")
    why.append(f"gradient checkpointing {tier.gradient_checkpointing}: "
               + {"full": "recomputes activations, ~1.5 GB per image instead of ~12",
                  "partial": "recomputes the largest blocks only, faster than full",
                  "off": "fastest"}[tier.gradient_checkpointing])
    if tier.optimizer == "adamw8bit" and not eight_bit:
        choice.settings["optimizer.name"] = "adafactor"
        why.append("Adafactor: bitsandbytes (for 8-bit AdamW) is not installed; Adafactor "
                   "keeps optimizer state as small")
    else:
        why.append(f"{tier.optimizer}" + (": optimizer state in a quarter of the memory"
                                          if tier.optimizer == "adamw8bit" else ""))
    why.append(f"batch size {tier.batch_size}, {tier.resolution} px with aspect-ratio buckets")
    return choice


def choose(vram_gb: float, family: str) -> WizardChoice:
    """The family's own choice where it has one (SDXL's tiers), else the table below: the
    family's approximate VRAM (`Family.base_vram_gb`: batch 1, fp16, no checkpointing, AdamW)."""
    spec = get_family(family)
    own = spec.wizard(vram_gb)
    if own is not None:
        return own
    choice = WizardChoice()
    s, why = choice.settings, choice.reasons
    resolution = spec.native_resolution
    if vram_gb <= 0:
        s.update({"training.precision": "fp32", "training.batch_size": 1,
                  "training.resolution": min(resolution, 512),
                  "training.gradient_checkpointing": "partial", "optimizer.name": "adamw",
                  "training.cache_latents": "memory"})
        why.append("no CUDA GPU found: fp32 on the CPU works but is very slow (minutes per "
                   "step at full size) — use it to try the flow, train on a GPU")
        why.append("partial gradient checkpointing: on the CPU it saved 0.5–0.7 GB at "
                   "the same speed (measured, SD1.5 at 512 px)")
        return choice
    need = spec.base_vram_gb.get(resolution, 8.0)
    s["training.precision"] = "bf16" if vram_gb >= 20 else "fp16"
    why.append(f"{s['training.precision']}: halves activation memory; bf16 is steadier where "
               "the GPU supports it (RTX 30xx and newer)")
    s["training.cache_latents"] = "memory"
    why.append("latent caching: the VAE runs once per image instead of every step")
    checkpointing = vram_gb < need * 1.2
    s["training.gradient_checkpointing"] = "full" if checkpointing else "off"
    if checkpointing:
        need *= 0.6
        why.append(f"gradient checkpointing on: {vram_gb:.0f} GB is tight for {family} at "
                   f"{resolution}px (about 30 % slower, much less memory)")
    use_8bit = vram_gb < need * 1.1
    s["optimizer.name"] = "adamw8bit" if use_8bit else "adamw"
    if use_8bit:
        why.append("8-bit AdamW: optimizer state in a quarter of the memory")
    if vram_gb < need * 0.8:
        resolution = max(512, resolution - 256)
        s["network.train_text_encoder"] = False
        why.append(f"resolution lowered to {resolution}px and the text encoder frozen to fit")
    s["training.resolution"] = resolution
    batch = max(1, min(8, int(vram_gb / max(need, 1.0))))
    s["training.batch_size"] = batch
    why.append(f"batch size {batch}: what fits in {vram_gb:.0f} GB with headroom")
    return choice
