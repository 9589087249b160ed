"""Models tab: pick a checkpoint, see what it is (family, variant, parts, precision, hashes)."""

from __future__ import annotations

import html
from typing import Any

from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.errors import SeparatePart, UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.ui.compat import dropdown
from lora_for_dummies.ui.help_text import TIPS
from lora_for_dummies.ui.lists import refreshable


def checkpoint_titles(host: Host) -> list[str]:
    return [entry.title for entry in host.checkpoints()]


def describe(host: Host, title: str | None) -> str:
    """HTML table of the inspection of the checkpoint titled `title`, or why it cannot be used."""
    if not title:
        if not host.checkpoints():
            return "<p class='lfd-note'>No checkpoints found. Put a .safetensors or .ckpt model " \
                   "in the models folder and press 🔄.</p>"
        return "<p class='lfd-note'>Choose a checkpoint.</p>"
    entry = next((e for e in host.checkpoints() if e.title == title), None)
    if entry is None:
        return f"<p class='lfd-error'>{html.escape(title)}: no longer in the list; press 🔄.</p>"
    try:
        info = inspect_checkpoint(entry.path)
    except SeparatePart as part:  # recognised, just not a base model: a note, not an error
        return f"<p class='lfd-note'>{html.escape(str(part))}</p>"
    except UserError as err:
        return f"<p class='lfd-error'>{html.escape(str(err))}</p>"
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in info.rows())
    return f"<table class='lfd-table'>{rows}</table>"


def build_models_tab(host: Host) -> dict[str, Any]:
    import gradio as gr

    titles = checkpoint_titles(host)
    with gr.Row():
        model = dropdown("Checkpoint", titles, titles[0] if titles else None,
                         elem_id="lfd_models_checkpoint", info=TIPS["lfd_models_checkpoint"])
        refreshable(host, model, host.refresh_checkpoints,
                            lambda: {"choices": checkpoint_titles(host)},
                            "lfd_models_checkpoint_refresh")
    details = gr.HTML(describe(host, titles[0] if titles else None), elem_id="lfd_models_details")
    model.change(fn=lambda title: describe(host, title), inputs=[model], outputs=[details])
    return {"model": model, "details": details}
