"""LoHa (LyCORIS): delta = (w1_a · w1_b) ⊙ (w2_a · w2_b) · alpha / rank, rank = w1_b's rows
(A1111 1.10 `network_hada.py`); `hada_t1` / `hada_t2` for Tucker-factored convolutions.
Trained with peft's LoHa, whose parameters are the file's (same names, same shapes: a
convolution's `hada_w1_b` is (rank, in·k·k)) and whose delta is this formula."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.lora.kinds import KindModule, LoraKind, Shapes
from lora_for_dummies.lora.kinds.layers import (
    Groups,
    flat,
    peft_inject,
    peft_tensors,
    shaped,
    tucker,
)
from lora_for_dummies.lora.kinds.lycoris_args import lycoris_network

TRAINED = (".hada_",)
RANK_LIMITED = True
_FACTORS = ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2")

_NOT_IN_DIFFUSERS = "its load_lora_weights has no loader for it (ValueError: keys not renamed)"


def _rank(shapes: Shapes) -> int:
    return int(shapes["hada_w1_b"][0])


KIND = LoraKind("loha", "LoHa", ("hada_w1_a",), _rank,
                needs=("hada_w1_b", "hada_w2_a", "hada_w2_b"),
                what="Hadamard product of two low-rank pairs: more detail per byte",
                not_in_diffusers=_NOT_IN_DIFFUSERS)


def _pair(tensors: dict[str, Any], n: int) -> Any:
    a, b = tensors[f"hada_w{n}_a"], tensors[f"hada_w{n}_b"]
    core = tensors.get(f"hada_t{n}")
    return tucker(core, a, b) if core is not None else flat(a) @ flat(b)


def delta(tensors: dict[str, Any], alpha: float | None, weight: Any = None) -> Any:
    rank = int(tensors["hada_w1_b"].shape[0])
    scale = 1.0 if alpha is None else alpha / rank
    return shaped(_pair(tensors, 1) * _pair(tensors, 2) * scale, weight)


def scaled(tensors: dict[str, Any], factor: float) -> dict[str, Any]:
    """The module whose change is `factor` × this one's (the change is linear in w1_a)."""
    return dict(tensors, hada_w1_a=tensors["hada_w1_a"] * factor)


def inject(model: Any, groups: Groups, adapter: str) -> None:
    from peft import LoHaConfig

    # Without Tucker factors (use_effective_conv2d off): every loader reads the flat layout.
    peft_inject(model, groups, adapter, lambda targets, rank, alpha: LoHaConfig(
        r=rank, alpha=alpha, target_modules=targets, init_weights=True,
        use_effective_conv2d=False, rank_dropout=0.0, module_dropout=0.0))


def file_module(layer: Any, adapter: str) -> KindModule:
    return KindModule("loha", peft_tensors(layer, adapter, _FACTORS),
                      float(layer.alpha[adapter]))


def kohya_network(network: Any) -> tuple[str, dict[str, str]]:
    return lycoris_network(network, "loha")
