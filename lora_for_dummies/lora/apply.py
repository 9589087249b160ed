"""Merge a kohya LoRA (of any kind: `lora.kinds`) into a checkpoint's weights (LDM layout),
using the extraction map.

Used to check that a LoRA means what it should (tests, the self-check) and to bake a LoRA into
a checkpoint. Works on every dependency set, unlike diffusers' loader, which needs its PEFT
backend (transformers > 4.33).
"""

from __future__ import annotations

from typing import Any

from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.targets import extraction_targets


def merge_into_state(state: dict[str, Any], modules: dict[str, Any], family: str,
                     configs: dict[str, dict[str, Any]], strength: float = 1.0
                     ) -> tuple[dict[str, Any], list[str]]:
    """Return (new state, unmatched LoRA names). `state` is not modified."""
    targets = {t.name: t for t in extraction_targets(family, configs, True, True)}
    merged = dict(state)
    unmatched = [name for name in modules if name not in targets]
    for name, module in modules.items():
        target = targets.get(name)
        if target is None:
            continue
        weight = merged[target.key].float().clone()
        if target.third is not None:
            rows = weight.shape[0] // 3
            view = weight[target.third * rows:(target.third + 1) * rows]
        else:
            view = weight
        delta = module.delta(view) * strength  # DoRA's change depends on the weight
        if view.shape != delta.shape:
            raise UserError(f"{name}: LoRA shape {tuple(delta.shape)} does not fit the model's "
                            f"{tuple(view.shape)}")
        view += delta
        merged[target.key] = weight.to(state[target.key].dtype)
    return merged, unmatched
