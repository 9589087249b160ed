"""Dataset tab: folders, import, processing, captions (editor, bulk, auto), pre-flight."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lora_for_dummies.dataset.process import ProcessSettings
from lora_for_dummies.errors import UserError
from lora_for_dummies.families import DEFAULT
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.train.fields import HELP
from lora_for_dummies.ui import compat
from lora_for_dummies.ui.compat import user_message
from lora_for_dummies.ui.dataset_captions import _HIGHLIGHT, _SHORTCUT, build_captions
from lora_for_dummies.ui.dataset_controller import MAIN, DatasetController
from lora_for_dummies.ui.families import family_radio
from lora_for_dummies.ui.help_text import TIPS
from lora_for_dummies.ui.jobs import run_job, stop_current
from lora_for_dummies.ui.lists import refreshable


def build_dataset_tab(host: Host) -> dict[str, Any]:
    ctl = DatasetController(host)
    names = ctl.datasets()
    first = names[0] if names else None
    with gr.Row():
        dataset = compat.dropdown("Dataset", names, first, "lfd_dataset_name",
                                  info=TIPS["lfd_dataset_name"])
        refreshable(host, dataset, lambda: None, lambda: {"choices": ctl.datasets()},
                            "lfd_dataset_name_refresh")
        concept = compat.dropdown("Concept", ctl.concepts(first), MAIN if first else None,
                                  "lfd_dataset_concept", info=TIPS["lfd_dataset_concept"])
        # Its choices depend on the dataset chosen, so it is wired below with that input.
        concept_refresh = gr.Button("🔄", elem_id="lfd_dataset_concept_refresh",
                                    elem_classes=["lfd-refresh"], scale=0, min_width=40)
    status = gr.Textbox(label="Status", lines=3, interactive=False, elem_id="lfd_dataset_status")

    with gr.Accordion("New dataset and import", open=not names):
        with gr.Row():
            new_name = gr.Textbox(label="New dataset name", elem_id="lfd_dataset_new_name",
                                  info=TIPS["lfd_dataset_new_name"])
            new_concept = gr.Textbox(label="Extra concept (optional, makes IMGS_<concept>)",
                                     elem_id="lfd_dataset_new_concept",
                                     info=TIPS["lfd_dataset_new_concept"])
            create = gr.Button("Create", elem_id="lfd_dataset_create")
        upload = compat.file_upload("Drop images (and .txt captions) here",
                                    "lfd_dataset_upload")
        with gr.Row():
            folder = gr.Textbox(label="…or copy from a folder on this computer",
                                elem_id="lfd_dataset_import_folder",
                                info=TIPS["lfd_dataset_import_folder"])
            join_captions = gr.Checkbox(label="Join the captions of duplicates",
                                        elem_id="lfd_dataset_join_captions",
                                        info=TIPS["lfd_dataset_join_captions"])
            import_button = gr.Button("Import", elem_id="lfd_dataset_import")

    # Functions, not values: gradio calls them at every page load, so a (re)loaded page shows
    # the selected dataset as it is on disk now, not as it was when the app started.
    def token_now() -> str:
        return ctl.concept_settings(first, MAIN)[0]

    def repeats_now() -> int:
        return ctl.concept_settings(first, MAIN)[1]

    def class_prompt_now() -> str:
        return ctl.concept_settings(first, MAIN)[2]

    def gallery_now() -> list[tuple[str, str]]:
        return ctl.gallery(first, MAIN)

    with gr.Row():
        token = gr.Textbox(token_now, label="Trigger word (instance token)",
                           info=HELP["concepts.token"], elem_id="lfd_concept_token")
        repeats = gr.Number(repeats_now, precision=0, label="Repeats",
                            info=HELP["concepts.repeats"], elem_id="lfd_concept_repeats")
        class_prompt = gr.Textbox(class_prompt_now,
                                  label="Class prompt (prior preservation, optional)",
                                  info=HELP["concepts.class_prompt"], elem_id="lfd_concept_class")
        save_concept = gr.Button("Save concept settings", elem_id="lfd_concept_save")

    with gr.Accordion("kohya layout (N_token folders)", open=False):
        with gr.Row():
            kohya_out = gr.Textbox(label="Export to folder", elem_id="lfd_kohya_export_dir",
                                   info=TIPS["lfd_kohya_export_dir"])
            kohya_res = gr.Radio(["high", "low"], value="high", label="Resolution",
                                 elem_id="lfd_kohya_export_res", info=TIPS["lfd_kohya_export_res"])
            kohya_export = gr.Button("Export", elem_id="lfd_kohya_export")
        with gr.Row():
            kohya_in = gr.Textbox(label="Import from a kohya training folder",
                                  elem_id="lfd_kohya_import_dir", info=TIPS["lfd_kohya_import_dir"])
            kohya_name = gr.Textbox(label="As new dataset", elem_id="lfd_kohya_import_name",
                                    info=TIPS["lfd_kohya_import_name"])
            kohya_import = gr.Button("Import", elem_id="lfd_kohya_import")

    with gr.Accordion("Process: IMGS → HIGHRES_CONCEPT and LOWRES_CONCEPT", open=True):
        with gr.Row():
            family = family_radio(host, "lfd_dataset_family", DEFAULT,
                                  "Sets the usual high / low resolutions for the model you "
                                  "will train on: SD 1.x 768/512, SD 2.x 768/512, SDXL "
                                  "1024/768")
            high = gr.Number(value=768, label="High resolution", precision=0,
                             elem_id="lfd_dataset_high", info=TIPS["lfd_dataset_high"])
            low = gr.Number(value=512, label="Low resolution", precision=0,
                            elem_id="lfd_dataset_low", info=TIPS["lfd_dataset_low"])
            crop = gr.Radio(["center", "focal", "bucket"], value="center",
                            label="Crop (bucket = no crop, aspect-ratio buckets)",
                            elem_id="lfd_dataset_crop", info=TIPS["lfd_dataset_crop"])
        with gr.Row():
            tiles = gr.Checkbox(label="Split very tall/wide images into tiles",
                                elem_id="lfd_dataset_tiles", info=TIPS["lfd_dataset_tiles"])
            flip = gr.Checkbox(label="Add mirrored copies", elem_id="lfd_dataset_flip",
                               info=TIPS["lfd_dataset_flip"])
            out_format = gr.Radio(["png", "jpeg", "webp"], value="png", label="Format",
                                  elem_id="lfd_dataset_format", info=TIPS["lfd_dataset_format"])
            quality = gr.Slider(50, 100, value=95, step=1, label="JPEG/WebP quality",
                                elem_id="lfd_dataset_quality", info=TIPS["lfd_dataset_quality"])
            background = gr.ColorPicker(value="#ffffff", label="Behind transparency",
                                        elem_id="lfd_dataset_background")
        with gr.Row():
            process = gr.Button("Process", variant="primary", elem_id="lfd_dataset_process")
            stop = gr.Button("Stop", elem_id="lfd_dataset_stop")
        process_log = gr.Textbox(label="Processing report", lines=4, interactive=False,
                                 elem_id="lfd_dataset_process_log")

    cap = build_captions(host, ctl, dataset, concept, gallery_now, first)
    images, selection, frequency = cap["gallery"], cap["selection"], cap["frequency"]
    caption, editor, tokens = cap["caption"], cap["editor"], cap["tokens"]

    with gr.Accordion("Pre-flight check", open=True):
        with gr.Row():
            resolution = gr.Number(value=512, precision=0, label="Training resolution",
                                   elem_id="lfd_preflight_resolution",
                                   info=TIPS["lfd_preflight_resolution"])
            # No batch size or epochs here: the estimate is the run the Train tab's guided
            # path makes (its total steps), so the two tabs speak of the same run.
            check = gr.Button("Run pre-flight check", elem_id="lfd_preflight_run")
        summary = gr.HTML(elem_id="lfd_preflight_summary")
        findings = compat.table(["concept", "problem", "file", "detail"],
                                "lfd_preflight_findings", interactive=False)

    # -- wiring ----------------------------------------------------------------------------
    def refresh_views(name: str | None, concept_name: str | None) -> tuple[Any, ...]:
        concept_name = concept_name or MAIN
        return (compat.update(choices=ctl.concepts(name), value=concept_name),
                ctl.gallery(name, concept_name),
                compat.update(choices=ctl.stems(name, concept_name), value=[]),
                ctl.frequency(name, concept_name))

    views = [concept, images, selection, frequency]
    def editor_for(name: str | None, concept_name: str | None, stem_name: str) -> tuple:
        """The editor after a switch: nothing to do when it shows no image (a page load's
        late change event must not empty an image chosen meanwhile); else the image's file
        text, or empty when the image is not in the new dataset / concept."""
        if not stem_name:
            return compat.update(), compat.update(), compat.update()
        return ctl.editor_now(name, concept_name, stem_name)

    def on_dataset(name: str | None, stem_name: str = "") -> tuple[Any, ...]:
        # Every field from the newly chosen dataset's file: the concept may stay "main" (so
        # its change event does not fire), and a stale trigger word saved into another
        # dataset is exactly what must never happen.
        return refresh_views(name, MAIN) + tuple(ctl.concept_settings(name, MAIN)) + \
            editor_for(name, MAIN, stem_name)

    # gradio 4 and 5 also fire `.change` when a handler sets the same value again (a pre-flight
    # finding opens its image and sets the concept): the editor then keeps the image it shows
    # if it is one of this concept's, with the file's text; else it is emptied.
    def on_concept(name: str | None, concept_name: str | None,
                   stem_name: str = "") -> tuple[Any, ...]:
        return refresh_views(name, concept_name)[1:] + editor_for(name, concept_name,
                                                                  stem_name)

    def on_files_changed(name: str | None, concept_name: str | None,
                         stem_name: str) -> tuple[Any, ...]:
        """After an import or processing: the lists, and the editor showing the file's text."""
        return refresh_views(name, concept_name)[1:] + ctl.editor_now(name, concept_name,
                                                                      stem_name)

    def on_concept_settings(name: str | None, concept_name: str | None) -> tuple[Any, ...]:
        return ctl.concept_settings(name, concept_name)

    concept.change(on_concept_settings, [dataset, concept], [token, repeats, class_prompt])

    def on_save_concept(name, concept_name, word, count, prompt) -> str:
        return ctl.save_concept(name, concept_name, word, count, prompt)

    save_concept.click(user_message(on_save_concept),
                       [dataset, concept, token, repeats, class_prompt], [status])
    kohya_export.click(user_message(ctl.export_kohya), [dataset, kohya_out, kohya_res],
                       [status])

    def on_kohya_import(source: str, new_name: str) -> tuple[Any, ...]:
        try:
            created, message = ctl.import_kohya(source, new_name)
        except UserError as err:
            return f"⚠ {err}", compat.update()
        return message, compat.update(choices=ctl.datasets(), value=created)

    kohya_event = kohya_import.click(on_kohya_import, [kohya_in, kohya_name], [status, dataset])

    dataset.change(on_dataset, [dataset, cap["stem"]],
                   views + [token, repeats, class_prompt] + editor)

    def on_concept_refresh(name: str | None, concept_name: str | None) -> Any:
        return compat.update(choices=ctl.concepts(name), value=concept_name)

    concept_refresh.click(on_concept_refresh, [dataset, concept], [concept])
    concept.change(on_concept, [dataset, concept, cap["stem"]], views[1:] + editor)

    def on_create(name: str, extra: str) -> tuple[Any, ...]:
        try:
            created, message = ctl.create(name, extra)
        except UserError as err:
            return (f"⚠ {err}", compat.update())
        return message, compat.update(choices=ctl.datasets(), value=created)

    create_event = create.click(on_create, [new_name, new_concept], [status, dataset])

    def on_import(name: str, concept_name: str, files: Any, path: str,
                  join: bool) -> tuple[Any, ...]:
        try:
            paths = compat.uploaded_paths(files) + ([path.strip()] if path and path.strip()
                                                    else [])
            if not paths:
                raise UserError("drop images above or type a folder path")
            return (ctl.import_files(name, concept_name or MAIN, paths, bool(join)), None)
        except UserError as err:
            return (f"⚠ {err}", compat.update())

    import_button.click(on_import, [dataset, concept, upload, folder, join_captions],
                        [status, upload]).then(
        on_files_changed, [dataset, concept, cap["stem"]], views[1:] + editor)

    def defaults_for(family_name: str) -> tuple[Any, Any]:
        settings = ProcessSettings.for_family(family_name)
        return settings.high, settings.low

    family.change(defaults_for, [family], [high, low])

    def on_process(name, concept_name, high_res, low_res, crop_mode, tile, mirror, fmt, q, bg):
        settings = ProcessSettings(high=int(high_res), low=int(low_res), crop=crop_mode,
                                   tiles=bool(tile), flip=bool(mirror), format=fmt,
                                   quality=int(q), background=bg or "#ffffff")
        reporter = host.reporter()
        for progress, result in run_job(reporter, lambda r: ctl.process(
                name, concept_name or MAIN, settings, r), lambda text: text):
            yield progress, result if result is not None else compat.update()
        yield reporter.state.summary(), compat.update()

    process.click(on_process, [dataset, concept, high, low, crop, tiles, flip, out_format,
                               quality, background], [status, process_log]).then(
        on_files_changed, [dataset, concept, cap["stem"]], views[1:] + editor)
    stop.click(stop_current, [], [status])

    def on_check(name, res, family_name):
        try:
            rows, text = ctl.preflight(name, res, family_name)
            return rows, text
        except UserError as err:
            return [], f"⚠ {err}"

    check.click(on_check, [dataset, resolution, family], [findings, summary])

    def on_finding(name: str, table: Any, current: str | None,
                   evt: gr.SelectData) -> tuple[Any, ...]:
        # The table already holds the report: a click must not run the whole check again.
        rows = compat.table_rows(table)
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if row >= len(rows):
            return compat.update(), compat.update(), compat.update(), compat.update()
        concept_name, _, file_name, _ = rows[row]
        stem_name = file_name.rsplit(".", 1)[0]
        # the same concept is left as it is: setting it again fires its change event on
        # gradio 4 / 5, whose handler would race the editor's new image
        same = concept_name == (current or MAIN)
        return compat.update() if same else concept_name, stem_name, \
            ctl.load_caption(name, concept_name, stem_name), \
            ctl.image_of(name, concept_name, stem_name)

    # The caption editor is far above the table: bring it into view with the finding's file.
    compat.then_js(findings.select(on_finding, [dataset, findings, concept],
                                   [concept, *editor]),
                   "() => { const el = document.getElementById('lfd_caption_text'); "
                   "if (el) el.scrollIntoView({block: 'center'}); " + _SHORTCUT + _HIGHLIGHT + " }")
    return {"dataset": dataset, "concept": concept, "gallery": images, "caption": caption,
            "tokens": tokens, "status": status,
            "datasets_changed": [create_event, kohya_event]}  # other tabs' lists follow
