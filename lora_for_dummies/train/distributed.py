"""Several processes (`accelerate launch`, one per GPU): the accelerator, which models it wraps,
how each process takes its share of the batches, and when gradients are averaged.

The rule that keeps every rank's LoRA identical: every model with trained weights goes through
`accelerator.prepare` (the UNet and, when trained, each text encoder), so their gradients are
averaged across processes before each optimizer step. Micro-batches of an accumulated step run
under `accelerator.accumulate`, which skips that all-reduce until the step's last one. One
process behaves exactly as before: accelerate wraps nothing and every step syncs.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterable, Iterator
from typing import Any


def make_accelerator(precision: str, cuda: bool, accumulation: int) -> Any:
    """The run's Accelerator: mixed precision, device, gradient accumulation. Every trained
    weight gets a gradient (no LoRA where clip skip leaves text-encoder layers out), so DDP
    needs no search for unused parameters."""
    from accelerate import Accelerator

    return Accelerator(mixed_precision={"fp32": "no"}.get(precision, precision), cpu=not cuda,
                       gradient_accumulation_steps=accumulation)


def prepare_trained(accelerator: Any, trained: dict[str, Any], optimizer: Any
                    ) -> tuple[dict[str, Any], Any]:
    """Wrap every model that has trained weights (and the optimizer) for this run's processes;
    returns them in the same order, by the same names."""
    names = list(trained)
    prepared = accelerator.prepare(*[trained[name] for name in names], optimizer)
    return dict(zip(names, prepared[:-1], strict=True)), prepared[-1]


def accumulating(accelerator: Any, models: list[Any]) -> contextlib.AbstractContextManager:
    """`accelerator.accumulate` over every trained model. accelerate before 0.24 (A1111 1.10
    pins 0.21) takes one model: that one decides the step and the others follow its choice."""
    parameters = inspect.signature(accelerator.accumulate).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return accelerator.accumulate(*models)
    stack = contextlib.ExitStack()
    stack.enter_context(accelerator.accumulate(models[0]))
    if not accelerator.sync_gradients:
        for model in models[1:]:
            stack.enter_context(accelerator.no_sync(model))
    return stack


def shard(batches: Iterable[Any], accelerator: Any) -> Iterator[Any]:
    """Each process takes every n-th batch: the same sequence as one process with an n-times
    larger batch, split between them."""
    ranks, rank = accelerator.num_processes, accelerator.process_index
    return (batch for index, batch in enumerate(batches) if index % ranks == rank)


def describe(accelerator: Any) -> str:
    """The line each process logs at the start of a run on several."""
    return (f"rank {accelerator.process_index} of {accelerator.num_processes} "
            f"({accelerator.distributed_type.value}) on {accelerator.device}")
