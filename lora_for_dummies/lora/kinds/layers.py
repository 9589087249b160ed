"""What the kinds' plug-ins share: tensor shapes as the loaders read them, and putting peft's
trainable layers on a model's target modules."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

# Where a parametrized layer's own parameters live (`parametrized.py`):
# `<layer>.parametrizations.weight.0.<name>`; the frozen base is `….weight.original`.
PARAMETRIZED = ".parametrizations.weight.0."
# [(target module names, rank, alpha)]: the linear layers, then the convolutions (LoCon)
Groups = list[tuple[list[str], int, float]]


def flat(tensor: Any) -> Any:
    """A factor as a matrix in fp32: (rows, everything else), as A1111's
    `lyco_helpers.rebuild_conventional` multiplies them."""
    return tensor.float().reshape(tensor.shape[0], -1)


def tucker(core: Any, rows: Any, columns: Any) -> Any:
    """A Tucker-factored convolution (`hada_t1`, `lokr_t2`: core (r, r, k, k), rows (r, out),
    columns (r, in)) as its (out, in, k, k) weight (LyCORIS `make_weight_cp`)."""
    import torch

    return torch.einsum("i j k l, i p, j r -> p r k l", core.float(), rows.float(),
                        columns.float())


def shaped(change: Any, weight: Any) -> Any:
    """`change` in the layer's shape: a loader reshapes a change of the same size (A1111
    `NetworkModule.finalize_updown`); without the layer, as computed."""
    return change if weight is None else change.reshape(weight.shape)


def peft_inject(model: Any, groups: Groups, adapter: str,
                config: Callable[[list[str], int, float], Any]) -> None:
    """Put one peft adapter on every group's targets, each group with its own rank and alpha;
    `config(targets, rank, alpha)` builds the kind's peft config."""
    from peft import inject_adapter_in_model

    for targets, rank, alpha in groups:
        with warnings.catch_warnings():
            # The conv layers join the same adapter with their own rank: peft's "multiple
            # adapters" warning about that second call is expected, not a problem.
            warnings.filterwarnings("ignore", message="Already found a `peft_config`")
            inject_adapter_in_model(config(targets, rank, alpha), model, adapter_name=adapter)


def peft_tensors(layer: Any, adapter: str, names: tuple[str, ...]) -> dict[str, Any]:
    """The layer's trained peft parameters of these names (those it has), as fp32 CPU copies."""
    out = {}
    for name in names:
        store = getattr(layer, name)
        if adapter in store:
            out[name] = store[adapter].detach().float().cpu().clone()
    return out
