"""Fine-tuned copies of the tiny models: base + a known low-rank change (+ small noise)."""

from __future__ import annotations

from pathlib import Path

import torch

from lora_for_dummies.checkpoints.synthetic_change import write_changed_checkpoint


def write_tuned(base: Path, out: Path, rank: int = 4, noise: float = 1e-4, seed: int = 0,
                text_encoders: bool = True, conv: bool = False, ranks: tuple[int, ...] = ()
                ) -> dict[str, torch.Tensor]:
    """Write base + change to `out`; return {kohya name: the exact change} (no noise)."""
    return write_changed_checkpoint(base, out, rank, noise, seed, text_encoders, conv, ranks)
