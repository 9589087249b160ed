"""The Dataset tab's auto-caption choices survive a page refresh: what the last caption run
(or preview) was started with is kept beside the Train tab's last settings and offered again
at every page load."""

from __future__ import annotations

import json
from typing import Any

from lora_for_dummies.atomic import write_text_atomic
from lora_for_dummies.hosts.base import Host

FILE = "last_caption_settings.json"
# In the order of the caption run's inputs after dataset and concept.
FIELDS = ("captioner", "model", "mode", "general", "character", "rating", "escape", "blacklist",
          "traits")


def remember(host: Host, values: tuple[Any, ...]) -> None:
    try:
        write_text_atomic(host.runs_dir() / FILE,
                          json.dumps(dict(zip(FIELDS, values, strict=False))) + "\n")
    except OSError:  # a read-only runs folder: the run itself goes on
        pass


def recalled(host: Host, field: str, default: Any, kind: type) -> Any:
    """The remembered value of `field` when it is of `kind`, else `default`."""
    try:
        value = json.loads((host.runs_dir() / FILE).read_text(encoding="utf-8"))[field]
    except (OSError, ValueError, KeyError, TypeError):
        return default
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value if isinstance(value, kind) else default
