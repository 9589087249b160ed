"""A transformer file checked against the tensors its architecture holds: one rule for every
family that recognises files by their names and shapes (Flux, Z-Image, Anima)."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from lora_for_dummies.errors import CheckpointError


def indexed_count(keys: list[str], prefix: str) -> int:
    """How many numbered blocks `prefix.N.…` the keys hold (the highest N + 1)."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.")
    found = {int(m.group(1)) for key in keys if (m := pattern.match(key))}
    return max(found) + 1 if found else 0


def check_expected(view: Any, prefix: str, expected: dict[str, tuple[int, ...]],
                   name: str) -> tuple[str, int]:
    """Every tensor of `expected` (name → shape, without `prefix`) is in the open file `view`
    with that shape, else CheckpointError in one line saying which (`name`: "Z-Image", "dev
    Flux"). Returns (the dtype most parameters are stored in, the parameter count)."""
    present = set(view.keys())
    missing = [k for k in expected if prefix + k not in present]
    if missing:
        raise CheckpointError(view.path, f"incomplete {name} file: {len(missing)} of its "
                              f"{len(expected)} tensors are missing, e.g. {prefix + missing[0]}; "
                              "download it again")
    article = "an" if name[:1].lower() in "aeiou" else "a"
    counts: Counter[str] = Counter()
    for key, shape in expected.items():
        stored = tuple(view.shape(prefix + key))
        if stored != tuple(shape):
            raise CheckpointError(view.path, f"{prefix + key} has shape {list(stored)}, not "
                                  f"{list(shape)} as {article} {name} file of this size holds")
        counts[view.dtype(prefix + key)] += math.prod(shape)
    return (counts.most_common(1)[0][0] if counts else "unknown"), sum(counts.values())
