"""Trainable changes to a layer's weight as torch parametrizations, for the kinds peft has
only in another form (DoRA on the input axis, the full difference): the layer computes with
`adapter(weight)` in every forward, and with its own weight while the adapter is off."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from lora_for_dummies.lora.kinds.dora import decomposed, input_axis_norm


class WeightAdapter(nn.Module):
    enabled = True

    def changed(self, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return self.changed(weight) if self.enabled else weight


class WholeChange(WeightAdapter):
    """W' = W + diff: the full kind."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.diff = nn.Parameter(torch.zeros(weight.shape, dtype=torch.float32))

    def changed(self, weight: torch.Tensor) -> torch.Tensor:
        return (weight.float() + self.diff).to(weight.dtype)


class InputAxisDora(WeightAdapter):
    """W' = m ⊙ (W + s·up·down) / ‖W + s·up·down‖, the norm per input column (over the output
    rows and the kernel), m = `dora_scale` [1, in(, 1, 1)] starting at ‖W‖ so that W' = W at
    step 0; s = alpha / rank. That is how A1111 1.10 applies a DoRA file (`network.py`
    `apply_weight_decompose`); peft's DoRA keeps a magnitude per output row instead, which no
    conversion maps onto this one exactly, so training uses this layer."""

    def __init__(self, weight: torch.Tensor, rank: int, alpha: float) -> None:
        super().__init__()
        self.lora_down = nn.Parameter(torch.empty(rank, weight[0].numel()))
        nn.init.kaiming_uniform_(self.lora_down, a=math.sqrt(5))  # peft's LoRA start
        self.lora_up = nn.Parameter(torch.zeros(weight.shape[0], rank))
        self.dora_scale = nn.Parameter(input_axis_norm(weight.float()))
        self.alpha, self.scale = alpha, alpha / rank

    def changed(self, weight: torch.Tensor) -> torch.Tensor:
        low_rank = (self.lora_up @ self.lora_down).reshape(weight.shape) * self.scale
        return decomposed(weight.float() + low_rank, self.dora_scale).to(weight.dtype)


def parametrize_targets(model: Any, targets: list[str],
                        make: Callable[[torch.Tensor], WeightAdapter]) -> None:
    """`make(base weight)` builds each target's adapter (moved to the weight's device)."""
    for name in targets:
        layer = model.get_submodule(name)
        adapter = make(layer.weight.detach()).to(layer.weight.device)
        parametrize.register_parametrization(layer, "weight", adapter)


def adapter_of(layer: Any) -> WeightAdapter:
    return layer.parametrizations.weight[0]


def set_enabled(model: Any, enabled: bool) -> None:
    for module in model.modules():
        if isinstance(module, WeightAdapter):
            module.enabled = enabled
