"""Lists of files (models, datasets, concepts, runs, LoRAs): a 🔄 beside each, and the list as
it is now at every page load, not as it was when the server started."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lora_for_dummies.hosts.base import Host
from lora_for_dummies.ui import compat


def refreshable(host: Host, component: Any, refresh: Callable[[], None],
                choices: Callable[[], dict[str, Any]], elem_id: str) -> Any:
    """The host's 🔄 button for `component` (the webui's own where the tab runs in it), and the
    same refresh when a page (re)loads. Returns the button."""
    def on_load() -> Any:
        refresh()
        return compat.update(**choices())

    on_load.__name__ = f"list_{elem_id}"
    compat.on_page_load(on_load, [component])
    return host.refresh_button(component, refresh, choices, elem_id)
