"""Model families as plug-ins: one module per family behind this registry (the shape of
diffusers' pipelines and A1111's `network_*.py`).

A family module defines `FAMILY`, a `base.Family` whose data and methods say everything that
differs between families: how its files are recognised, its parts and configs, LoRA names and
metadata, text encoding, resolutions, Performance Wizard choices, hosts. Adding a family is one
module named in `PLUGINS` plus its test fixtures; shared code asks `get_family(key)` and
never compares a family's key.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from lora_for_dummies.families.base import (
    ASSETS,
    HOST_KINDS,
    UNET_PREFIX,
    VAE_PREFIX,
    Family,
    TextEncoderSpec,
    bundled_config,
)

__all__ = ["ASSETS", "DEFAULT", "HOST_KINDS", "PLUGINS", "UNET_PREFIX", "VAE_PREFIX", "Family",
           "TextEncoderSpec", "all_families", "available_on", "bundled_config",
           "component_names", "family_of_lora", "get_family", "keys", "part_folders",
           "recognise", "unavailable_reason"]

# The plug-in modules, in the order files are tried (and the family choices are shown).
PLUGINS = ("sd1", "sd2", "sdxl", "flux", "zimage", "anima")
DEFAULT = "sd1"  # what a new job, the CLI and the demo start from


@cache
def _registry() -> dict[str, Family]:
    registry: dict[str, Family] = {}
    for name in PLUGINS:
        family = importlib.import_module(f"{__name__}.{name}").FAMILY
        registry[family.key] = family
    return registry


def get_family(key: str) -> Family:
    """The family of this key; a clear ValueError for one no plug-in provides."""
    try:
        return _registry()[key]
    except KeyError:
        raise ValueError(f"model family must be one of {', '.join(keys())}, not {key!r}") \
            from None


def keys() -> tuple[str, ...]:
    return tuple(_registry())


def all_families() -> tuple[Family, ...]:
    return tuple(_registry().values())


def recognise(checkpoint_keys: Any) -> Family | None:
    """The family whose marks the checkpoint carries (anything with `in`), or None."""
    return next((f for f in all_families() if f.recognises(checkpoint_keys)), None)


def family_of_lora(base_model_version: str) -> Family | None:
    """The family whose LoRAs carry this `ss_base_model_version` (None: none we know)."""
    return next((f for f in all_families() if base_model_version in f.lora_base_model_versions()),
                None)


def unavailable_reason(key: str, host_kind: str) -> str:
    """Why a host of this kind cannot train the family ("" when it can)."""
    family = get_family(key)
    return family.unavailable_on(host_kind) or family.training_unavailable()


def available_on(host_kind: str) -> tuple[tuple[str, ...], str]:
    """(the families a host of this kind trains — the choices of the Train and Dataset tabs —,
    one line saying why any is missing: the host cannot run it, or its training is not built)."""
    if host_kind not in HOST_KINDS:
        raise ValueError(f"host kind must be one of {', '.join(HOST_KINDS)}, not {host_kind!r}")
    runs, notes = [], []
    for family in all_families():
        why = unavailable_reason(family.key, host_kind)
        if why:
            notes.append(why)
        else:
            runs.append(family.key)
    return tuple(runs), "; ".join(notes)


def part_folders() -> frozenset[str]:
    """Folder names (lower case) where the families keep separate parts — text encoders,
    VAEs — and never a base model: a host's model list leaves them out."""
    return frozenset(name.lower() for family in all_families() for name in family.part_folders)


def component_names(key: str) -> list[str]:
    return get_family(key).component_names()
