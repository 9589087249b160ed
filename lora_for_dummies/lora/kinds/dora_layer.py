"""The layer DoRA trains with: the input-axis decomposition A1111 1.10 applies to a DoRA file
(`network.py` `apply_weight_decompose`), computed without building the changed weight.

    W' = (W + s·up·down) · diag(m / n),   n = ‖W + s·up·down‖ per input column

(m = `dora_scale` [1, in(, 1, 1)], s = alpha / rank). Scaling the columns of a weight is
scaling its input channels, and that commutes with a convolution, so

    y = W'(x) = W(x · m/n) + s · up(down(x · m/n))

which keeps no full-size weight for the backward pass. The norm n is taken as a constant there,
as the DoRA paper does (arXiv 2402.09353, section 4.3) and peft too. peft's own DoRA keeps a
magnitude per output row instead, which no conversion turns into this one exactly."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from lora_for_dummies.lora.kinds.dora import EPS, input_axis_norm


class InputAxisDora(nn.Module):
    enabled = True
    lfd_switchable = True  # `train.network.set_adapters` turns it off for "without the LoRA"

    def __init__(self, base: nn.Module, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        weight = base.weight
        if isinstance(base, nn.Conv2d):  # kohya's LoCon: k×k down, 1×1 up
            self.lora_down = nn.Conv2d(base.in_channels, rank, base.kernel_size, base.stride,
                                       base.padding, base.dilation, bias=False)
            self.lora_up = nn.Conv2d(rank, base.out_channels, 1, bias=False)
        else:
            self.lora_down = nn.Linear(base.in_features, rank, bias=False)
            self.lora_up = nn.Linear(rank, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))  # peft's LoRA start
        nn.init.zeros_(self.lora_up.weight)
        self.dora_scale = nn.Parameter(input_axis_norm(weight.detach().float()))  # W' = W
        self.to(device=weight.device)
        self.alpha, self.scale = alpha, alpha / rank

    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight

    def low_rank(self) -> torch.Tensor:
        """s · up · down in the base weight's shape, fp32."""
        up, down = self.lora_up.weight.float(), self.lora_down.weight.float()
        return (up.flatten(1) @ down.flatten(1)).reshape(self.base.weight.shape) * self.scale

    def column_scale(self) -> torch.Tensor:
        """m / n, one factor per input channel (gradients reach m only)."""
        with torch.no_grad():
            norm = input_axis_norm(self.base.weight.float() + self.low_rank())
        return (self.dora_scale / (norm + EPS)).flatten()

    def forward(self, x: torch.Tensor) -> Any:
        if not self.enabled:
            return self.base(x)
        factor = self.column_scale().to(x.dtype)
        scaled = x * (factor.reshape(1, -1, 1, 1) if x.dim() == 4 else factor)
        return self.base(scaled) + self.lora_up(self.lora_down(scaled)) * self.scale


def wrap_targets(model: Any, targets: list[str], rank: int, alpha: float) -> None:
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, InputAxisDora(getattr(parent, child), rank, alpha))

