"""The WD14 tagger's settings on the Dataset tab: thresholds, rating, escaping, blacklist.

Shown only while the WD14 tagger is the chosen captioner; `tag_options` turns the controls'
values into the core's `TagSettings` (which checks their ranges once more).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from lora_for_dummies.dataset.wd14 import (
    DEFAULT_CHARACTER,
    DEFAULT_GENERAL,
    TagSettings,
)
from lora_for_dummies.ui.help_text import TIPS


def build_tag_settings(recalled: Callable[[str, Any, type], Any]) -> dict[str, Any]:
    """The accordion's inputs, in `tag_options`' order; each starts at the value the
    last caption run used (`recalled(field, default, kind)`, asked at every page load)."""
    def last(field: str, default: Any, kind: type) -> Callable[[], Any]:
        return lambda: recalled(field, default, kind)

    with gr.Accordion("Tagger settings (WD14 only)", open=False,
                      elem_id="lfd_tagger_settings"):
        with gr.Row():
            general = gr.Slider(0.05, 0.95, value=last("general", DEFAULT_GENERAL, float),
                                step=0.01, label="General tag threshold",
                                elem_id="lfd_tagger_general", info=TIPS["lfd_tagger_general"])
            character = gr.Slider(0.05, 0.95, value=last("character", DEFAULT_CHARACTER, float),
                                  step=0.01, label="Character tag threshold",
                                  elem_id="lfd_tagger_character",
                                  info=TIPS["lfd_tagger_character"])
        with gr.Row():
            rating = gr.Checkbox(last("rating", False, bool), label="Keep a rating tag",
                                 elem_id="lfd_tagger_rating", info=TIPS["lfd_tagger_rating"])
            escape = gr.Checkbox(last("escape", False, bool), label="Escape parentheses",
                                 elem_id="lfd_tagger_escape", info=TIPS["lfd_tagger_escape"])
            traits = gr.Checkbox(last("traits", False, bool),
                                 label="Leave out the character's own look",
                                 elem_id="lfd_tagger_traits", info=TIPS["lfd_tagger_traits"])
        blacklist = gr.Textbox(last("blacklist", "", str), label="Never write these tags",
                               elem_id="lfd_tagger_blacklist", info=TIPS["lfd_tagger_blacklist"],
                               placeholder="e.g. simple background, white background")
    return {"inputs": [general, character, rating, escape, blacklist, traits]}


def tag_options(general: float, character: float, rating: bool, escape: bool,
                blacklist: str, traits: bool = False) -> TagSettings:
    return TagSettings(float(general), float(character), bool(rating), bool(escape),
                       tuple(t.strip() for t in (blacklist or "").split(",") if t.strip()),
                       drop_traits=bool(traits))
