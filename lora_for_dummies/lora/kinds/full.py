"""Full difference (`diff`, `diff_b` for the bias): the change itself, scale 1 (A1111 1.10
`network_full.py`). Trained as a whole-weight change of each target layer (its own parameter,
the base weight frozen): as large as the layers it covers, in the file and in memory."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.lora.kinds import KindModule, LoraKind, Shapes
from lora_for_dummies.lora.kinds.layers import PARAMETRIZED, Groups, shaped
from lora_for_dummies.lora.kinds.lycoris_args import lycoris_network

TRAINED = (PARAMETRIZED,)
RANK_LIMITED = False  # no rank

_NOT_IN_DIFFUSERS = "its load_lora_weights has no loader for it (ValueError: keys not renamed)"


def _rank(shapes: Shapes) -> None:
    return None


KIND = LoraKind("full", "full", ("diff",), _rank,
                what="the whole weight change, stored as it is: the largest files",
                not_in_diffusers=_NOT_IN_DIFFUSERS)


def delta(tensors: dict[str, Any], alpha: float | None, weight: Any = None) -> Any:
    # The bias change (`diff_b`) is not part of the weight's; the webuis add it to the bias.
    return shaped(tensors["diff"].float(), weight)


def scaled(tensors: dict[str, Any], factor: float) -> dict[str, Any]:
    out = dict(tensors, diff=tensors["diff"] * factor)
    if "diff_b" in tensors:
        out["diff_b"] = tensors["diff_b"] * factor
    return out


def inject(model: Any, groups: Groups, adapter: str) -> None:
    from lora_for_dummies.lora.kinds.parametrized import WholeChange, parametrize_targets

    for targets, _, _ in groups:
        parametrize_targets(model, targets, WholeChange)


def file_module(layer: Any, adapter: str) -> KindModule:
    from lora_for_dummies.lora.kinds.parametrized import adapter_of

    return KindModule("full", {"diff": adapter_of(layer).diff.detach().float().cpu().clone()})


def kohya_network(network: Any) -> tuple[str, dict[str, str]]:
    return lycoris_network(network, "full")
