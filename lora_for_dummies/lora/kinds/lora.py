"""LoRA (`lora_down.weight`, `lora_up.weight`, `alpha`): delta = up · down · alpha / rank. A
module whose down is a k×k convolution (k > 1) is what people call LoCon. Trained with peft's
LoRA; written by `lora/format.py` (one alpha per file)."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.lora.kinds import LoraKind, Shapes
from lora_for_dummies.lora.kinds.layers import Groups, peft_inject, shaped

TRAINED = (".lora_A.", ".lora_B.")  # peft's parameter names
RANK_LIMITED = True  # the rank may not pass the layer's smaller side


def _rank(shapes: Shapes) -> int:
    return int(shapes["lora_down.weight"][0])


def _label(shapes: Shapes) -> str:
    down = shapes["lora_down.weight"]
    return "LoCon" if len(down) == 4 and down[-1] > 1 else "LoRA"


class _Lora(LoraKind):
    def label_for(self, shapes: Shapes) -> str:
        return _label(shapes)


KIND = _Lora("lora", "LoRA", ("lora_down.weight",), _rank, needs=("lora_up.weight",),
             what="low-rank: up · down · alpha / rank (LoCon: also 3×3 convolutions)")


def delta(tensors: dict[str, Any], alpha: float | None, weight: Any = None) -> Any:
    from lora_for_dummies.lora.format import LoraModule

    down = tensors["lora_down.weight"]
    module = LoraModule(down, tensors["lora_up.weight"],
                        float(down.shape[0]) if alpha is None else alpha)
    return shaped(module.delta(), weight)


def scaled(tensors: dict[str, Any], factor: float) -> dict[str, Any]:
    return dict(tensors, **{"lora_up.weight": tensors["lora_up.weight"] * factor})


def inject(model: Any, groups: Groups, adapter: str) -> None:
    from peft import LoraConfig

    peft_inject(model, groups, adapter, lambda targets, rank, alpha: LoraConfig(
        r=rank, lora_alpha=alpha, target_modules=targets, init_lora_weights=True,
        lora_dropout=0.0))


def file_module(layer: Any, adapter: str) -> Any:
    from lora_for_dummies.lora.format import LoraModule

    down = layer.lora_A[adapter].weight.detach().float().cpu().clone()
    up = layer.lora_B[adapter].weight.detach().float().cpu().clone()
    return LoraModule(down, up, float(layer.lora_alpha[adapter]))


def kohya_network(network: Any) -> tuple[str, dict[str, str]]:
    """kohya's `networks.lora`; LoCon's convolutions as its `conv_dim` / `conv_alpha` args."""
    args = {"conv_dim": str(network.conv_rank), "conv_alpha": str(float(network.conv_alpha))} \
        if network.conv_rank else {}
    return "networks.lora", args
