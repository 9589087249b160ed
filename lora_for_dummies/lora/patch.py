"""Apply a kohya LoRA to loaded diffusers/transformers models at a chosen strength, and undo it.

The webui adds a LoRA's weight change to the layers it names; this does the same on our models
so an image "with the LoRA at 0.6" matches what the user will see in txt2img. Works on every
dependency set (diffusers' own loader needs its PEFT backend, which the webui pins lack), and
switching files or strengths restores the original weights exactly, from a copy of the layers
it touched.
"""

from __future__ import annotations

from typing import Any

from lora_for_dummies.checkpoints.kohya_names import kohya_name, lora_target_modules
from lora_for_dummies.errors import UserError


class LoraPatcher:
    def __init__(self, family: str, models: dict[str, Any], unet_config: dict[str, Any]) -> None:
        """`models`: component name (`unet`, `text_encoder`, `text_encoder_2`) → model."""
        self.layers: dict[str, Any] = {}  # every layer a change may go to, by its key
        for component, model in models.items():
            modules = dict(model.named_modules())
            for path in lora_target_modules(model, component, include_conv=True):
                name = kohya_name(family, component, path, unet_config)
                self.layers[name] = modules[path]
        self._originals: dict[str, Any] = {}

    def fits(self, name: str) -> bool:
        return name in self.layers

    def changes(self, name: str, module: Any) -> list[tuple[str, Any]]:
        """[(layer key, its weight change)] of one module of any kind (here: the one layer it
        names; DoRA's change depends on that layer's weight)."""
        return [(name, module.delta(self.layers[name].weight))]

    def apply(self, modules: dict[str, Any], strength: float) -> None:
        """Models = base + strength × the LoRA (any earlier LoRA is undone first)."""
        unknown = sorted(name for name in modules if not self.fits(name))
        if unknown:
            raise UserError(f"the LoRA does not fit this base model: {len(unknown)} of its "
                            f"{len(modules)} modules name no layer (e.g. {unknown[0]})")
        self.restore()
        import torch

        with torch.no_grad():
            for name, module in modules.items():
                for key, change in self.changes(name, module):
                    weight = self.layers[key].weight
                    delta = change.to(weight.device)
                    if delta.shape != weight.shape:
                        raise UserError(f"{name}: LoRA shape {tuple(delta.shape)} does not fit "
                                        f"the model's {tuple(weight.shape)}")
                    # the copy waits on the CPU: on a GPU it would cost VRAM the render needs
                    self._originals[key] = weight.detach().to("cpu", copy=True)
                    weight.copy_((weight.float() + strength * delta).to(weight.dtype))

    def restore(self) -> None:
        """Put back the weights the last `apply` changed."""
        import torch

        with torch.no_grad():
            for key, original in self._originals.items():
                weight = self.layers[key].weight
                weight.copy_(original.to(weight.device))
        self._originals.clear()
