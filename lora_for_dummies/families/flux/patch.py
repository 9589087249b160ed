"""Apply a saved Flux LoRA (`lora_unet_<BFL module>`) to a loaded diffusers Flux transformer
and undo it, for the best-step grid: each BFL module's change is split into the diffusers
modules it stands for (`keys.split_delta`: fused q / k / v and linear1 by rows), as diffusers'
own loader does."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.errors import UserError


class FluxPatcher:
    def __init__(self, transformer: Any, denoiser_config: dict[str, Any]) -> None:
        from lora_for_dummies.families.flux.keys import flux_targets
        from lora_for_dummies.families.flux.network import bfl_config

        self.model, self.config = transformer, bfl_config(denoiser_config)
        self.modules = {t.name: t.module for t in flux_targets(self.config, True, True)}
        self._originals: dict[str, Any] = {}

    def apply(self, modules: dict[str, Any], strength: float) -> None:
        """Transformer = base + strength × the LoRA (any earlier LoRA is undone first)."""
        import torch

        from lora_for_dummies.families.flux.keys import split_delta

        unknown = sorted(name for name in modules if name not in self.modules)
        if unknown:
            raise UserError(f"the LoRA does not fit this Flux model: {len(unknown)} of its "
                            f"{len(modules)} modules name no layer (e.g. {unknown[0]})")
        self.restore()
        with torch.no_grad():
            for name, module in modules.items():
                for part, rows in split_delta(self.modules[name], module.delta(),
                                              self.config).items():
                    weight = self.model.get_submodule(part).weight
                    self._originals.setdefault(part, weight.detach().to("cpu", copy=True))
                    weight.copy_((weight.float() + strength * rows.to(weight.device))
                                 .to(weight.dtype))

    def restore(self) -> None:
        import torch

        with torch.no_grad():
            for part, original in self._originals.items():
                weight = self.model.get_submodule(part).weight
                weight.copy_(original.to(weight.device))
        self._originals.clear()
