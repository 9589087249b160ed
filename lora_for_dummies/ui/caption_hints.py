"""Dataset tab: how captions are usually written for the model you will train on (Pony's
score tags, booru tags for Illustrious / NoobAI, …), with the reason; a hint, nothing applied."""

from __future__ import annotations

import html
from typing import Any

from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.checkpoints.model_lines import suggested_captioner
from lora_for_dummies.dataset.autocaption import LOCAL
from lora_for_dummies.dataset.florence2 import florence2_missing
from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.ui import compat


def caption_hint(host: Host, title: str | None) -> str:
    """One paragraph: the model line, the caption convention and the clip skip to train with."""
    entry = next((e for e in host.checkpoints() if e.title == title), None)
    if entry is None:
        return "<p class='lfd-note'>Choose the model you will train on to see how captions " \
               "for it are usually written.</p>"
    try:
        info = inspect_checkpoint(entry.path, compute_hash=False)
    except UserError as err:
        return f"<p class='lfd-error'>{html.escape(str(err))}</p>"
    line = f"{info.model_line} ({info.family_title}, recognised from the name)" \
        if info.model_line else f"{info.family_title} (no model line recognised from the name)"
    key, why = suggested_captioner(info.model_line, not florence2_missing())
    return (f"<p class='lfd-note'><b>{html.escape(line)}</b>: "
            f"{html.escape(info.caption_hint)}. Clip skip {info.clip_skip}: "
            f"{html.escape(info.clip_skip_reason)}. Auto-caption with the "
            f"{html.escape(LOCAL[key][0])}: {html.escape(why)}.</p>")


def captioner_for(host: Host, title: str | None) -> str | None:
    """The auto-captioner to preselect for this base model (None: leave the choice as it is)."""
    entry = next((e for e in host.checkpoints() if e.title == title), None)
    if entry is None:
        return None
    try:
        info = inspect_checkpoint(entry.path, compute_hash=False)
    except UserError:
        return None
    return LOCAL[suggested_captioner(info.model_line, not florence2_missing())[0]][0]


def build_caption_hints(host: Host) -> dict[str, Any]:
    import gradio as gr

    from lora_for_dummies.ui.train_form import base_title

    titles = [e.title for e in host.checkpoints()]
    first = base_title(host)  # the Train tab's: the only model, or the one last trained on
    model = compat.dropdown(
        "Caption hints for the model you will train on", titles, first,
        "lfd_dataset_hint_model",
        info="Only shows advice (e.g. booru tags for Illustrious / NoobAI, score tags for "
             "Pony); it changes no caption. Pick the checkpoint you plan to train on.")
    hint = gr.HTML(caption_hint(host, first), elem_id="lfd_dataset_caption_hint")
    model.change(fn=lambda title: caption_hint(host, title), inputs=[model], outputs=[hint])
    return {"model": model, "hint": hint, "first": first}
