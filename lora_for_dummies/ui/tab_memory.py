"""A refresh comes back on the tab the user was on: the tab last chosen is kept beside the
form's last settings (the same server-side memory that brings the form back) and chosen again
at every page load. One user per app, as for the rest of the form."""

from __future__ import annotations

import json
from typing import Any

from lora_for_dummies.atomic import write_text_atomic
from lora_for_dummies.hosts.base import Host

FILE = "last_tab.json"


def remember_tab(host: Host, tab_id: str) -> None:
    try:
        write_text_atomic(host.runs_dir() / FILE, json.dumps({"tab": tab_id}) + "\n")
    except OSError:  # a read-only runs folder: the page still works, it only forgets the tab
        pass


def last_tab(host: Host, tab_ids: list[str]) -> str:
    """The tab last chosen when it is still one of `tab_ids`, else the first."""
    try:
        chosen = json.loads((host.runs_dir() / FILE).read_text(encoding="utf-8"))["tab"]
    except (OSError, ValueError, KeyError, TypeError):
        return tab_ids[0]
    return chosen if chosen in tab_ids else tab_ids[0]


def follow_tabs(host: Host, tabs: Any, items: dict[str, Any]) -> None:
    """Wire `tabs` (a gr.Tabs) and its `items` (id → gr.Tab, each built with that `id`): a
    click on a tab is remembered, a page load selects the remembered one."""
    from lora_for_dummies.ui import compat

    for tab_id, item in items.items():
        item.select(_remembers(host, tab_id), None, None)
    ids = list(items)

    def on_load() -> Any:
        # The first tab is where a page opens anyway: no update then, so that a click on a
        # tab made before this answer arrived is not undone.
        chosen = last_tab(host, ids)
        return compat.update() if chosen == ids[0] else compat.update(selected=chosen)

    compat.on_page_load(on_load, [tabs])


def _remembers(host: Host, tab_id: str) -> Any:
    def chose() -> None:
        remember_tab(host, tab_id)

    chose.__name__ = f"chose_{tab_id}"  # one handler per tab, told apart by name
    return chose
