"""Train tab: base model, concepts from datasets, settings, Performance Wizard, LR plot,
presets, start / stop / stop-and-save / resume, live progress, loss chart and samples."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from lora_for_dummies.config import from_dict, load_toml, save_toml, to_dict
from lora_for_dummies.dataset.layout import list_datasets, open_dataset
from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.fields import HELP, SETTINGS, TRISTATE_VALUES
from lora_for_dummies.ui import compat
from lora_for_dummies.ui import train_form as form
from lora_for_dummies.ui.bestgrid_panel import build_best_step_panel
from lora_for_dummies.ui.charts import line_chart, loss_chart
from lora_for_dummies.ui.families import family_radio, family_refused
from lora_for_dummies.ui.train_session import SESSION


def _get(data: dict, path: str) -> Any:
    section, key = path.split(".")
    return data[section][key]


def _component(path: str, label: str, kind: str, choices: Any, value: Any) -> Any:
    """The field of one setting; `value` as the field shows it (or a function giving it)."""
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


def job_from_values(host: Host, base: str, concepts: list[list[Any]], v_mode: str,
                    values: list[Any]) -> TrainJob:
    data = to_dict(TrainJob())
    for (path, _, kind, _), value in zip(SETTINGS, values, strict=True):
        section, key = path.split(".")
        if kind == "int":
            value = int(value or 0)
        elif kind == "number":
            value = float(value or 0)
        elif kind == "lines":
            value = [line.strip() for line in (value or "").splitlines() if line.strip()]
        elif kind == "tristate":
            value = TRISTATE_VALUES.get(value)
        data[section][key] = value
    entry = next((e for e in host.checkpoints() if e.title == base), None)
    if entry is None:
        raise UserError("choose a base model (press 🔄 if it is new)")
    refused = family_refused(host, _family_of(entry.path))
    if refused:
        raise UserError(refused)
    data["model"]["base"] = str(entry.path)
    data["model"]["v_prediction"] = TRISTATE_VALUES.get(v_mode)
    data["concepts"] = [{"folder": row[0], "token": row[1], "repeats": int(row[2]),
                         "class_folder": row[3] or "", "class_prompt": row[4] or ""}
                        for row in concepts if row and row[0]]
    data["runs_dir"] = str(host.runs_dir())
    return from_dict(TrainJob, data)


def _family_of(path: Path) -> str:
    from lora_for_dummies.checkpoints.detect import inspect_checkpoint

    return inspect_checkpoint(path, compute_hash=False).family


def concept_row(host: Host, dataset: str, concept: str, which: str) -> list[Any]:
    ds = open_dataset(host.datasets_dir() / dataset)
    selected = ds.concept(concept or "main")
    folder = ds.folder(selected, which)
    return [str(folder), selected.token, selected.repeats, "", selected.class_prompt]


def build_train_tab(host: Host) -> dict[str, Any]:
    titles = [e.title for e in host.checkpoints()]
    with gr.Row():
        # Values are functions (train_form): gradio calls them at every page load.
        base = compat.dropdown("Base model", titles, lambda: form.base_title(host),
                               "lfd_train_base")
        host.refresh_button(base, host.refresh_checkpoints,
                            lambda: {"choices": [e.title for e in host.checkpoints()]},
                            "lfd_train_base_refresh")
        v_mode = gr.Radio(["auto", "yes", "no"], label="v-prediction", elem_id="lfd_train_v",
                          value=lambda: form.shown(form.form_job(host).model.v_prediction,
                                                   "tristate"),
                          info=HELP["model.v_prediction"])
    datasets = list_datasets(host.datasets_dir())
    with gr.Row():
        dataset = compat.dropdown("Dataset", datasets, None, "lfd_train_dataset")
        host.refresh_button(dataset, lambda: None,
                            lambda: {"choices": list_datasets(host.datasets_dir())},
                            "lfd_train_dataset_refresh")
        concept = compat.dropdown("Concept", ["main"], "main", "lfd_train_concept")
        concept_refresh = gr.Button("🔄", elem_id="lfd_train_concept_refresh",
                                    elem_classes=["lfd-refresh"], scale=0, min_width=40)
        which = gr.Radio(["high", "low"], value="low", label="Images",
                         elem_id="lfd_train_which")
        add = gr.Button("Add concept", elem_id="lfd_train_add_concept")
        clear = gr.Button("Clear", elem_id="lfd_train_clear_concepts")
    concepts = gr.Dataframe(headers=["folder", "token", "repeats", "class folder",
                                     "class prompt"], datatype=["str", "str", "number", "str",
                                                                "str"],
                            interactive=True, elem_id="lfd_train_concepts", label="Concepts",
                            value=lambda: form.concept_rows(host))
    with gr.Accordion("Performance Wizard", open=False):
        with gr.Row():
            vram = gr.Number(value=0, label="GPU memory in GB (0 = detect)",
                             elem_id="lfd_wizard_vram")
            family = family_radio(host, "lfd_wizard_family", "sd1",
                                  "Follows the base model you choose; SDXL picks one of the "
                                  "8 / 12 / 16 / 24 GB tiers")
            wizard = gr.Button("Choose settings for me", elem_id="lfd_wizard_run")
        wizard_text = gr.Markdown(elem_id="lfd_wizard_text")
    fields = []
    with gr.Accordion("Settings", open=True):
        for start in range(0, len(SETTINGS), 4):
            with gr.Row():
                for path, label, kind, choices in SETTINGS[start:start + 4]:
                    fields.append(_component(path, label, kind, choices,
                                             partial(form.field_value, host, path, kind)))
    with gr.Row():
        # No label badge: it would cover the chart's own title and axis.
        lr_plot = gr.Image(label="Learning rate", type="pil", elem_id="lfd_train_lr_plot",
                           interactive=False, show_label=False)
        loss_plot = gr.Image(label="Loss", type="pil", elem_id="lfd_train_loss_plot",
                             interactive=False, show_label=False)
    with gr.Row():
        preset = gr.Textbox(label="Preset name", elem_id="lfd_train_preset")
        save_preset = gr.Button("Save preset", elem_id="lfd_train_save_preset")
        load_preset = gr.Button("Load preset", elem_id="lfd_train_load_preset")
        plot = gr.Button("Plot LR", elem_id="lfd_train_plot")
    with gr.Row():
        gpus = gr.Number(value=1, precision=0, label="GPUs (more than 1: accelerate launch)",
                         elem_id="lfd_train_gpus")
        overwrite = gr.Checkbox(False, label="Replace an existing LoRA of this name",
                                elem_id="lfd_train_overwrite",
                                info="off: a new run never replaces files it did not make")
        start = gr.Button("Start training", variant="primary", elem_id="lfd_train_start")
        resume = gr.Button("Resume", elem_id="lfd_train_resume")
        stop = gr.Button("Stop", elem_id="lfd_train_stop")
        stop_save = gr.Button("Stop and save", elem_id="lfd_train_stop_save")
    # The webui's progress bar appears above this (javascript/lora_for_dummies.js); the task id
    # travels from the page's script to the run in a hidden field.
    gr.HTML("", elem_id="lfd_train_progressbar")
    task_id = gr.Textbox(visible=False, elem_id="lfd_train_task_id")
    message = gr.Markdown("", elem_id="lfd_train_message")
    status = gr.Textbox(label="Progress", lines=6, interactive=False, elem_id="lfd_train_status")
    samples = compat.gallery("Samples (newest last)", "lfd_train_samples")

    def on_concept_list(name: str | None, current: str | None = None) -> Any:
        try:
            names = [c.title for c in open_dataset(host.datasets_dir() / name).concepts.values()]
        except (UserError, TypeError):
            names = []
        chosen = current if current in names else (names[0] if names else None)
        return compat.update(choices=names, value=chosen)

    dataset.change(on_concept_list, [dataset], [concept])
    concept_refresh.click(on_concept_list, [dataset, concept], [concept])  # made meanwhile

    def on_add(rows: Any, name: str, concept_name: str, images: str) -> tuple[Any, str]:
        current = compat.table_rows(rows)
        if not name:
            return current, compat.toast("⚠ choose a dataset first (🔄 if you just made it)")
        try:
            row = concept_row(host, name, concept_name, images)
        except UserError as err:
            return current, compat.toast(f"⚠ {err}")
        return current + [row], f"Added {name} / {concept_name or 'main'} ({images} resolution)"

    add.click(on_add, [concepts, dataset, concept, which], [concepts, message])
    clear.click(lambda: [], [], [concepts])

    def on_wizard(gb: float, family_name: str) -> list[Any]:
        from lora_for_dummies.train.wizard import choose, detect_vram_gb

        choice = choose(float(gb) or detect_vram_gb(), family_name)
        updates = [compat.update(value=choice.settings[path]) if path in choice.settings
                   else compat.update() for path, *_ in SETTINGS]
        text = f"**{choice.label}**\n\n" + "\n".join(f"- {r}" for r in choice.reasons)
        return [text] + updates

    wizard.click(on_wizard, [vram, family], [wizard_text] + fields)

    def on_base(title: str | None) -> Any:  # the Wizard's family follows the base model
        entry = next((e for e in host.checkpoints() if e.title == title), None)
        try:
            chosen = _family_of(entry.path) if entry else None
        except UserError:
            chosen = None
        return compat.update(value=chosen) if chosen in host.families()[0] else compat.update()

    base.change(on_base, [base], [family])

    def on_plot(*values: Any) -> Any:
        from lora_for_dummies.train.config import OptimizerConfig
        from lora_for_dummies.train.optim import lr_curve

        data = {path.split(".")[1]: value for (path, *_), value in zip(SETTINGS, values,
                                                                       strict=True)
                if path.startswith("optimizer.")}
        steps = int(values[[p for p, *_ in SETTINGS].index("training.steps")] or 1)
        config = OptimizerConfig(**{**data, "cycles": int(data.get("cycles") or 1),
                                    "warmup": float(data.get("warmup") or 0)})
        title = f"UNet learning rate, {config.scheduler}, {steps} steps"
        return line_chart(lr_curve(config, max(steps, 1)), title)

    plot.click(on_plot, fields, [lr_plot])

    inputs = [base, concepts, v_mode] + fields

    def on_start(task, count, replace, base_title, rows, v, *values):
        try:
            job = job_from_values(host, base_title, compat.table_rows(rows), v, list(values))
            form.remember(host, job)  # a page reload shows these settings again
            return compat.toast(SESSION.start(host, job, gpus=int(count or 1),
                                              task_id=task or "", overwrite=bool(replace)))
        except UserError as err:
            return compat.toast(f"⚠ {err}")

    def on_resume(task, count, base_title, rows, v, *values):
        try:
            job = job_from_values(host, base_title, compat.table_rows(rows), v, list(values))
            form.remember(host, job)
            return compat.toast(SESSION.start(host, job, resume=True, gpus=int(count or 1),
                                              task_id=task or ""))
        except UserError as err:
            return compat.toast(f"⚠ {err}")

    # In the webui its progressbar.js is on the page: our script makes the task id.
    script = "lfd_start_training" if host.name == "webui" else None
    # Button answers go to `message`, which keeps them until the next one; the progress box
    # below is rewritten by the poll every 2 s.
    compat.click(start, on_start, [task_id, gpus, overwrite] + inputs, [message],
                 js=script).then(on_plot, fields, [lr_plot])  # the run's own schedule
    compat.click(resume, on_resume, [task_id, gpus] + inputs, [message], js=script)
    stop.click(lambda: compat.toast(SESSION.stop(save=False)), [], [message])
    stop_save.click(lambda: compat.toast(SESSION.stop(save=True)), [], [message])

    def presets_dir() -> Path:
        return host.runs_dir() / "presets"

    def on_save_preset(name, base_title, rows, v, *values) -> str:
        from lora_for_dummies.names import check_name

        try:
            job = job_from_values(host, base_title, compat.table_rows(rows), v, list(values))
            path = presets_dir() / f"{check_name(name, 'preset name')}.toml"
            save_toml(job, path)
            return compat.toast(f"Saved preset {path}")
        except UserError as err:
            return compat.toast(f"⚠ {err}")

    save_preset.click(on_save_preset, [preset] + inputs, [message])

    def on_load_preset(name: str) -> list[Any]:
        try:
            job = load_toml(TrainJob, presets_dir() / f"{name}.toml")
        except UserError as err:
            return [compat.toast(f"⚠ {err}"), compat.update()] + \
                [compat.update() for _ in SETTINGS]
        data = to_dict(job)
        values = [form.shown(_get(data, path), kind) for path, _, kind, _ in SETTINGS]
        rows = [[c["folder"], c["token"], c["repeats"], c["class_folder"], c["class_prompt"]]
                for c in data["concepts"]]
        return [compat.toast(f"Loaded preset {name}"), rows] + values

    load_preset.click(on_load_preset, [preset], [message, concepts] + fields)

    compat.every(2.0, poll_view, [status, loss_plot, samples])
    name_field = fields[[p for p, *_ in SETTINGS].index("save.name")]
    best = build_best_step_panel(host, name_field)
    return {"base": base, "concepts": concepts, "status": status, "fields": fields,
            "best": best}


def poll_view() -> tuple[Any, Any, Any]:
    """What the tab shows of the run (called every 2 s, and after a browser refresh)."""
    view = SESSION.view()
    sample_steps = sorted({int(Path(p).stem.split("-")[0]) for p in view.samples
                           if Path(p).stem.split("-")[0].isdigit()})
    return view.text, loss_chart(view.losses, view.total_steps, sample_steps), \
        [(path, Path(path).stem) for path in view.samples] or None
