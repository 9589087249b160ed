"""Flux.1 dev on 8, 12, 16 and 24 GB cards: what each tier chooses and the VRAM it should take.

ESTIMATES from the rule below until `bench/gpu_check.sh` measures them on a GPU:

  weights   the transformer, 11.9 B parameters: 23.8 GB in bf16, 11.9 GB in fp8
            (`model.fp8_base`); CLIP-L, T5-XXL and the VAE leave the GPU once captions and
            latents are cached (`residency`)
  LoRA      rank 16 on the blocks' Linear layers ≈ 0.3 GB with its gradients and optimizer state
  activations per image, full gradient checkpointing: about 6 GB at 1024 px, 2.5 GB at 768,
            1.2 GB at 512 (they follow the token count: 4096, 2304, 1024 packed tokens)
  overhead  1.0 GB CUDA context and allocator slack

kohya's sd-scripts (README, Flux LoRA) trains at 24 GB with the fp8 base, at 16 and 12 GB by
also swapping 8–16 of the blocks to the CPU, at 8 GB with 28 swapped and fp8 T5. Block swap is
not built here yet, so below 16 GB there is no tier that fits: the Wizard says so and picks the
16 GB one, the smallest this project can run.
"""

from __future__ import annotations

from dataclasses import dataclass

ESTIMATE = "estimate"
WEIGHTS_GB = {True: 11.9, False: 23.8}  # fp8 base / bf16
LORA_GB = 0.3
ACTIVATIONS_GB = {1024: 6.0, 768: 2.5, 512: 1.2}  # one image, full checkpointing
OVERHEAD_GB = 1.0
NEEDS_BLOCK_SWAP = ("Flux below 16 GB needs block swap (blocks kept on the CPU and moved in "
                    "turn), which is not built yet: this runs the 16 GB settings and may run "
                    "out of memory")


@dataclass(frozen=True)
class FluxTier:
    gigabytes: int
    resolution: int
    optimizer: str
    fp8_base: bool = True
    batch_size: int = 1
    block_swap: int = 0  # blocks on the CPU (kohya's --blocks_to_swap); 0 until it is built
    measured_gb: float | None = None  # from bench/gpu_check.sh, once run on a GPU

    @property
    def estimated_gb(self) -> float:
        return (WEIGHTS_GB[self.fp8_base] + LORA_GB + OVERHEAD_GB
                + ACTIVATIONS_GB[self.resolution] * self.batch_size)

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


FLUX_TIERS: tuple[FluxTier, ...] = (
    FluxTier(16, resolution=512, optimizer="adamw8bit"),
    FluxTier(24, resolution=1024, optimizer="adamw8bit"),
    FluxTier(32, resolution=1024, optimizer="adamw", fp8_base=False),
)


def flux_tier_for(vram_gb: float) -> FluxTier:
    """The largest tier the card holds (from 90 % of its size), else the smallest."""
    fitting = [t for t in FLUX_TIERS if vram_gb >= 0.9 * t.gigabytes]
    return fitting[-1] if fitting else FLUX_TIERS[0]


def choose_flux(vram_gb: float, bf16: bool, eight_bit: bool) -> object:
    """The Performance Wizard's choice for Flux, one line per reason."""
    from lora_for_dummies.train.wizard import WizardChoice

    tier = flux_tier_for(vram_gb)
    choice = WizardChoice(settings=tier.settings(bf16),
                          label=f"Flux {tier.gigabytes} GB tier, {tier.vram_label()}")
    why = choice.reasons
    if vram_gb < 0.9 * FLUX_TIERS[0].gigabytes:
        why.append(f"{vram_gb:.1f} GB: {NEEDS_BLOCK_SWAP}")
    why.append("fp8 base: the frozen Flux weights take 11.9 GB instead of 23.8, widened to "
               "bf16 layer by layer" if tier.fp8_base else "bf16 base weights (23.8 GB)")
    why.append("CLIP-L and T5 encode every caption once, then leave the GPU; latents cached")
    why.append("gradient checkpointing full: Flux's activations are most of what is left")
    if tier.optimizer == "adamw8bit" and not eight_bit:
        choice.settings["optimizer.name"] = "adafactor"
        why.append("Adafactor: bitsandbytes (for 8-bit AdamW) is not installed")
    else:
        why.append(tier.optimizer)
    why.append(f"{tier.resolution} px" + (" (1024 does not fit with the fp8 base below 24 GB)"
                                          if tier.resolution < 1024 else ""))
    return choice


def markdown_table() -> str:
    """The table as docs/training.md shows it."""
    rows = ["| card | base weights | block swap | optimizer | resolution | VRAM |",
            "|---|---|---|---|---|---|"]
    for tier in FLUX_TIERS:
        rows.append(f"| {tier.gigabytes} GB | {'fp8' if tier.fp8_base else 'bf16'} | "
                    f"{tier.block_swap or 'none'} | {tier.optimizer} | {tier.resolution} px | "
                    f"{tier.vram_label()} |")
    rows.append("| 8 / 12 GB | — | needs block swap (not built yet) | | | |")
    return "\n".join(rows)
