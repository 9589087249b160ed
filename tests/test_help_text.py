"""Every visible input of ours has help text (gradio's `info=`): the product is for beginners.

Outputs (status and report boxes) are created with interactive=False and need none.
Runs on every dependency set (gradio 3.41, 4.40, 5), in the standalone app and the webui tab.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.app import standalone_app
from lora_for_dummies.ui.help_text import TIPS

INPUT_TYPES = tuple(getattr(gr, name) for name in (
    "Textbox", "Number", "Checkbox", "Dropdown", "Radio", "Slider", "CheckboxGroup"))


def _shown(component: Any) -> bool:
    """Visible itself and inside visible containers (where gradio records the parent)."""
    block = component
    while block is not None:
        if getattr(block, "visible", True) is False:
            return False
        block = getattr(block, "parent", None)
    return True


def inputs_without_help(demo: Any) -> tuple[list[str], int]:
    """(offenders as 'elem_id (Type "label")', how many inputs of ours were checked)."""
    offenders, checked = [], 0
    for block in demo.blocks.values():
        elem_id = getattr(block, "elem_id", None) or ""
        if not isinstance(block, INPUT_TYPES) or not elem_id.startswith("lfd"):
            continue
        if getattr(block, "interactive", None) is False or not _shown(block):
            continue
        checked += 1
        if not str(getattr(block, "info", None) or "").strip():
            offenders.append(f"{elem_id} ({type(block).__name__} {block.label!r})")
    return sorted(offenders), checked


def test_every_standalone_input_has_help(tmp_path: Path) -> None:
    demo = standalone_app(StandaloneHost(tmp_path))
    offenders, checked = inputs_without_help(demo)
    assert checked >= len(TIPS) - 5, f"only {checked} inputs found: the walk misses the tabs"
    assert not offenders, f"{len(offenders)} inputs without help (info=): " + ", ".join(
        offenders)


def test_every_webui_input_has_help(webui_tab) -> None:
    tab, _ = webui_tab
    offenders, checked = inputs_without_help(tab)
    assert checked >= len(TIPS) - 10, f"only {checked} inputs found in the webui tab"
    assert not offenders, f"{len(offenders)} inputs without help (info=): " + ", ".join(
        offenders)


def test_help_is_short_and_for_real_fields() -> None:
    """One or two short sentences each, and no entry for an elem_id that no longer exists."""
    long = [key for key, text in TIPS.items() if len(text) > 170 or text.count(". ") > 2]
    assert not long, f"help too long for a beginner to read at a glance: {long}"
    sources = "".join(p.read_text(encoding="utf-8") for p in
                      (Path(__file__).parent.parent / "lora_for_dummies" / "ui").glob("*.py")
                      if p.name != "help_text.py")
    stale = [key for key in TIPS if f'"{key}"' not in sources]
    assert not stale, f"help for elem_ids no builder creates: {stale}"


def test_help_and_messages_show_angle_brackets_as_typed(tmp_path):
    """Issue 23: "use it in prompts as lora:NAME:0.8" — the `<…>` of the help text and of
    messages was taken for a tag or link. Messages in Markdown boxes are escaped on every
    gradio version; `info=` help on gradio 5, which renders it as markdown (3 and 4 show it
    as text)."""
    import gradio as gr

    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.ui import compat
    from lora_for_dummies.ui.app import standalone_app

    demo = standalone_app(StandaloneHost(tmp_path))
    message = next(b for b in demo.blocks.values()
                   if getattr(b, "elem_id", None) == "lfd_train_message")
    rendered = str(message.postprocess("done: use it as <lora:my dog:0.8> — **bold** stays"))
    assert "&lt;lora:my dog:0.8&gt;" in rendered and "<lora:" not in rendered
    assert "<strong>bold</strong>" in rendered or "**bold**" in rendered
    in_code = str(message.postprocess("put `<lora:my dog:0.8>` in a prompt"))
    # a code span shows it as typed: no entity of ours inside (gradio 3 renders it to HTML
    # itself, 4 and 5 leave the markdown to the page)
    assert "`<lora:my dog:0.8>`" in in_code or \
        "<code>&lt;lora:my dog:0.8&gt;</code>" in in_code, in_code
    name_field = next(b for b in demo.blocks.values()
                      if getattr(b, "elem_id", None) == "lfd_train_save_name")
    if compat.gradio_major() >= 5:
        assert "&lt;lora:NAME:0.8&gt;" in name_field.info
        assert not [b.elem_id for b in demo.blocks.values()
                    if "<" in str(getattr(b, "info", "") or "")]
    else:
        assert "<lora:NAME:0.8>" in name_field.info  # shown as text there
    assert isinstance(message, gr.Markdown)
