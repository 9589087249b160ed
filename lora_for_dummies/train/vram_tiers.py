"""SDXL on 8, 12, 16 and 24 GB cards: what each tier chooses and the VRAM it should take.

One table, used by the Performance Wizard, printed in docs/training.md (`markdown_table`, a test
keeps the two equal) and measured by `bench/gpu_check.sh` (`bench/train_step.py --preset`).
Until a GPU run replaces them, the VRAM figures are ESTIMATES from the rule below, not
measurements:

  weights   UNet 2.57 B parameters × 2 bytes (fp16/bf16) = 5.1 GB; the text encoders
            (0.82 B, 1.6 GB) only when they are trained — otherwise their outputs are cached
            and they leave the GPU, as the VAE does once the latents are cached (`residency`)
  LoRA      rank 16 on kohya's UNet layer set ≈ 23 M parameters × (4 weight + 4 gradient
            + 8 AdamW state, or 2 with 8-bit AdamW) bytes ≈ 0.2–0.4 GB
  activations per 1024 px image: about 1.5 GB with full gradient checkpointing, 9 GB with
            partial, 12 GB without (fp16, PyTorch SDPA attention; SDXL's highest-resolution
            blocks have no attention, so partial saves less than on SD1.5)
  overhead  0.8 GB CUDA context and allocator slack

kohya's sd-scripts documents the same 8 GB recipe (UNet only, cached text-encoder outputs and
latents, gradient checkpointing, 8-bit or Adafactor optimizer); the tiers above it spend the
extra memory on text-encoder training, then on batch size, then on speed (less recomputation).
"""

from __future__ import annotations

from dataclasses import dataclass

ESTIMATE = "estimate"


# The rule of the module docstring, in GB.
UNET_WEIGHTS_GB = 2.57 * 2
TEXT_ENCODER_WEIGHTS_GB = 0.82 * 2
LORA_PARAMETERS_M = {False: 23, True: 30}  # UNet only / UNet + both text encoders, rank 16
OPTIMIZER_BYTES = {"adamw": 16, "adamw8bit": 10}  # weight + gradient + state per parameter
ACTIVATIONS_GB = {"full": 1.5, "partial": 9.0, "off": 12.0}  # one 1024 px image, fp16
OVERHEAD_GB = 0.8


@dataclass(frozen=True)
class VramTier:
    gigabytes: int  # the card's size
    train_text_encoder: bool
    gradient_checkpointing: str  # off | partial | full
    optimizer: str
    batch_size: int
    measured_gb: float | None = None  # peak VRAM from bench/gpu_check.sh, once run on a GPU
    resolution: int = 1024  # with aspect-ratio buckets of about this area

    @property
    def name(self) -> str:
        return f"sdxl-{self.gigabytes}gb"

    @property
    def estimated_gb(self) -> float:
        weights = UNET_WEIGHTS_GB + (TEXT_ENCODER_WEIGHTS_GB if self.train_text_encoder else 0)
        lora = LORA_PARAMETERS_M[self.train_text_encoder] * OPTIMIZER_BYTES[self.optimizer] / 1e3
        activations = ACTIVATIONS_GB[self.gradient_checkpointing] * self.batch_size
        return weights + lora + activations + OVERHEAD_GB

    def vram_label(self) -> str:
        if self.measured_gb is not None:
            return f"{self.measured_gb:.1f} GB (measured)"
        return f"{self.estimated_gb:.1f} GB ({ESTIMATE})"

    def settings(self, bf16: bool) -> dict[str, object]:
        """The job settings ("section.key" → value); bf16 where the GPU supports it."""
        return {
            "training.precision": "bf16" if bf16 else "fp16",
            "training.resolution": self.resolution, "training.buckets": True,
            "training.cache_latents": "memory",
            "training.cache_text_encoder": not self.train_text_encoder,
            "network.train_text_encoder": self.train_text_encoder,
            "training.gradient_checkpointing": self.gradient_checkpointing,
            "optimizer.name": self.optimizer, "training.batch_size": self.batch_size,
        }


SDXL_TIERS: tuple[VramTier, ...] = (
    VramTier(8, train_text_encoder=False, gradient_checkpointing="full",
             optimizer="adamw8bit", batch_size=1),
    VramTier(12, train_text_encoder=False, gradient_checkpointing="full",
             optimizer="adamw8bit", batch_size=2),
    VramTier(16, train_text_encoder=True, gradient_checkpointing="full",
             optimizer="adamw", batch_size=2),
    VramTier(24, train_text_encoder=True, gradient_checkpointing="partial",
             optimizer="adamw", batch_size=1),
)


def tier_for(vram_gb: float) -> VramTier:
    """The largest tier the card holds. Cards report a little less than their label
    (an "8 GB" card shows about 7.6–8.0 GiB), so a tier counts from 90 % of its size."""
    fitting = [t for t in SDXL_TIERS if vram_gb >= 0.9 * t.gigabytes]
    return fitting[-1] if fitting else SDXL_TIERS[0]


def markdown_table() -> str:
    """The table as docs/training.md shows it."""
    rows = ["| card | text encoder | gradient checkpointing | optimizer | batch | resolution "
            "| VRAM |", "|---|---|---|---|---|---|---|"]
    for tier in SDXL_TIERS:
        text = "trained" if tier.train_text_encoder else "frozen, outputs cached"
        rows.append(f"| {tier.gigabytes} GB | {text} | {tier.gradient_checkpointing} | "
                    f"{tier.optimizer} | {tier.batch_size} | {tier.resolution} px, buckets | "
                    f"{tier.vram_label()} |")
    return "\n".join(rows)
