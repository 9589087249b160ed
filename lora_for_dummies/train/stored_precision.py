"""Frozen weights kept in the file's half precision while the step computes in fp32.

A run in fp32 (every CPU run; a GPU without fp16/bf16) used to widen the whole frozen UNet to
fp32 at load: SD1.5's 860 M weights take 3.4 GB that way, 1.7 GB as stored in a usual fp16
file. Widening is exact (every fp16 or bf16 value is an fp32 value), so a layer may just as well
widen its weight when it runs: the step computes the same numbers, and the model in memory is
the file's size. A plain cast inside `forward` would not do, because autograd keeps the widened
weight of every layer until the backward pass (it needs it for the input's gradient); here the
layer keeps the stored weight for that and widens it again, one layer at a time.

diffusers' `enable_layerwise_casting` (0.33+) casts module weights around `forward` for
inference; it is not on the hosts' pinned diffusers (0.31) and keeps the widened copies alive
through a backward pass, which is what this avoids.

On a CPU each layer widens into one buffer its model reuses (`WideningBuffer`): a fresh 59 MB
tensor per layer and pass is memory the kernel must fault in and zero every time (measured: a
1280×1280×3×3 weight widened in 41 ms with `.to()`, 6.6 ms into the buffer), and with gradient
checkpointing every weight is widened three times a step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

HALF = (torch.float16, torch.bfloat16)
# fp8 storage (torch ≥ 2.1): Flux's fp8 files, and `training.fp8_base` — half of bf16's memory
# for the frozen base, every layer widened to bf16 as it runs (kohya's `--fp8_base`).
FP8 = tuple(getattr(torch, name) for name in ("float8_e4m3fn", "float8_e5m2")
            if hasattr(torch, name))
NARROW = HALF + FP8


class WideningBuffer:
    """Where one model's layers widen their stored weights, one layer at a time: on a CPU a
    buffer the size of the largest weight, reused (a step runs its layers one after another,
    and no widened weight outlives the call that widened it); elsewhere a plain cast, since
    CUDA's caching allocator already reuses its blocks."""

    def __init__(self, largest: int) -> None:
        self.largest = largest
        self._buffer: Any = None

    def widen(self, weight: Any, dtype: Any) -> Any:
        if weight.device.type != "cpu":
            return weight.to(dtype)
        if self._buffer is None or self._buffer.dtype != dtype:
            self._buffer = torch.empty(self.largest, dtype=dtype)
        return self._buffer[:weight.numel()].view(weight.shape).copy_(weight)


class _Linear(torch.autograd.Function):
    """y = x·Wᵀ + b with W, b stored narrower than x; only x gets a gradient (frozen layer)."""

    @staticmethod
    def forward(ctx: Any, x: Any, weight: Any, bias: Any, widening: WideningBuffer) -> Any:
        ctx.save_for_backward(weight)  # the stored weight: the widened one is overwritten next
        ctx.widening = widening
        return F.linear(x, widening.widen(weight, x.dtype),
                        None if bias is None else bias.to(x.dtype))

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, None, None, None]:
        (weight,) = ctx.saved_tensors
        return grad.matmul(ctx.widening.widen(weight, grad.dtype)), None, None, None


class _Conv2d(torch.autograd.Function):
    """A zero-padded 2-D convolution with a narrower stored weight; the input's gradient only."""

    @staticmethod
    def forward(ctx: Any, x: Any, weight: Any, bias: Any, widening: WideningBuffer,
                stride: Any, padding: Any, dilation: Any, groups: int) -> Any:
        ctx.save_for_backward(weight)
        ctx.widening = widening
        ctx.geometry = (x.shape, stride, padding, dilation, groups)
        return F.conv2d(x, widening.widen(weight, x.dtype),
                        None if bias is None else bias.to(x.dtype), stride, padding, dilation,
                        groups)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, ...]:
        (weight,) = ctx.saved_tensors
        shape, stride, padding, dilation, groups = ctx.geometry
        grad_input = torch.nn.grad.conv2d_input(shape, ctx.widening.widen(weight, grad.dtype),
                                                grad, stride, padding, dilation, groups)
        return (grad_input,) + (None,) * 8


class StoredLinear(nn.Linear):
    """An nn.Linear (peft wraps it like any other) whose frozen weight stays as stored;
    `lfd_widening` (set by `compute_in`) is its model's WideningBuffer."""

    def forward(self, x: Any) -> Any:
        if self.weight.dtype == x.dtype:
            return super().forward(x)
        return _Linear.apply(x, self.weight, self.bias, self.lfd_widening)


