"""Models tab: pick a checkpoint or a LoRA, see what it is (a checkpoint's family, variant, parts,
precision and hashes; a LoRA's kind, size, base model, where it loads and what is wrong)."""

from __future__ import annotations

import html
from typing import Any

from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.errors import SeparatePart, UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.ui.compat import dropdown
from lora_for_dummies.ui.help_text import TIPS
from lora_for_dummies.ui.lists import lora_titles, refreshable


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


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table class='lfd-table'>" + "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows) + \
        "</table>"


# The webuis a LoRA's family may be unavailable on (`Family.unavailable_on`), as users name them
WEBUIS = {"a1111": "A1111", "forge": "Forge", "forge_neo": "Forge Neo"}


def lora_rows(info: Any) -> list[tuple[str, str]]:
    """What a beginner asks of a LoRA file, from `lora_info`: what kind, how big, for which
    model, where it loads, and what is wrong with it."""
    from lora_for_dummies.families import family_of_lora
    from lora_for_dummies.lora.kinds import kinds

    labels = {kind.label: kind for kind in kinds()}
    missing = [f"{label}: {labels[label].not_in_diffusers}" for label in info.kinds
               if label in labels and labels[label].not_in_diffusers]
    family = family_of_lora(info.base_model_version)
    webuis = [label for kind, label in WEBUIS.items()
              if family is None or not family.unavailable_on(kind)]
    loads = ", ".join([*webuis, "ComfyUI"]) + (
        "; not diffusers (" + "; ".join(missing) + ")" if missing else ", diffusers")
    rows = [("Kind", ", ".join(f"{label} ({count} modules)" for label, count
                               in info.kinds.items()) or "unknown"),
            ("Parts", ", ".join(f"{part} {count}" for part, count in info.parts.items())),
            ("Rank", ", ".join(map(str, info.ranks)) or "none (the whole change is stored)"),
            ("Alpha", ", ".join(f"{a:g}" for a in info.alphas) or "none"),
            ("Base model", f"{family.title} ({info.base_model_version})" if family
             else info.base_model_version),
            ("Loads in", loads)]
    # lora-info's own line on diffusers says what "Loads in" already does
    rows += [("Note", warning) for warning in info.warnings
             if not warning.startswith("diffusers cannot apply")]
    return rows


def describe_lora(host: Host, title: str | None) -> str:
    from lora_for_dummies.lora.tools import lora_info

    if not title:
        return "<p class='lfd-note'>No LoRA chosen. Trained, extracted and copied LoRAs in " \
               "the Lora folder are listed here; 🔄 finds new ones.</p>"
    path = host.lora_dir() / title
    if not path.is_file():
        return f"<p class='lfd-error'>{html.escape(title)}: no longer in the Lora folder; " \
               "press 🔄.</p>"
    try:
        info = lora_info(path)
    except UserError as err:
        return f"<p class='lfd-error'>{html.escape(str(err))}</p>"
    return _table(lora_rows(info))


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
    loras = lora_titles(host)
    with gr.Row():
        lora = dropdown("LoRA", loras, None, elem_id="lfd_models_lora",
                        info=TIPS["lfd_models_lora"])
        refreshable(host, lora, lambda: None, lambda: {"choices": lora_titles(host)},
                    "lfd_models_lora_refresh")
    lora_details = gr.HTML(describe_lora(host, None), elem_id="lfd_models_lora_details")
    lora.change(fn=lambda title: describe_lora(host, title), inputs=[lora],
                outputs=[lora_details])
    return {"model": model, "details": details, "lora": lora, "lora_details": lora_details}
