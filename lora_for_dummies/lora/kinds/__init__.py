"""The kinds of module a LoRA file can hold — LoRA / LoCon, DoRA, LoHa, LoKr, full — one module
each behind this registry (the shape of A1111's `network_*.py` and ComfyUI's `weight_adapter/`).

A kind is known by the parameter names of its module in the file (`<module>.<parameter>`, the
LyCORIS layout the webuis load; names from A1111 1.10's `extensions-builtin/Lora/network_lora.py`,
`network_hada.py`, `network_lokr.py`, `network_full.py`, DoRA's `dora_scale` from `network.py`).

Each plug-in module holds, for its kind:
- `KIND`: how a file's module is recognised (`lora-info`, the LoRA tools' refusals);
- `delta(tensors, alpha, weight)`: the weight change a loader makes from the file's tensors (the
  formula of A1111's `network_*.py`, which ComfyUI's `weight_adapter/` shares);
- `scaled(tensors, factor)`: the module whose change is `factor` × this one's (`rescale`), or
  None where no such module exists (DoRA);
- `inject(model, groups, adapter)` / `file_module(layer, adapter)`: training — the trainable
  layers put on the model's target modules, and what of them is written to the file;
  `TRAINED`, the parameter names training updates; `RANK_LIMITED`, whether the rank may not
  pass a layer's smaller side;
- `kohya_network(network)`: `ss_network_module` and `ss_network_args` as kohya's tools write
  them for this kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

Shapes = dict[str, tuple[int, ...]]  # a module's parameter name → tensor shape


@dataclass(frozen=True)
class LoraKind:
    key: str  # "loha"
    label: str  # what a user reads: "LoHa"
    marks: tuple[str, ...]  # parameter names any one of which makes a module this kind
    rank: Callable[[Shapes], int | None]  # the module's rank (None: a kind without one)
    needs: tuple[str, ...] = ()  # parameter names that must be there too
    what: str = ""  # one line: what the kind is, for lora-info
    # Why diffusers' load_lora_weights cannot apply it ("": it can), measured on diffusers
    # 0.37.1 and 0.42.1 (tests/test_train_kinds.py)
    not_in_diffusers: str = ""

    def matches(self, shapes: Shapes) -> bool:
        return any(m in shapes for m in self.marks) and all(n in shapes for n in self.needs)

    def label_for(self, shapes: Shapes) -> str:
        return self.label


# Most specific first: a DoRA module is a LoRA module with one parameter more.
PLUGINS = ("dora", "lora", "loha", "lokr", "full")


def plugin(key: str) -> ModuleType:
    """The plug-in module of a kind (`lora`, `dora`, `loha`, `lokr`, `full`)."""
    if key not in PLUGINS:
        from lora_for_dummies.errors import UserError

        raise UserError(f"kind of LoRA must be one of {', '.join(TRAINABLE)}, not {key!r}")
    return importlib.import_module(f"{__name__}.{key}")


def kinds() -> list[LoraKind]:
    return [plugin(name).KIND for name in PLUGINS]


# What the Train tab offers, in the order it offers them (every kind trains).
TRAINABLE = ("lora", "dora", "loha", "lokr", "full")


@dataclass
class KindModule:
    """One module of a kind other than plain LoRA / LoCon, as the file holds it: its tensors
    by parameter name (`hada_w1_a`, `dora_scale`, …) and its alpha (None: the file has none)."""

    kind: str  # a PLUGINS key
    tensors: dict[str, Any] = field(default_factory=dict)
    alpha: float | None = None

    @property
    def rank(self) -> int | None:
        return plugin(self.kind).KIND.rank({k: tuple(v.shape) for k, v in self.tensors.items()})

    def delta(self, weight: Any = None) -> Any:
        """The weight change in fp32, shaped like `weight` (the layer's weight, which DoRA
        needs; the others only take its shape)."""
        return plugin(self.kind).delta(self.tensors, self.alpha, weight)

    def file_tensors(self) -> dict[str, Any]:
        """{parameter name: tensor} as written (`alpha` included when the module has one)."""
        import torch

        out = dict(self.tensors)
        if self.alpha is not None:
            out["alpha"] = torch.tensor(float(self.alpha))
        return out


# Parameters whose own name holds a dot (kohya's and peft's), read from the key's end; any other
# parameter is the key's last part (`alpha`, `hada_w1_a`, `dora_scale`, `diff` …).
_DOTTED = ("lora_down.weight", "lora_up.weight", "lora_mid.weight", "lora_A.weight",
           "lora_B.weight")
# peft's names of a LoRA's two tensors, read as kohya's (the kinds below know those)
_AS_KOHYA = {"lora_A.weight": "lora_down.weight", "lora_B.weight": "lora_up.weight"}


def split_key(key: str) -> tuple[str, str]:
    """`lora_unet_x.hada_w1_a` → (`lora_unet_x`, `hada_w1_a`); a module name may hold dots
    (`diffusion_model.layers.0.attention.to_q.lora_A.weight` → (`diffusion_model.layers.0.
    attention.to_q`, `lora_down.weight`): peft's names are read as kohya's)."""
    for parameter in _DOTTED:
        if key.endswith("." + parameter):
            return key[: -len(parameter) - 1], _AS_KOHYA.get(parameter, parameter)
    if key.startswith("lora_"):  # kohya: the module name holds no dot
        module, _, parameter = key.partition(".")
        return module, parameter
    module, _, parameter = key.rpartition(".")
    return (module, parameter) if module else (key, "")


def module_shapes(shapes: dict[str, tuple[int, ...]]) -> dict[str, Shapes]:
    """A file's tensor shapes grouped by module."""
    grouped: dict[str, Shapes] = {}
    for key, shape in shapes.items():
        module, parameter = split_key(key)
        if parameter:
            grouped.setdefault(module, {})[parameter] = tuple(shape)
    return grouped


def kind_of(shapes: Shapes) -> LoraKind | None:
    return next((kind for kind in kinds() if kind.matches(shapes)), None)


def file_kinds(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[LoraKind, Shapes]]:
    """{module: (its kind, its parameter shapes)} for every module of a known kind."""
    found = {}
    for module, params in module_shapes(shapes).items():
        kind = kind_of(params)
        if kind is not None:
            found[module] = (kind, params)
    return found


def kinds_line(found: dict[str, tuple[LoraKind, Shapes]]) -> dict[str, int]:
    """{label: modules}, e.g. {"LoRA": 192, "LoCon": 22}."""
    counts: dict[str, int] = {}
    for kind, params in found.values():
        label = kind.label_for(params)
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


# The labels every writer and LoRA tool of ours handles (lora/format.py); the rest are read only.
HANDLED = ("LoRA", "LoCon")


def unhandled(counts: dict[str, int]) -> list[str]:
    """The labels of `kinds_line` that the tools cannot work on."""
    return [label for label in counts if label not in HANDLED]
