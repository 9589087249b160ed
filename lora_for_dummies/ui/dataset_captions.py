"""The Dataset tab's captions: the editor, bulk operations, auto-caption, the tag table.

Each control's result is shown next to it (a message box under its buttons), and after every
change of the caption files (bulk apply, undo, auto-caption) the editor shows the selected
file's current text, so that a Save never writes a stale caption back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from lora_for_dummies.dataset.autocaption import (
    MODES,
    CaptionOptions,
    local_key,
    why_unavailable,
)
from lora_for_dummies.dataset.model_download import known_line
from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.ui import compat
from lora_for_dummies.ui.caption_hints import build_caption_hints, captioner_for
from lora_for_dummies.ui.caption_memory import recalled, remember
from lora_for_dummies.ui.compat import user_message
from lora_for_dummies.ui.dataset_controller import BULK_OPERATIONS, MAIN, DatasetController
from lora_for_dummies.ui.help_text import TIPS
from lora_for_dummies.ui.jobs import run_job, stop_current
from lora_for_dummies.ui.tag_settings import build_tag_settings, tag_options

PREVIEW_COUNT = 4  # captions shown by "Preview", none written

# Ctrl+Enter (⌘+Enter) in the caption box presses "Save and next". Installed once, by the events
# that open a caption, so no page script is needed (the same on gradio 3, 4, 5 and the webui).
_SHORTCUT = ("if (!window.lfdCaptionKeys) { window.lfdCaptionKeys = true; "
             "document.addEventListener('keydown', (e) => { "
             "if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && e.target.closest "
             "&& e.target.closest('#lfd_caption_text')) { e.preventDefault(); "
             "const b = document.getElementById('lfd_caption_save_next'); "
             "const button = b && (b.tagName === 'BUTTON' ? b : b.querySelector('button')); "
             "if (button) button.click(); } }); }")
SHORTCUT_JS = "() => { " + _SHORTCUT + " }"
# The gallery's highlight follows the editor's image when something other than a click on the
# gallery chose it (a pre-flight finding, Previous / Next, Save and next): else the highlight
# stays on the image chosen before. gradio 3 (A1111's, Forge Neo's) cannot set a gallery's
# selection from the server, so the thumbnail that shows the editor's file name is clicked, as
# a person would; its select event opens the same file. Runs a moment after the event, when
# the editor's name has reached the page.
_HIGHLIGHT = ("setTimeout(() => { const f = document.querySelector('#lfd_caption_stem textarea, "
              "#lfd_caption_stem input'); const stem = f ? f.value : ''; "
              "const items = [...document.querySelectorAll('#lfd_dataset_gallery "
              "button.thumbnail-item')]; const item = items.find((b) => "
              "[...b.querySelectorAll('img')].some((i) => i.alt === stem) || "
              "(b.textContent || '').trim() === stem); "
              "if (stem && item && !item.classList.contains('selected')) item.click(); }, 150);")
FOLLOW_JS = "() => { " + _HIGHLIGHT + " }"


def _message(elem_id: str, lines: int = 1) -> Any:
    """A result line under the buttons that cause it; it keeps the text until the next one."""
    return gr.Textbox(label="Result", lines=lines, interactive=False, elem_id=elem_id)


def build_captions(host: Host, ctl: DatasetController, dataset: Any, concept: Any,
                   gallery_now: Callable[[], Any], first: str | None) -> dict[str, Any]:
    """Build the Captions section and wire it; returns what the rest of the tab updates."""
    with gr.Accordion("Captions", open=True):
        hints = build_caption_hints(host)
        with gr.Row():
            with gr.Column(scale=3):
                images = compat.gallery("Processed images (click one)", "lfd_dataset_gallery",
                                        gallery_now)
            with gr.Column(scale=2):
                picture = gr.Image(label="Selected image", type="filepath", interactive=False,
                                   height=448, elem_id="lfd_caption_preview")
                stem = gr.Textbox(label="Image", interactive=False, elem_id="lfd_caption_stem",
                                  info=TIPS["lfd_caption_stem"])
                caption = gr.Textbox(label="Caption", lines=4, elem_id="lfd_caption_text",
                                     info="What is in the picture, comma-separated, trigger "
                                          "word first. Ctrl+Enter: save and go to the next.")
                tokens = gr.Markdown("Tokens: 0/75", elem_id="lfd_caption_tokens")
                with gr.Row():
                    previous = gr.Button("◀ Previous", elem_id="lfd_caption_previous")
                    following = gr.Button("Next ▶", elem_id="lfd_caption_next")
                with gr.Row():
                    save = gr.Button("Save caption", elem_id="lfd_caption_save")
                    save_next = gr.Button("Save and next", variant="primary",
                                          elem_id="lfd_caption_save_next")
                caption_message = _message("lfd_caption_message")
        with gr.Row():
            # wide enough for its longest choice ("Add tags at the front (trigger word)")
            operation = gr.Dropdown(list(BULK_OPERATIONS), value=list(BULK_OPERATIONS)[0],
                                    label="Bulk operation", elem_id="lfd_bulk_operation",
                                    info=TIPS["lfd_bulk_operation"], scale=2, min_width=320)
            bulk_text = gr.Textbox(label="Tags / search", elem_id="lfd_bulk_text",
                                   info=TIPS["lfd_bulk_text"])
            replacement = gr.Textbox(label="Replace with", elem_id="lfd_bulk_replacement",
                                     info=TIPS["lfd_bulk_replacement"])
            regex = gr.Checkbox(label="Regex", elem_id="lfd_bulk_regex",
                                info=TIPS["lfd_bulk_regex"])
            keep_first = gr.Number(value=1, precision=0, label="Keep first N (sort)",
                                   elem_id="lfd_bulk_keep", info=TIPS["lfd_bulk_keep"])
        selection = gr.Dropdown(ctl.stems(first, MAIN), multiselect=True,
                                label="Only these images (empty = all)",
                                elem_id="lfd_bulk_selection", info=TIPS["lfd_bulk_selection"])
        with gr.Row():
            preview = gr.Button("Preview", elem_id="lfd_bulk_preview")
            apply = gr.Button("Apply", variant="primary", elem_id="lfd_bulk_apply")
            undo = gr.Button("Undo last bulk change", elem_id="lfd_bulk_undo")
        bulk_message = _message("lfd_bulk_message")
        changes = compat.table(["file", "before", "after"], "lfd_bulk_changes",
                               interactive=False)
        frequency = compat.table(["tag", "images"], "lfd_tag_frequency",
                                 lambda: ctl.frequency(first, MAIN), interactive=False,
                                 label="Every tag and its images (click a tag to pick them)")
        captioners = list(host.captioners())
        with gr.Row():
            def captioner_now() -> str | None:  # the last one used, else the model's
                suggested = captioner_for(host, hints["first"])
                fallback = suggested if suggested in captioners else \
                    captioners[0] if captioners else None
                last = recalled(host, "captioner", fallback, str)
                return last if last in captioners else fallback

            captioner = gr.Dropdown(captioners, value=captioner_now,
                                    label="Auto-caption with", elem_id="lfd_autocaption_model",
                                    info=TIPS["lfd_autocaption_model"])
            option = gr.Textbox(value=lambda: recalled(host, "model", "", str),
                                label="Captioner's model: a folder, or a repository",
                                elem_id="lfd_autocaption_option",
                                info=TIPS["lfd_autocaption_option"])
            mode = gr.Radio(list(MODES), value=lambda: recalled(host, "mode", "skip", str),
                            label="Existing captions",
                            elem_id="lfd_autocaption_mode", info=TIPS["lfd_autocaption_mode"])
        tag_settings = build_tag_settings(lambda field, default, kind: recalled(
            host, field, default, kind))
        with gr.Row():
            caption_preview = gr.Button(f"Preview {PREVIEW_COUNT} captions",
                                        elem_id="lfd_autocaption_preview")
            autocaption = gr.Button("Auto-caption", variant="primary",
                                    elem_id="lfd_autocaption_run")
            caption_stop = gr.Button("Stop", elem_id="lfd_autocaption_stop")
        autocaption_message = _message("lfd_autocaption_message", lines=3)


    # -- wiring ------------------------------------------------------------------------
    def select_handler(name: str, concept_name: str, current: str,
                       evt: gr.SelectData) -> tuple[Any, ...]:
        gallery_items = ctl.gallery(name, concept_name)
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        chosen = gallery_items[index][1] if index < len(gallery_items) else ""
        if chosen and chosen == current:
            # The image the editor already shows (clicked again, or highlighted by FOLLOW_JS):
            # reloading its file would drop what was typed since.
            return compat.update(), compat.update(), compat.update()
        return chosen, ctl.load_caption(name, concept_name or MAIN, chosen) if chosen else "", \
            gallery_items[index][0] if chosen else None

    editor = [stem, caption, picture]

    def after_change(name: str | None, concept_name: str | None,
                     stem_name: str = "") -> tuple[Any, ...]:
        return ctl.editor_now(name, concept_name, stem_name) + (ctl.frequency(name,
                                                                              concept_name),)
    compat.then_js(images.select(select_handler, [dataset, concept, stem], editor), SHORTCUT_JS)

    def on_previous(name: str, concept_name: str, stem_name: str) -> tuple[Any, ...]:
        return ctl.neighbour(name, concept_name, stem_name, -1)

    def on_next(name: str, concept_name: str, stem_name: str) -> tuple[Any, ...]:
        return ctl.neighbour(name, concept_name, stem_name, 1)

    compat.then_js(previous.click(on_previous, [dataset, concept, stem], editor), FOLLOW_JS)
    compat.then_js(following.click(on_next, [dataset, concept, stem], editor), FOLLOW_JS)

    def on_save_next(name: str, concept_name: str, stem_name: str, text: str) -> tuple[Any, ...]:
        try:
            message = ctl.save_caption(name, concept_name or MAIN, stem_name, text)
        except UserError as err:
            return (f"⚠ {err}",) + tuple(compat.update() for _ in editor)
        return (message,) + ctl.neighbour(name, concept_name, stem_name, 1)

    saved_next = save_next.click(on_save_next, [dataset, concept, stem, caption],
                                 [caption_message] + editor)
    compat.then_js(saved_next, FOLLOW_JS)
    saved_next.then(ctl.frequency, [dataset, concept], [frequency])
    caption.change(ctl.token_label, [caption], [tokens])
    def on_save(name: str, concept_name: str, stem_name: str, text: str) -> str:
        return ctl.save_caption(name, concept_name or MAIN, stem_name, text)

    save.click(user_message(on_save), [dataset, concept, stem, caption], [caption_message]).then(
        ctl.frequency, [dataset, concept], [frequency])  # the tag table counts the new caption

    bulk_inputs = [dataset, concept, operation, selection, bulk_text, replacement, regex,
                   keep_first]

    def on_preview(*values: Any) -> tuple[Any, str]:
        try:
            rows = ctl.preview_bulk(*values)
            count = f"{len(rows)} caption{' would' if len(rows) == 1 else 's would'}"
            return rows, f"{count} change. Press Apply to write them."
        except UserError as err:
            return [], f"⚠ {err}"

    preview.click(on_preview, bulk_inputs, [changes, bulk_message])
    # After every change of the files the editor shows the file's text again: a stale box
    # saved once more would write the old caption back (the bulk change or the undo lost).
    apply.click(user_message(ctl.apply_bulk), bulk_inputs, [bulk_message]).then(
        after_change, [dataset, concept, stem], editor + [frequency])
    def on_undo(name: str, concept_name: str) -> str:
        return ctl.undo_bulk(name, concept_name or MAIN)

    undo.click(user_message(on_undo), [dataset, concept], [bulk_message]).then(
        after_change, [dataset, concept, stem], editor + [frequency])

    def caption_run(preview: int, name, concept_name, which, folder, how, *tag_values):
        remember(host, (which, folder, how) + tag_values)  # the form after a refresh
        options = CaptionOptions(folder.strip(), tag_options(*tag_values))
        reporter = host.reporter()
        for progress, result in run_job(reporter, lambda r: ctl.autocaption(
                name, concept_name or MAIN, which, options, how, r, preview), lambda text: text):
            yield progress if result is None else f"{progress}\n{result}"

    def on_autocaption(*values: Any) -> Any:
        yield from caption_run(0, *values)

    def on_caption_preview(*values: Any) -> Any:
        yield from caption_run(PREVIEW_COUNT, *values)

    caption_inputs = [dataset, concept, captioner, option, mode] + tag_settings["inputs"]
    caption_preview.click(on_caption_preview, caption_inputs, [autocaption_message])
    caption_stop.click(stop_current, [], [autocaption_message])
    autocaption.click(on_autocaption, caption_inputs, [autocaption_message]).then(
        after_change, [dataset, concept, stem], editor + [frequency])

    def on_tag(name: str, concept_name: str, shown: Any, evt: gr.SelectData) -> tuple[Any, ...]:
        """A click on the tag table: its images chosen for the bulk operations, the tag typed in,
        so that Remove / Rename / Add at the front act on exactly those captions. The row is
        read from the table as shown (never from a recount that may order rows otherwise)."""
        rows = compat.table_rows(shown)
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not isinstance(row, int) or row >= len(rows):
            return compat.update(), compat.update(), compat.update()
        tag = rows[row][0]
        stems = ctl.images_with_tag(name, concept_name, tag)
        return (compat.update(value=stems, choices=ctl.stems(name, concept_name)), tag,
                f"{tag!r} is in {len(stems)} image{'' if len(stems) == 1 else 's'}, now chosen "
                "below: pick Remove tags, "
                "Rename a tag (new name under Replace with) or Add tags at the front, then "
                "Preview and Apply.")

    frequency.select(on_tag, [dataset, concept, frequency], [selection, bulk_text, bulk_message])

    def on_captioner(which: str) -> str:
        why = why_unavailable(which)  # said at once, not after a run is started
        key = local_key(which)
        return f"⚠ {why}" if why else (
            f"Type a folder holding its model, or one of these, downloaded once into "
            f"{host.captioners_dir()}: {known_line(key)}" if key else
            "The webui's own captioner: no model to name.")

    captioner.change(on_captioner, [captioner], [autocaption_message])

    def on_hint_model(title: str | None) -> Any:
        chosen = captioner_for(host, title)  # the hint says why; the user may choose again
        return compat.update(value=chosen) if chosen in captioners else compat.update()

    hints["model"].change(on_hint_model, [hints["model"]], [captioner])

    return {"gallery": images, "selection": selection, "frequency": frequency,
            "caption": caption, "tokens": tokens, "editor": editor, "stem": stem}
