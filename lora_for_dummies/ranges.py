"""The one table of ranges for every numeric setting of every job.

Each job's `validate()` (train, dataset processing, extraction, the LoRA tools, best-step) calls
`check_fields` / `check_value` with its own prefix, wherever the job was built (CLI, tab, API),
so a value out of range is refused with one line naming the field, the value and the range
before any work starts. Ranges follow what the models and the code allow, not taste.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from lora_for_dummies import messages as msg

SEED_MAX = 2**32 - 1  # numpy / torch generators take 32-bit seeds everywhere we pass them
RESOLUTION = (64, 4096)  # the smallest the VAE + UNet downsampling allows; the largest sane


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    integer: bool = True
    multiple: int = 0  # the value must be a multiple of this (0: any)
    low_open: bool = False  # low itself is not allowed (alpha 0, factor 0)
    note: str = ""  # what a special value means, shown in the message

    def describe(self) -> str:
        low = f"above {self.low:g}" if self.low_open else f"{self.low:g}"
        text = f"{low}–{self.high:g}" if not self.low_open else f"{low} and at most {self.high:g}"
        if self.multiple:
            text += f", a multiple of {self.multiple}"
        return text + (f" ({self.note})" if self.note else "")

    def check(self, field: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise msg.NOT_A_NUMBER.error(field=field, value=value, allowed=self.describe())
        if self.integer and (isinstance(value, float) and not value.is_integer()):
            raise msg.NOT_WHOLE.error(field=field, value=value, allowed=self.describe())
        if isinstance(value, float) and not math.isfinite(value):
            raise msg.NOT_FINITE.error(field=field, value=value, allowed=self.describe())
        too_low = value <= self.low if self.low_open else value < self.low
        if too_low or value > self.high or (self.multiple and value % self.multiple):
            raise msg.OUT_OF_RANGE.error(field=field, value=value, allowed=self.describe())
        return value


def _int(low: float, high: float, note: str = "", multiple: int = 0) -> Range:
    return Range(low, high, True, multiple, False, note)


def _real(low: float, high: float, note: str = "", low_open: bool = False) -> Range:
    return Range(low, high, False, 0, low_open, note)


_SIDE = _int(*RESOLUTION, multiple=8)
_SEED = _int(0, SEED_MAX)
# the model-specific cap (the adapted layers' sizes) is checked once the model is known
_RANK = _int(1, 131_072)
_PROBABILITY = _real(0, 1)
_ALPHA = _real(0, 100_000, "scale = alpha / rank", low_open=True)
_STEPS = 10_000_000
# With aspect-ratio buckets every bucket side is a multiple of 64 (dataset/crop.py), so the
# resolution the buckets are built around must be one too.
BUCKET_SIDE = _int(*RESOLUTION, multiple=64)

RANGES: dict[str, Range] = {
    # train job (train/config.py)
    "model.clip_skip": _int(0, 12, "0: as the model suggests"),
    "concepts.repeats": _int(0, 10_000, "0: the dataset's setting"),
    "dataset.repeats": _int(1, 10_000),  # a dataset's own (Dataset tab, kohya N_ folders)
    "concepts.class_images": _int(0, 100_000),
    "network.rank": _RANK,
    "network.alpha": _ALPHA,
    "network.conv_rank": _int(0, 1024, "0: off"),
    "network.conv_alpha": _ALPHA,
    "optimizer.unet_lr": _real(0, 10),
    "optimizer.text_encoder_lr": _real(0, 10),
    "optimizer.weight_decay": _real(0, 10),
    "optimizer.warmup": _real(0, _STEPS, "below 1: a fraction of the steps; from 1: steps"),
    "optimizer.cycles": _int(1, 10_000),
    "optimizer.power": _real(0, 100, low_open=True),
    "optimizer.max_grad_norm": _real(0, 1e6, "0: no clipping"),
    "training.steps": _int(1, _STEPS),
    "training.batch_size": _int(1, 1024),
    "training.gradient_accumulation": _int(1, 1024),
    "training.resolution": _SIDE,
    "training.noise_offset": _real(0, 1),
    "training.min_snr_gamma": _real(0, 100, "0: off"),
    "training.prior_loss_weight": _real(0, 100),
    "training.keep_tags": _int(0, 1000),
    "training.caption_dropout": _PROBABILITY,
    "training.max_token_chunks": _int(1, 3, "75 tokens each, as kohya"),
    "training.seed": _SEED,
    "samples.every": _int(0, _STEPS, "0: only before and after training"),
    "samples.seed": _SEED,
    "samples.cfg": _real(0, 50),
    "samples.guidance_rescale": _real(0, 1, "0: off; 0.7 on zero-terminal-SNR models"),
    "samples.steps": _int(1, 500),
    "samples.width": _SIDE,
    "samples.height": _SIDE,
    "save.every": _int(0, _STEPS, "0: only at the end"),
    "save.keep_last": _int(0, 100_000, "0: keep all"),
    "save.preferred_weight": _real(-10, 10),
    # dataset processing (dataset/process.py)
    "process.high": _SIDE,
    "process.low": _SIDE,
    "process.tile_ratio": _real(1, 100),
    "process.quality": _int(1, 100),
    # extraction and the LoRA tools (extract/, lora/tools.py)
    "rank.rank": _RANK,
    "rank.threshold": _real(0, 1, "fraction kept, or the smallest σ/σmax", low_open=True),
    "rank.oversample": _int(0, 1024),
    "rank.power_iterations": _int(0, 100),
    "extract.clamp": _real(0, 1, "a quantile, e.g. 0.99", low_open=True),
    "extract.min_part_difference": _real(0, 1),
    "rescale.factor": _real(0, 100, "1: unchanged", low_open=True),
    "merge.weight": _real(-100, 100),
    # best-step grid (train/bestgrid.py)
    "best.strength": _real(-10, 10),
    "best.cfg": _real(0, 50),
    "best.seed": _SEED,
}


def check_value(key: str, value: Any, field: str | None = None) -> Any:
    """Check one value against the table entry `key`; `field` is the name shown (default key)."""
    return RANGES[key].check(field or key, value)


def check_fields(obj: Any, prefix: str, shown: str | None = None) -> None:
    """Check every field of the dataclass `obj` that has an entry `<prefix>.<field>`; fields
    are named `<shown>.<field>` in messages (`shown` defaults to the prefix; "" names the
    field alone)."""
    shown = prefix if shown is None else shown
    for item in dataclasses.fields(obj):
        key = f"{prefix}.{item.name}"
        if key in RANGES:
            value = getattr(obj, item.name)
            if value is not None:
                RANGES[key].check(f"{shown}.{item.name}" if shown else item.name, value)
