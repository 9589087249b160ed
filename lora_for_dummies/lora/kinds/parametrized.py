"""A trainable change to a layer's weight as a torch parametrization, for the full kind (peft
has none): the layer computes with `adapter(weight)` in every forward, and with its own weight
while the adapter is off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize


class WeightAdapter(nn.Module):
    enabled = True
    lfd_switchable = True  # `train.network.set_adapters` turns it off for "without the LoRA"

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


def parametrize_targets(model: Any, targets: list[str],
                        make: Callable[[torch.Tensor], WeightAdapter]) -> None:
    """`make(base weight)` builds each target's adapter (moved to the weight's device)."""
    for name in targets:
        layer = model.get_submodule(name)
        adapter = make(layer.weight.detach()).to(layer.weight.device)
        parametrize.register_parametrization(layer, "weight", adapter)


def adapter_of(layer: Any) -> WeightAdapter:
    return layer.parametrizations.weight[0]

