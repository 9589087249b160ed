"""Tabs whose features arrive in later releases; they say what will come and link nowhere."""

from __future__ import annotations

COMING = {
    "Train": "Train a LoRA on your GPU with live samples, a loss chart, stop / save / resume. "
             "Coming in a later release.",
}


def build_placeholder(tab: str) -> None:
    import gradio as gr

    gr.Markdown(f"**{tab}** — {COMING[tab]}", elem_id=f"lfd_{tab.lower()}_coming")
