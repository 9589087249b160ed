"""Z-Image on 12, 16 and 24 GB cards: what each tier chooses and the VRAM it should take.

ESTIMATES from the rule below until `bench/gpu_check.sh` measures them on a GPU:

  weights   the transformer, 6.15 B parameters: 12.3 GB in bf16, 6.2 GB in fp8
            (`model.fp8_base`, musubi-tuner's --fp8_base); Qwen3-4B and the VAE leave the GPU
            once captions and latents are cached (`residency`)
  LoRA      rank 16 on the main layers' attention and feed-forward ≈ 0.3 GB with its gradients
            and optimizer state
  activations per image, full gradient checkpointing: about 3.0 GB at 1024 px, 1.7 GB at 768,
            0.8 GB at 512 (4096, 2304, 1024 image tokens, plus the caption's)
  overhead  1.0 GB CUDA context and allocator slack

musubi-tuner trains Z-Image LoRAs on 12 GB with --fp8_base --fp8_scaled and on smaller cards by
swapping blocks to the CPU (--blocks_to_swap, up to 28); block swap is not built here, so below
12 GB the Wizard says so and picks the 12 GB tier.
"""

from __future__ import annotations

from dataclasses import dataclass

ESTIMATE = "estimate"
WEIGHTS_GB = {True: 6.2, False: 12.3}  # fp8 base / bf16
LORA_GB = 0.3
ACTIVATIONS_GB = {1024: 3.0, 768: 1.7, 512: 0.8}  # one image, full checkpointing
OVERHEAD_GB = 1.0
NEEDS_BLOCK_SWAP = ("Z-Image below 12 GB needs block swap (blocks kept on the CPU and moved in "
                    "turn), which is not built yet: this runs the 12 GB settings and may run "
                    "out of memory")


@dataclass(frozen=True)
class ZImageTier:
    gigabytes: int
    resolution: int
    optimizer: str
    fp8_base: bool = True
    measured_gb: float | None = None  # from bench/gpu_check.sh, once run on a GPU

    @property
    def estimated_gb(self) -> float:
        return WEIGHTS_GB[self.fp8_base] + LORA_GB + OVERHEAD_GB + \
            ACTIVATIONS_GB[self.resolution]

    def vram_label(self) -> str:
        if self.measured_gb is not None:
            return f"{self.measured_gb:.1f} GB (measured)"
        return f"{self.estimated_gb:.1f} GB ({ESTIMATE})"

    def settings(self, bf16: bool) -> dict[str, object]:
        return {"training.precision": "bf16" if bf16 else "fp16",
                "training.resolution": self.resolution, "training.buckets": True,
                "training.cache_latents": "memory", "training.cache_text_encoder": True,
                "network.train_text_encoder": False, "model.fp8_base": self.fp8_base,
                "training.gradient_checkpointing": "full", "optimizer.name": self.optimizer,
                "training.batch_size": 1}


ZIMAGE_TIERS: tuple[ZImageTier, ...] = (
    ZImageTier(12, resolution=768, optimizer="adamw8bit"),
    ZImageTier(16, resolution=1024, optimizer="adamw8bit"),
    ZImageTier(24, resolution=1024, optimizer="adamw", fp8_base=False),
)


def tier_for(vram_gb: float) -> ZImageTier:
    """The largest tier the card holds (from 90 % of its size), else the smallest."""
    fitting = [t for t in ZIMAGE_TIERS if vram_gb >= 0.9 * t.gigabytes]
    return fitting[-1] if fitting else ZIMAGE_TIERS[0]


def choose_zimage(vram_gb: float, bf16: bool, eight_bit: bool) -> object:
    """The Performance Wizard's choice for Z-Image, one line per reason."""
    from lora_for_dummies.train.wizard import WizardChoice

    tier = tier_for(vram_gb)
    choice = WizardChoice(settings=tier.settings(bf16),
                          label=f"Z-Image {tier.gigabytes} GB tier, {tier.vram_label()}")
    why = choice.reasons
    if vram_gb < 0.9 * ZIMAGE_TIERS[0].gigabytes:
        why.append(f"{vram_gb:.1f} GB: {NEEDS_BLOCK_SWAP}")
    why.append("fp8 base: the frozen weights take 6.2 GB instead of 12.3, widened to bf16 layer "
               "by layer" if tier.fp8_base else "bf16 base weights (12.3 GB)")
    why.append("Qwen3-4B encodes every caption once, then leaves the GPU; latents cached")
    why.append("gradient checkpointing full")
    if tier.optimizer == "adamw8bit" and not eight_bit:
        choice.settings["optimizer.name"] = "adafactor"
        why.append("Adafactor: bitsandbytes (for 8-bit AdamW) is not installed")
    else:
        why.append(tier.optimizer)
    why.append(f"{tier.resolution} px")
    return choice


def markdown_table() -> str:
    """The table as docs/training.md shows it."""
    rows = ["| card | base weights | optimizer | resolution | VRAM |", "|---|---|---|---|---|"]
    for tier in ZIMAGE_TIERS:
        rows.append(f"| {tier.gigabytes} GB | {'fp8' if tier.fp8_base else 'bf16'} | "
                    f"{tier.optimizer} | {tier.resolution} px | {tier.vram_label()} |")
    rows.append("| 8 GB | — | needs block swap (not built yet) | | |")
    return "\n".join(rows)
