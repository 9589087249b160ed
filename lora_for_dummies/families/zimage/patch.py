"""Apply a saved Z-Image LoRA (`diffusion_model.<diffusers module>`) to a loaded diffusers
Z-Image transformer and undo it, for the best-step grid: each module names one diffusers layer
(q / k / v are split in the file), so its change is that layer's. Applying and restoring are
`lora.patch.LoraPatcher`'s."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.families.zimage.keys import LORA_PREFIX
from lora_for_dummies.lora.patch import LoraPatcher


class ZImagePatcher(LoraPatcher):
    def __init__(self, transformer: Any) -> None:
        import torch

        self.layers = {LORA_PREFIX + name: layer for name, layer in transformer.named_modules()
                       if isinstance(layer, torch.nn.Linear)}
        self._originals = {}
