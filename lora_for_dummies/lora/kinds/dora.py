"""DoRA: a LoRA module plus `dora_scale`, the magnitude the webuis renormalise the changed
weight to. A1111 1.10 (`network.py` `apply_weight_decompose`, since its PRs 15160 / 15283)
takes the norm on the input axis, `dora_scale` [1, in(, 1, 1)] as LyCORIS writes it; ComfyUI
picks the axis from the scale's shape, so a 2-D [1, in] scale means the same to both. The
strength applies to the renormalised change: W + s · (DoRA(W) − W)."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.lora.kinds import KindModule, LoraKind, Shapes
from lora_for_dummies.lora.kinds.layers import Groups, flat
from lora_for_dummies.lora.kinds.lycoris_args import lycoris_network

TRAINED = (".lora_down.", ".lora_up.", ".dora_scale")  # `dora_layer.InputAxisDora`
RANK_LIMITED = True
EPS = 1.1920929e-07  # float32's: LyCORIS and ComfyUI add it to the norm (all-zero columns)


def _rank(shapes: Shapes) -> int:
    return int(shapes["lora_down.weight"][0])


KIND = LoraKind("dora", "DoRA", ("dora_scale",), _rank,
                needs=("lora_down.weight", "lora_up.weight"),
                what="a LoRA whose changed weight is rescaled to a learned magnitude",
                not_in_diffusers="it drops dora_scale (its own warning) and applies the rest as a "
                                 "plain LoRA: a different picture")


def input_axis_norm(weight: Any) -> Any:
    """‖W‖ per input column, shaped [1, in, 1…] to broadcast over W."""
    ones = [1] * (weight.dim() - 2)
    return weight.transpose(0, 1).reshape(weight.shape[1], -1).norm(dim=1).reshape(
        1, weight.shape[1], *ones)


def _output_axis_norm(weight: Any) -> Any:
    return weight.reshape(weight.shape[0], -1).norm(dim=1).reshape(
        weight.shape[0], *[1] * (weight.dim() - 1))


def decomposed(merged: Any, scale: Any) -> Any:
    """`merged` renormalised to the magnitude `scale`: on the input axis for a [1, in, …]
    scale (what training writes; Forge Neo's `backend/patcher/lora.py`, commit 9bb88948, the
    ComfyUI v0.3.77 rule, takes the same norm of the merged weight, + eps); on the output axis
    for a scale [out, 1, …] (LyCORIS' `wd_on_out` files, made elsewhere — there ComfyUI takes
    the norm of the base weight instead, so the loaders differ on such files)."""
    on_output = scale.dim() == merged.dim() and scale.shape[0] == merged.shape[0] \
        and scale.shape[1] == 1 and merged.shape[0] != 1
    norm = _output_axis_norm(merged) if on_output else input_axis_norm(merged)
    return merged * (scale.reshape(norm.shape) / (norm + EPS))


def delta(tensors: dict[str, Any], alpha: float | None, weight: Any = None) -> Any:
    if weight is None:
        from lora_for_dummies import messages as msg

        raise msg.DORA_NEEDS_WEIGHT.error()
    base = weight.float()
    down, up = tensors["lora_down.weight"], tensors["lora_up.weight"]
    rank = int(down.shape[0])
    scale = 1.0 if alpha is None else alpha / rank
    merged = base + (flat(up) @ flat(down)).reshape(base.shape) * scale
    return decomposed(merged, tensors["dora_scale"].float()) - base


# No `scaled`: DoRA's change is renormalised, not proportional to any factor, so no file is
# "this one at 0.6"; the strength in the prompt does that (W + s · (DoRA(W) − W)).
scaled = None


def inject(model: Any, groups: Groups, adapter: str) -> None:
    from lora_for_dummies.lora.kinds.dora_layer import wrap_targets

    for targets, rank, alpha in groups:
        wrap_targets(model, targets, rank, alpha)


def file_module(layer: Any, adapter: str) -> KindModule:
    def copy(tensor: Any) -> Any:
        return tensor.detach().float().cpu().clone()

    tensors = {"lora_down.weight": copy(layer.lora_down.weight),
               "lora_up.weight": copy(layer.lora_up.weight),
               "dora_scale": copy(layer.dora_scale)}
    return KindModule("dora", tensors, float(layer.alpha))


def kohya_network(network: Any) -> tuple[str, dict[str, str]]:
    return lycoris_network(network, "lora", dora_wd="True")
