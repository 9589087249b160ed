"""Apply a saved Flux LoRA (`lora_unet_<BFL module>`) to a loaded diffusers Flux transformer
and undo it, for the best-step grid: each BFL module's change is split into the diffusers
modules it stands for (`keys.split_delta`: fused q / k / v and linear1 by rows), as diffusers'
own loader does. Applying and restoring are `lora.patch.LoraPatcher`'s."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.lora.format import LoraModule
from lora_for_dummies.lora.patch import LoraPatcher


class FluxPatcher(LoraPatcher):
    def __init__(self, transformer: Any, denoiser_config: dict[str, Any]) -> None:
        from lora_for_dummies.families.flux.keys import flux_targets
        from lora_for_dummies.families.flux.network import bfl_config

        self.config = bfl_config(denoiser_config)
        self.modules = {t.name: t.module for t in flux_targets(self.config, True, True)}
        self.layers = dict(transformer.named_modules())  # diffusers module → layer
        self._originals = {}

    def fits(self, name: str) -> bool:
        return name in self.modules

    def changes(self, name: str, module: LoraModule) -> list[tuple[str, Any]]:
        from lora_for_dummies.families.flux.keys import split_delta

        return list(split_delta(self.modules[name], module.delta(), self.config).items())
