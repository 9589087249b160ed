"""The Performance Wizard's tiers for a transformer family (Flux, Z-Image, …): one table type,
each family giving its numbers (`families/<family>/tiers.py`).

A tier's VRAM is the sum of what stays on the GPU while it trains — the frozen transformer
(bf16, or fp8 with `model.fp8_base`), the LoRA with its gradients and optimizer state, one
image's activations under full gradient checkpointing, and a fixed overhead (CUDA context,
allocator) — labelled an estimate until `bench/gpu_check.sh` measures it. The text encoders and
the VAE are not counted: they leave the GPU once captions and latents are cached (`residency`).
"""

from __future__ import annotations

from dataclasses import dataclass

ESTIMATE = "estimate"


@dataclass(frozen=True)
class Tier:
    gigabytes: int  # the card it is for
    resolution: int
    optimizer: str
    estimated_gb: float
    fp8_base: bool = True
    batch_size: int = 1
    block_swap: int = 0  # blocks on the CPU (kohya's / musubi's --blocks_to_swap); not built
    measured_gb: float | None = None  # from bench/gpu_check.sh, once run on a GPU

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
                "training.batch_size": self.batch_size}


@dataclass(frozen=True)
class Footprint:
    """What one family's training holds on the GPU, in GB."""
    family: str  # as the Wizard names it: "Flux", "Z-Image"
    weights_gb: dict[bool, float]  # fp8 base → the frozen transformer
    activations_gb: dict[int, float]  # resolution → one image, full checkpointing
    encoders: str  # the reason line for the text encoders, e.g. "Qwen3-4B encodes …"
    checkpointing: str = "gradient checkpointing full"
    lora_gb: float = 0.3
    overhead_gb: float = 1.0

    def tier(self, gigabytes: int, resolution: int, optimizer: str, fp8_base: bool = True,
             batch_size: int = 1) -> Tier:
        estimated = (self.weights_gb[fp8_base] + self.lora_gb + self.overhead_gb
                     + self.activations_gb[resolution] * batch_size)
        return Tier(gigabytes, resolution, optimizer, estimated, fp8_base, batch_size)


@dataclass(frozen=True)
class TierTable:
    footprint: Footprint
    tiers: tuple[Tier, ...]  # smallest card first
    needs_block_swap: str  # said for a card below the smallest tier
    resolution_why: dict[int, str]  # resolution → why it is not higher, where it says more

    def tier_for(self, vram_gb: float) -> Tier:
        """The largest tier the card holds (from 90 % of its size), else the smallest."""
        fitting = [t for t in self.tiers if vram_gb >= 0.9 * t.gigabytes]
        return fitting[-1] if fitting else self.tiers[0]

    def choose(self, vram_gb: float, bf16: bool, eight_bit: bool) -> object:
        """The Performance Wizard's choice, one line per reason."""
        from lora_for_dummies.train.wizard import WizardChoice

        tier, size = self.tier_for(vram_gb), self.footprint
        choice = WizardChoice(settings=tier.settings(bf16),
                              label=f"{size.family} {tier.gigabytes} GB tier, "
                                    f"{tier.vram_label()}")
        why = choice.reasons
        if vram_gb < 0.9 * self.tiers[0].gigabytes:
            why.append(f"{vram_gb:.1f} GB: {self.needs_block_swap}")
        fp8, bf16_gb = size.weights_gb[True], size.weights_gb[False]
        why.append(f"fp8 base: the frozen {size.family} weights take {fp8:g} GB instead of "
                   f"{bf16_gb:g}, widened to bf16 layer by layer" if tier.fp8_base
                   else f"bf16 base weights ({bf16_gb:g} GB)")
        why.append(size.encoders)
        why.append(size.checkpointing)
        if tier.optimizer == "adamw8bit" and not eight_bit:
            choice.settings["optimizer.name"] = "adafactor"
            why.append("Adafactor: bitsandbytes (for 8-bit AdamW) is not installed")
        else:
            why.append(tier.optimizer)
        why.append(f"{tier.resolution} px" + (f" ({self.resolution_why[tier.resolution]})"
                                              if tier.resolution in self.resolution_why else ""))
        return choice

    def markdown_table(self, smaller_cards: str) -> str:
        """The table as docs/training.md shows it; `smaller_cards`: the row's card column for
        the cards below the smallest tier ("8 / 12 GB")."""
        rows = ["| card | base weights | block swap | optimizer | resolution | VRAM |",
                "|---|---|---|---|---|---|"]
        for tier in self.tiers:
            rows.append(f"| {tier.gigabytes} GB | {'fp8' if tier.fp8_base else 'bf16'} | "
                        f"{tier.block_swap or 'none'} | {tier.optimizer} | "
                        f"{tier.resolution} px | {tier.vram_label()} |")
        rows.append(f"| {smaller_cards} | — | needs block swap (not built yet) | | | |")
        return "\n".join(rows)
