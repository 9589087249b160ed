"""Lists of files (models, datasets, concepts, runs, LoRAs): a 🔄 beside each, and the list as
it is now at every page load, not as it was when the server started."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lora_for_dummies.hosts.base import Host
from lora_for_dummies.ui import compat


def refreshable(host: Host, component: Any, refresh: Callable[[], None],
                choices: Callable[[], dict[str, Any]], elem_id: str) -> Any:
    """The host's 🔄 button for `component` (the webui's own where the tab runs in it), and the
    same refresh when a page (re)loads. Returns the button."""
    def on_load() -> Any:
        _refresh_once(refresh)
        return compat.update(**choices())

    on_load.__name__ = f"list_{elem_id}"
    compat.on_page_load(on_load, [component])
    return host.refresh_button(component, refresh, choices, elem_id)


def lora_titles(host: Host) -> list[str]:
    """The LoRA files of the host's Lora folder, subfolders included, as paths inside it."""
    folder = host.lora_dir()
    if not folder.is_dir():
        return []
    return sorted((p.relative_to(folder).as_posix() for p in folder.rglob("*.safetensors")),
                  key=str.lower)


_LAST_RUN: dict[Callable[[], None], float] = {}
ONE_PAGE_LOAD_S = 2.0  # a page's load events arrive together


def _refresh_once(refresh: Callable[[], None]) -> None:
    """Four lists show the checkpoints: one page load re-scans them once (a bound method such
    as `host.refresh_checkpoints` is equal to itself each time it is looked up)."""
    now = time.monotonic()
    if now - _LAST_RUN.get(refresh, -ONE_PAGE_LOAD_S) >= ONE_PAGE_LOAD_S:
        _LAST_RUN[refresh] = now
        refresh()
