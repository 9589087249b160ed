"""The Train tab's sections below the guided path, one builder each (as adetailer builds its
UI): the settings accordions by purpose, Concepts, the Performance Wizard, Presets and runs.
Each builder lays out widgets and returns them; train_tab connects them."""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr

from lora_for_dummies.families import DEFAULT
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.train.fields import HELP, SECTIONS, SETTINGS, section_summary
from lora_for_dummies.ui import compat
from lora_for_dummies.ui import train_form as form
from lora_for_dummies.ui.families import family_radio
from lora_for_dummies.ui.lists import refreshable
from lora_for_dummies.ui.train_controller import CONCEPT_HEADERS, TrainController, job_values

KINDS = {path: (label, kind, choices) for path, label, kind, choices in SETTINGS}


def setting_field(path: str, value: Any) -> Any:
    """The field of one setting; `value` as the field shows it (or a function giving it)."""
    label, kind, choices = KINDS[path]
    common = dict(label=label, elem_id="lfd_train_" + path.replace(".", "_"), info=HELP[path])
    if kind == "bool":
        return gr.Checkbox(value=value, **common)
    if kind == "tristate":
        return gr.Radio(list(choices), value=value, **common)
    if kind == "choice":
        return gr.Dropdown(list(choices), value=value, **common)
    if kind == "int":
        return gr.Number(value=value, precision=0, **common)
    if kind == "number":
        return gr.Number(value=value, **common)
    if kind == "lines":
        return gr.Textbox(value=value, lines=3, **common)
    return gr.Textbox(value=value, **common)


def section_id(title: str) -> str:
    return "lfd_train_section_" + "".join(c if c.isalnum() else "_" for c in title.lower())


def build_settings_sections(host: Host) -> tuple[list[Any], Any, list[tuple[Any, str, list]]]:
    """Every setting in its accordion (closed; its label sums up its values). Returns the
    fields in `SETTINGS` order, the v-prediction radio, and (accordion, title, its fields)."""
    by_path: dict[str, Any] = {}
    sections = []
    values = dict(zip(KINDS, job_values(form.form_job(host)), strict=True))  # SETTINGS order
    v_mode = None
    for title, paths, _ in SECTIONS:
        with gr.Accordion(section_summary(title, values), open=False,
                          elem_id=section_id(title)) as accordion:
            fields = []
            for start in range(0, len(paths), 3):
                with gr.Row():
                    for path in paths[start:start + 3]:
                        by_path[path] = setting_field(path, partial(
                            form.field_value, host, path, KINDS[path][1]))
                        fields.append(by_path[path])
            if title == "Base model details":
                v_mode = gr.Radio(["auto", "yes", "no"], label="v-prediction",
                                  elem_id="lfd_train_v", info=HELP["model.v_prediction"],
                                  value=lambda: form.shown(form.form_job(host).model.v_prediction,
                                                           "tristate"))
        sections.append((accordion, title, fields))
    return [by_path[path] for path, *_ in SETTINGS], v_mode, sections


def summary_label(title: str, paths: tuple[str, ...]) -> Any:
    """A handler giving the accordion `title` its summary label from its fields' values."""
    def relabel(*values: Any) -> Any:
        return compat.update(label=section_summary(title, dict(zip(paths, values, strict=True))))
    return relabel


def build_concepts_section(host: Host) -> dict[str, Any]:
    with gr.Accordion("Concepts (what trains: several datasets or concepts at once)",
                      open=False, elem_id="lfd_train_section_concepts"):
        gr.Markdown("Step 3 puts its images here. Add more concepts from the dataset and "
                    "concept chosen above, or edit the table (repeats: how often each image "
                    "is shown against the other concepts' images; 0 = the dataset's).")
        with gr.Row():
            which = gr.Radio(["high", "low"], value="high", label="Images",
                             elem_id="lfd_train_which",
                             info="high: the processed training resolution; low: the "
                                  "smaller copy (for a second, low-resolution concept)")
            add = gr.Button("Add concept", elem_id="lfd_train_add_concept")
            clear = gr.Button("Clear", elem_id="lfd_train_clear_concepts")
        concepts = compat.table(CONCEPT_HEADERS, "lfd_train_concepts",
                                lambda: form.concept_rows(host),
                                datatype=["str", "str", "number", "str", "str"],
                                interactive=True, label="Concepts")
    return {"which": which, "add": add, "clear": clear, "concepts": concepts}


def build_wizard_section(host: Host) -> dict[str, Any]:
    with gr.Accordion("Performance Wizard and GPUs", open=False,
                      elem_id="lfd_train_section_wizard"):
        with gr.Row():
            vram = gr.Number(value=0, label="GPU memory in GB (0 = detect)",
                             elem_id="lfd_wizard_vram",
                             info="Step 4 uses the detected GPU; type another size to see "
                                  "what the Wizard would choose for it")
            family = family_radio(host, "lfd_wizard_family", DEFAULT,
                                  "Follows the base model you choose; SDXL picks one of its "
                                  "8 / 12 / 16 / 24 GB tiers, Flux 16 / 24 / 32, Z-Image "
                                  "12 / 16 / 24")
            wizard = gr.Button("Choose settings for me", elem_id="lfd_wizard_run")
        wizard_text = compat.message_markdown(elem_id="lfd_wizard_text")
        gpus = gr.Number(value=1, precision=0, label="GPUs (more than 1: accelerate launch)",
                         elem_id="lfd_train_gpus",
                         info="1 for one GPU (the usual); 2 or more trains on that many GPUs "
                              "of this machine, each on its share of the batches")
    return {"vram": vram, "family": family, "wizard": wizard, "wizard_text": wizard_text,
            "gpus": gpus}


def build_presets_section(host: Host, controller: TrainController) -> dict[str, Any]:
    with gr.Accordion("Presets and earlier runs", open=False,
                      elem_id="lfd_train_section_presets"):
        with gr.Row():
            preset = gr.Textbox(label="Preset name", elem_id="lfd_train_preset",
                                info="Named settings to reuse: Save keeps the form, Load "
                                     "fills it (e.g. 'demo' in the demo workspace)")
            save_preset = gr.Button("Save preset", elem_id="lfd_train_save_preset")
            load_preset = gr.Button("Load preset", elem_id="lfd_train_load_preset")
        with gr.Row():
            run = compat.dropdown("Run", controller.runs(), None, "lfd_train_run",
                                  info="Any earlier run: its settings fill the form, then "
                                       "Resume it or start a new run from them")
            refreshable(host, run, lambda: None, lambda: {"choices": controller.runs()},
                                "lfd_train_run_refresh")
            load_run = gr.Button("Load settings from this run", elem_id="lfd_train_load_run")
    return {"preset": preset, "save_preset": save_preset, "load_preset": load_preset,
            "run": run, "load_run": load_run}