class StoredConv2d(nn.Conv2d):
    def forward(self, x: Any) -> Any:
        if self.weight.dtype == x.dtype:
            return super().forward(x)
        return _Conv2d.apply(x, self.weight, self.bias, self.lfd_widening, self.stride,
                             self.padding, self.dilation, self.groups)


def _keeps_stored(module: nn.Module) -> bool:
    """Frozen plain Linear / zero-padded Conv2d layers with half-precision weights."""
    if type(module) is nn.Linear:
        kind = True
    elif type(module) is nn.Conv2d:
        kind = module.padding_mode == "zeros" and not isinstance(module.padding, str)
    else:
        return False
    parameters = [p for p in (module.weight, module.bias) if p is not None]
    return kind and all(p.dtype in NARROW and not p.requires_grad for p in parameters)


COMPUTE_DTYPE = "lfd_compute_dtype"  # set on a model by `compute_in`


def compute_in(model: nn.Module, dtype: Any) -> int:
    """Make a frozen `model`, loaded in the file's half precision, compute in `dtype`: its
    Linear and Conv2d weights stay as stored and are widened as each layer runs; every other
    parameter and buffer (norms, embeddings: a few MB) is converted now. Call it before LoRA
    layers are added. Returns how many layers keep their stored weights."""
    layers = [module for module in model.modules() if _keeps_stored(module)]
    widening = WideningBuffer(max((m.weight.numel() for m in layers), default=0))
    for module in layers:
        module.__class__ = StoredLinear if type(module) is nn.Linear else StoredConv2d
        module.lfd_widening = widening
    stored = {id(p) for m in model.modules() if isinstance(m, (StoredLinear, StoredConv2d))
              for p in m.parameters(recurse=False)}
    for module in model.modules():
        for parameter in module.parameters(recurse=False):
            if id(parameter) not in stored and parameter.is_floating_point():
                parameter.data = parameter.data.to(dtype)
        for name, buffer in list(module.named_buffers(recurse=False)):
            if buffer.is_floating_point():
                setattr(module, name, buffer.to(dtype))
    setattr(model, COMPUTE_DTYPE, dtype)
    return len(layers)


def compute_dtype(model: nn.Module) -> Any:
    """The dtype `model` computes in (its first parameter's, unless `compute_in` set it)."""
    return getattr(model, COMPUTE_DTYPE, None) or next(model.parameters()).dtype


def stored_half_dtype(dtypes: list[str]) -> Any:
    """The half precision a file stores a model's weights in (its float tensors' dtype names,
    e.g. "float16"), or None when any is wider (then it is widened at load, as before)."""
    floats = {d for d in dtypes if d.startswith(("float", "bfloat"))}
    if len(floats) == 1 and (only := floats.pop()) in ("float16", "bfloat16"):
        return getattr(torch, only)
    return None


def load_for_compute(base: str | Path, dtypes: dict[str, Any], device: str,
                     configs: dict[str, Any] | None = None,
                     should_stop: Any = None) -> tuple[Any, list[str]]:
    """Load the components named in `dtypes` ({component: the dtype it computes in}). One that
    computes in fp32 while the file stores it all in fp16 or bf16 stays as stored
    (`compute_in`); any other is converted at load. Returns (LoadedModels, lines for the run's
    log: one per component kept as stored)."""
    from lora_for_dummies.checkpoints.detect import detect_family
    from lora_for_dummies.checkpoints.models import load_models
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.families import UNET_PREFIX, VAE_PREFIX, get_family

    with CheckpointFile(base) as ckpt:
        prefixes = {"unet": UNET_PREFIX, "vae": VAE_PREFIX} | {
            spec.name: spec.prefix for spec in get_family(detect_family(ckpt)).text_encoders}
        stored = {name: stored_half_dtype([ckpt.dtype(k) for k in ckpt.keys()
                                           if k.startswith(prefixes[name])])
                  if dtype == torch.float32 else None for name, dtype in dtypes.items()}
    groups: dict[Any, list[str]] = {}  # components loaded at the same dtype: one file pass
    for name, dtype in dtypes.items():
        groups.setdefault(stored[name] or dtype, []).append(name)
    loaded, notes = None, []
    for load_dtype, names in groups.items():  # load_models holds one file copy of one at most
        part = load_models(base, names, dtype=load_dtype, device=device, configs=configs,
                           should_stop=should_stop)  # a Stop ends loading within seconds
        configs = part.configs
        if loaded is None:
            loaded = part
        else:
            loaded.models.update(part.models)
    for name, dtype in dtypes.items():
        if stored[name] is not None:
            kept = compute_in(loaded.models[name], dtype)
            notes.append(f"{name} kept in the file's {str(stored[name])[6:]} ({kept} layers), "
                         "computed in fp32")
    return loaded, notes
