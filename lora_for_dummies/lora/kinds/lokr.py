"""LoKr (LyCORIS): delta = w1 ⊗ w2 (Kronecker), each factor whole (`lokr_w1`) or low-rank
(`lokr_w1_a` · `lokr_w1_b`); scale alpha / rank only when a factor is low-rank, rank = that
factor's inner size, w2's if both are (A1111 1.10 `network_lokr.py`); `lokr_t2` for a
Tucker-factored conv. Trained with peft's LoKr (same parameter names and shapes, factor
sizes from LyCORIS' `factorization`), whose scale differs between peft versions: what the
loaders would miss of it is folded into `lokr_w1` on save (`file_module`)."""

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

TRAINED = (".lokr_",)
RANK_LIMITED = False  # a rank past half a factor's side makes that factor whole
_FACTORS = ("lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2")

_NOT_IN_DIFFUSERS = "its load_lora_weights has no loader for it (ValueError: keys not renamed)"


def _rank(shapes: Shapes) -> int | None:
    for low in ("lokr_w2_b", "lokr_w1_b"):
        if low in shapes:
            return int(shapes[low][0])
    return None  # both factors whole: no rank, scale 1


KIND = LoraKind("lokr", "LoKr", ("lokr_w1", "lokr_w1_a"), _rank,
                what="Kronecker product of two small factors: the smallest files, for styles",
                not_in_diffusers=_NOT_IN_DIFFUSERS)


def _factor(tensors: dict[str, Any], n: int) -> Any:
    whole = tensors.get(f"lokr_w{n}")
    if whole is not None:
        return whole.float()
    a, b, core = tensors[f"lokr_w{n}_a"], tensors[f"lokr_w{n}_b"], tensors.get(f"lokr_t{n}")
    return tucker(core, a, b) if core is not None else flat(a) @ flat(b)


def delta(tensors: dict[str, Any], alpha: float | None, weight: Any = None) -> Any:
    import torch

    w1, w2 = _factor(tensors, 1), _factor(tensors, 2)
    if w2.dim() == 4:
        w1 = w1[:, :, None, None]
    rank = _rank({k: tuple(v.shape) for k, v in tensors.items()})
    scale = alpha / rank if alpha is not None and rank else 1.0
    return shaped(torch.kron(w1, w2.contiguous()) * scale, weight)


def scaled(tensors: dict[str, Any], factor: float) -> dict[str, Any]:
    """The module whose change is `factor` × this one's (the change is linear in w1)."""
    key = "lokr_w1" if "lokr_w1" in tensors else "lokr_w1_a"
    return dict(tensors, **{key: tensors[key] * factor})


def inject(model: Any, groups: Groups, adapter: str) -> None:
    from peft import LoKrConfig

    # factor -1 (LyCORIS' default: the two most even factors); w1 whole, w2 low-rank when the
    # rank is under half its side; no Tucker factors, so every loader reads the flat layout.
    peft_inject(model, groups, adapter, lambda targets, rank, alpha: LoKrConfig(
        r=rank, alpha=alpha, target_modules=targets, init_weights=True, decompose_both=False,
        decompose_factor=-1, use_effective_conv2d=False, rank_dropout=0.0,
        module_dropout=0.0))


def file_module(layer: Any, adapter: str) -> KindModule:
    tensors = peft_tensors(layer, adapter, _FACTORS)
    # Whole factors are written without alpha: A1111 then scales by 1, and so do ComfyUI
    # releases before `weight_adapter/lokr.py` (Comfy-Org/ComfyUI commit 839df9f2) began to
    # scale them by alpha / (w2 rows // w1 rows); without alpha that one scales by 1 too.
    alpha = float(layer.alpha[adapter]) if _rank(
        {k: tuple(v.shape) for k, v in tensors.items()}) else None
    written = delta(tensors, alpha)
    trained = layer.get_delta_weight(adapter).detach().float().cpu().reshape(written.shape)
    # peft 0.21 scales w1 ⊗ w2 by alpha / r, peft 0.13 never (its get_delta_weight leaves the
    # scale out): fold what the loaders' rule misses of this peft's change into w1.
    ratio = _nearest(float(trained.norm()) / max(float(written.norm()), 1e-30),
                     (1.0, float(layer.scaling[adapter]), 1 / float(layer.scaling[adapter])))
    if float(written.norm()) and ratio != 1.0:
        key = "lokr_w1" if "lokr_w1" in tensors else "lokr_w1_a"
        tensors[key] = tensors[key] * ratio
    return KindModule("lokr", tensors, alpha)


def _nearest(value: float, choices: tuple[float, ...]) -> float:
    return min(choices, key=lambda choice: abs(choice - value))


def kohya_network(network: Any) -> tuple[str, dict[str, str]]:
    return lycoris_network(network, "lokr", factor="-1")
