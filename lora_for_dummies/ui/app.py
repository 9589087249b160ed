"""The extension's tabs, the same for the webui and the standalone app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lora_for_dummies.hosts.base import Host

TAB_TITLE = "LoRA for Dummies"


def build_tabs(host: Host, problems: list[str] | None = None) -> dict[str, Any]:
    """Build the sub-tabs inside the current gradio Blocks context.

    With `problems` (an incompatible library, from `environment.check_environment`) the tab
    shows them with the command that fixes them, and builds nothing that could fail.
    """
    import gradio as gr

    from lora_for_dummies.ui.dataset_tab import build_dataset_tab
    from lora_for_dummies.ui.extract_tab import build_extract_tab
    from lora_for_dummies.ui.models_tab import build_models_tab
    from lora_for_dummies.ui.train_tab import build_train_tab

    if problems:
        gr.Markdown("### LoRA for Dummies cannot start\n" + "\n".join(f"- {p}" for p in problems),
                    elem_id="lfd_problems")
        return {}
    parts: dict[str, Any] = {}
    items: dict[str, Any] = {}
    builders = {"Dataset": build_dataset_tab, "Train": build_train_tab,
                "Extract": build_extract_tab, "Models": build_models_tab}
    with gr.Tabs(elem_id="lfd_tabs") as tabs:
        for title, build in builders.items():
            key = title.lower()
            with gr.Tab(title, id=key, elem_id=f"lfd_tab_{key}") as items[key]:
                parts[key] = build(host)
    from gradio.context import Context

    from lora_for_dummies.ui.compat import escape_help
    from lora_for_dummies.ui.tab_memory import follow_tabs

    follow_tabs(host, tabs, items)  # a refresh comes back on the tab the user was on
    _follow_other_tabs(host, parts, Context.root_block)
    escape_help(Context.root_block)  # help text shows `<lora:NAME:0.8>` as typed
    return parts


def _follow_other_tabs(host: Host, parts: dict[str, Any], blocks: Any) -> None:
    """Lists that another tab changes refresh themselves: a dataset made on the Dataset tab
    is in the Train tab's list at once, without its 🔄."""
    from lora_for_dummies.dataset.layout import list_datasets
    from lora_for_dummies.ui import compat

    train_lists = [b for b in blocks.blocks.values()
                   if getattr(b, "elem_id", None) in ("lfd_train_dataset",)]
    for event in parts.get("dataset", {}).get("datasets_changed", []):
        for target in train_lists:
            event.then(lambda: compat.update(choices=list_datasets(host.datasets_dir())),
                       None, [target])


def build_guarded_tabs(host: Host, problems: list[str] | None,
                       loopback: Callable[[], bool]) -> dict[str, Any]:
    """`build_tabs` for a host whose FastAPI app is not ours (the webui): every event function
    the tabs register, wherever gradio registers it (the Blocks being built, or an outer one
    the host opened around it), checks its request's Host / Origin (`ui/request_guard.py`)."""
    from gradio.context import Context

    from lora_for_dummies.ui.request_guard import guard_events, snapshot

    root = Context.root_block
    before = snapshot(root)
    parts = build_tabs(host, problems)
    guard_events(root, loopback, since=before)
    return parts


def standalone_app(host: Host) -> Any:
    """A gr.Blocks app with the tabs, for `python -m lora_for_dummies serve`."""
    import gradio as gr

    from lora_for_dummies.environment import check_environment

    css = (_asset_text("style.css"))
    with gr.Blocks(title=TAB_TITLE, css=css, analytics_enabled=False,
                   theme=offline_theme()) as demo:
        gr.Markdown(f"# {TAB_TITLE}")
        build_tabs(host, check_environment(ui=True))
    return demo


# The default theme loads its fonts from Google's servers: without a connection (or to keep
# the page from calling outside at all) the app must look right with the fonts it already has.
SYSTEM_FONTS = ("system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif")
SYSTEM_MONO = ("ui-monospace", "SFMono-Regular", "Consolas", "Liberation Mono", "monospace")


def offline_theme() -> Any:
    """gradio's default look with system fonts: the page requests nothing from other hosts."""
    import gradio as gr

    return gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=list(SYSTEM_MONO))


def _asset_text(name: str) -> str:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / name
    return path.read_text(encoding="utf-8") if path.is_file() else ""
