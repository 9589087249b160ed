"""Train tab: the guided path on top (train_guided), the run's progress, loss chart and samples,
then every setting in accordions by purpose (train_sections), the best-step grid. This module
lays the sections out and connects their events to the controller (train_controller)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.fields import SETTINGS, section_summary
from lora_for_dummies.train.guided import subject_of
from lora_for_dummies.train.sampling import sample_label
from lora_for_dummies.ui import compat
from lora_for_dummies.ui import train_form as form
from lora_for_dummies.ui.bestgrid_panel import build_best_step_panel
from lora_for_dummies.ui.charts import loss_chart
from lora_for_dummies.ui.train_controller import (
    TrainController,
    family_of,
    job_values,
)
from lora_for_dummies.ui.train_guided import build_guided_section
from lora_for_dummies.ui.train_sections import (
    build_concepts_section,
    build_presets_section,
    build_settings_sections,
    build_wizard_section,
    summary_label,
)
from lora_for_dummies.ui.train_session import SESSION

PATHS = [path for path, *_ in SETTINGS]


def build_train_tab(host: Host) -> dict[str, Any]:
    controller = TrainController(host)
    top = build_guided_section(host, controller)
    # The webui's progress bar appears above this (javascript/lora_for_dummies.js); the task id
    # travels from the page's script to the run in a hidden field.
    gr.HTML("", elem_id="lfd_train_progressbar")
    task_id = gr.Textbox(visible=False, elem_id="lfd_train_task_id")
    # Whether the LoRA name was typed (kept) or follows the dataset; a page load works it out
    # from the remembered form.
    name_typed = gr.Checkbox(lambda: form.name_typed(host), visible=False,
                             elem_id="lfd_train_name_typed")
    message = compat.message_markdown("", elem_id="lfd_train_message")
    # A finished run's one final block (the file, how to use it, the best-step grid), kept by
    # the poll until the next run starts.
    finished = compat.message_markdown(lambda: SESSION.view().finished,
                                       elem_id="lfd_train_finished")
    status = gr.Textbox(label="Progress", lines=6, interactive=False, elem_id="lfd_train_status")
    with gr.Row():
        # No label badge: it would cover the chart's own title and axis.
        # Drawn from the form's settings at every page load too: a refresh keeps the curve.
        lr_plot = gr.Image(lambda: controller.lr_plot(job_values(form.form_job(host))),
                           label="Learning rate", type="pil", elem_id="lfd_train_lr_plot",
                           interactive=False, show_label=False)
        loss_plot = gr.Image(label="Loss", type="pil", elem_id="lfd_train_loss_plot",
                             interactive=False, show_label=False)
    # Labelled "step 25 · prompt 1": each prompt keeps its seed, so only training changes it.
    samples = compat.gallery("Samples (newest last; each prompt keeps its seed, so only the "
                             "training changes it)", "lfd_train_samples")
    gr.Markdown("**Every setting** — the choices above filled these in; open a section to "
                "change one", elem_classes=["lfd-step"])
    fields, v_mode, sections = build_settings_sections(host)
    plot = gr.Button("Plot LR", elem_id="lfd_train_plot")
    concepts = build_concepts_section(host)
    wizard = build_wizard_section(host)
    presets = build_presets_section(host, controller)
    best = build_best_step_panel(host, fields[PATHS.index("save.name")])
    parts = {**top, **concepts, **wizard, **presets, "fields": fields, "v_mode": v_mode,
             "message": message, "status": status, "lr_plot": lr_plot, "task_id": task_id,
             "name_typed": name_typed, "finished": finished}
    _connect_guided(controller, parts)
    _connect_runs(host, controller, parts, plot)
    for accordion, title, section_fields in sections:
        relabel = summary_label(title, tuple(PATHS[fields.index(f)] for f in section_fields))
        for field in section_fields:
            field.change(relabel, section_fields, [accordion])

    def on_page_summaries() -> list[Any]:
        """The accordions' summaries from the values the page loads into the fields (built
        once, their labels would show the settings of when the app started)."""
        values = dict(zip(PATHS, job_values(form.form_job(host)), strict=True))
        return [compat.update(label=section_summary(title, values)) for _, title, _ in sections]

    compat.on_page_load(on_page_summaries, [accordion for accordion, *_ in sections])
    compat.every(2.0, poll_view, [status, loss_plot, samples, finished])
    return {"base": top["base"], "concepts": concepts["concepts"], "status": status,
            "fields": fields, "best": best}


def _fill(job: TrainJob) -> list[Any]:
    """Updates that show `job` in the concepts table and every setting field."""
    return [form.job_concept_rows(job) or None] + \
        [compat.update(value=v) for v in job_values(job)]


def _connect_guided(controller: TrainController, p: dict[str, Any]) -> None:
    fields = p["fields"]
    name_field = fields[PATHS.index("save.name")]

    def on_guided(base: str, subject: str, dataset: str, concept: str, name: str,
                  typed: bool, trigger: str = "", token: str | None = None) -> list[Any]:
        if not dataset:
            # gradio 5 sends step 3's `.input` with no value while a page reloads, before the
            # value arrives: that is no choice, so the form stays as it is (Start still refuses
            # a form whose step 3 shows no dataset)
            return [compat.update() for _ in guided_out]
        line = controller.images_line(dataset, concept)
        name = name if typed and name else ""  # the dataset's until the user types one
        if token is None:  # the dataset's own trigger word, else what step 3 shows
            token = _dataset_token(dataset, concept) or trigger or ""
        try:
            job, why = controller.guided(base, subject, dataset, concept, name, token)
        except UserError as err:
            kept = [compat.update() for _ in fields]
            if controller.images_problem(dataset, concept):
                # Nothing to train in step 3: the table and the name let go of the dataset
                # chosen before, so Start cannot train it unseen.
                kept[PATHS.index("save.name")] = compat.update(
                    value=name or dataset or TrainJob().save.name)
                return [f"⚠ {err}", line, None] + kept + [compat.update()]
            return [f"⚠ {err}", line, compat.update()] + kept + [compat.update()]
        return ["\n".join(f"- {reason}" for reason in why), line] + _fill(job) + [token]

    def _dataset_token(dataset: str, concept: str) -> str:
        try:
            return controller.concept_row(dataset, concept, "high")[1]
        except (UserError, OSError, TypeError):
            return ""

    def on_trigger(base: str, subject: str, dataset: str, concept: str, name: str,
                   typed: bool, trigger: str) -> list[Any]:
        """The base model, what you're teaching or the trigger word changed: the word step 3
        shows is kept (a dataset choice brings the dataset's own)."""
        word = str(trigger or "").strip() or _dataset_token(dataset, concept)
        return on_guided(base, subject, dataset, concept, name, typed, trigger, word)

    guided_in = [p["base"], p["subject"], p["dataset"], p["concept"], name_field,
                 p["name_typed"], p["trigger"]]
    guided_out = [p["choices_text"], p["images_line"], p["concepts"]] + fields + [p["trigger"]]
    for choice in (p["dataset"], p["concept"]):
        choice.input(on_guided, guided_in, guided_out)  # the user's choices, not page loads
    for choice in (p["base"], p["subject"]):
        choice.input(on_trigger, guided_in, guided_out)
    # Once typed (not at each key: every answer refills the settings below)
    p["trigger"].blur(on_trigger, guided_in, guided_out)

    def on_hand_edit(base: str, subject: str, dataset: str, concept: str, name: str,
                     typed: bool, trigger: str, *values: Any) -> Any:
        """A setting changed by hand: the guided lines say so, and time the run it makes."""
        if not dataset:
            return compat.update()
        try:
            _, why = controller.guided(base, subject, dataset, concept,
                                       name if typed and name else "", trigger or "",
                                       shown=list(values))
        except UserError:  # step 3 has nothing to train: its own message stays
            return compat.update()
        return "\n".join(f"- {reason}" for reason in why)

    for field in fields:
        if field is not name_field:
            field.input(on_hand_edit, guided_in + fields, [p["choices_text"]])
    # Typing a name keeps it; emptying the box gives the name back to the dataset.
    name_field.input(lambda text: bool(str(text or "").strip()), [name_field],
                     [p["name_typed"]])

    def on_concept_list(name: str | None, current: str | None = None) -> Any:
        names = controller.concepts_of(name)
        chosen = current if current in names else (names[0] if names else None)
        return compat.update(choices=names, value=chosen)

    p["dataset"].change(on_concept_list, [p["dataset"], p["concept"]], [p["concept"]])
    p["concept_refresh"].click(on_concept_list, [p["dataset"], p["concept"]], [p["concept"]])

    def on_base(title: str | None) -> tuple[str, Any]:  # the Wizard's family follows it too
        try:
            chosen = family_of(controller.checkpoint(title))
        except UserError:
            chosen = None
        family = compat.update(value=chosen) if chosen in controller.host.families()[0] \
            else compat.update()
        return controller.base_line(title), family

    p["base"].change(on_base, [p["base"]], [p["base_line"], p["family"]])

    def on_add(rows: Any, name: str, concept_name: str, images: str) -> tuple[Any, str]:
        current = compat.table_rows(rows)
        if not name:
            return current, compat.toast("⚠ choose a dataset first (🔄 if you just made it)")
        try:
            row = controller.concept_row(name, concept_name, images)
        except UserError as err:
            return current, compat.toast(f"⚠ {err}")
        return current + [row], f"Added {name} / {concept_name or 'main'} ({images} resolution)"

    p["add"].click(on_add, [p["concepts"], p["dataset"], p["concept"], p["which"]],
                   [p["concepts"], p["message"]])
    p["clear"].click(lambda: [], [], [p["concepts"]])

    def on_wizard(gb: float, family_name: str) -> list[Any]:
        from lora_for_dummies.train.wizard import choose, detect_vram_gb

        choice = choose(float(gb) or detect_vram_gb(), family_name)
        updates = [compat.update(value=choice.settings[path]) if path in choice.settings
                   else compat.update() for path in PATHS]
        text = f"**{choice.label}**\n\n" + "\n".join(f"- {r}" for r in choice.reasons)
        return [text] + updates

    p["wizard"].click(on_wizard, [p["vram"], p["family"]], [p["wizard_text"]] + fields)


def _connect_runs(host: Host, controller: TrainController, p: dict[str, Any],
                  plot: Any) -> None:
    fields, message = p["fields"], p["message"]
    inputs = [p["base"], p["concepts"], p["v_mode"]] + fields
    choices = [p["subject"], p["dataset"], p["concept"]]

    def begin(resume: bool, task: str, count: int, replace: bool, base_title: str, rows: Any,
              v: str, values: list[Any], picked: list[Any]) -> str:
        try:
            controller.check_shown_images(str(picked[1] or ""), str(picked[2] or ""),
                                          compat.table_rows(rows))
            job = controller.job_from_values(base_title, compat.table_rows(rows), v, values)
            remembered = dict(zip(("subject", "dataset", "concept"),
                                  (str(c or "") for c in picked), strict=True))
            # The Replace tick comes back after a refresh; a resume does not change it.
            remembered["overwrite"] = (form.last_choice(host, "overwrite", "") if resume
                                       else "yes" if replace else "")
            return compat.toast(controller.start(job, resume, count, task, replace,
                                                 remembered))
        except UserError as err:
            SESSION.dismiss_finished()  # the last run's block is no answer to this Start
            return compat.toast(f"⚠ {err}")

    def on_start(task, count, replace, subject, dataset, concept, base_title, rows, v, *values):
        return begin(False, task, count, replace, base_title, rows, v, list(values),
                     [subject, dataset, concept])

    def on_resume(task, count, subject, dataset, concept, base_title, rows, v, *values):
        return begin(True, task, count, False, base_title, rows, v, list(values),
                     [subject, dataset, concept])

    def on_plot(*values: Any) -> Any:
        return controller.lr_plot(list(values))

    def on_answered(answer: str, why: str) -> list[Any]:
        """After Start / Resume: a refusal puts the last run's final block away (at once; the
        poll keeps it away); a start clears a refusal the guided path still shows above."""
        if str(answer or "").startswith("⚠"):
            return [compat.update(), ""]
        return ["" if str(why or "").startswith("⚠") else compat.update(), compat.update()]

    plot.click(on_plot, fields, [p["lr_plot"]])
    # In the webui its progressbar.js is on the page: our script makes the task id.
    script = "lfd_start_training" if host.name == "webui" else None
    # Button answers go to `message`, which keeps them until the next one; the progress box
    # is rewritten by the poll every 2 s.
    answered = ([message, p["choices_text"]], [p["choices_text"], p["finished"]])
    compat.click(p["start"], on_start, [p["task_id"], p["gpus"], p["overwrite"]] + choices
                 + inputs, [message], js=script).then(on_plot, fields, [p["lr_plot"]]) \
        .then(on_answered, *answered)
    compat.click(p["resume"], on_resume, [p["task_id"], p["gpus"]] + choices + inputs,
                 [message], js=script).then(on_plot, fields, [p["lr_plot"]]) \
        .then(on_answered, *answered)
    p["stop"].click(lambda: compat.toast(SESSION.stop(save=False)), [], [message])
    p["stop_save"].click(lambda: compat.toast(SESSION.stop(save=True)), [], [message])

    def on_save_preset(name, base_title, rows, v, *values) -> str:
        try:
            job = controller.job_from_values(base_title, compat.table_rows(rows), v,
                                             list(values))
            return compat.toast(controller.save_preset(name, job))
        except UserError as err:
            return compat.toast(f"⚠ {err}")

    p["save_preset"].click(on_save_preset, [p["preset"]] + inputs, [message])

    def filled(load: Any, what: str) -> Any:
        def handler(name: str) -> list[Any]:
            try:
                job = load(name)
            except UserError as err:  # every output answered, the form left as it was
                return [compat.toast(f"⚠ {err}")] + [compat.update() for _ in loaded[1:]]
            base = controller.base_title_of(job)
            subject = subject_of(job)  # the radio shows the preset the job was made with
            held = controller.rows_datasets(form.job_concept_rows(job))  # step 3 shows it
            return [compat.toast(f"Loaded the settings of {what} {name}"),
                    compat.update(value=base) if base else compat.update(),
                    compat.update(value=subject.label) if subject else compat.update(),
                    f"The settings of {what} {name}: open the sections below to see them"] \
                + _fill(job) + [compat.update(value=held[0]) if held else compat.update()]
        handler.__name__ = f"on_load_{what}"
        return handler

    loaded = [message, p["base"], p["subject"], p["choices_text"], p["concepts"]] + fields \
        + [p["dataset"]]
    p["load_preset"].click(filled(controller.load_preset, "preset"), [p["preset"]], loaded)
    p["load_run"].click(filled(controller.load_run, "run"), [p["run"]], loaded)


def poll_view() -> tuple[Any, Any, Any, str]:
    """What the tab shows of the run (called every 2 s, and after a browser refresh)."""
    view = SESSION.view()
    sample_steps = sorted({int(Path(p).stem.split("-")[0]) for p in view.samples
                           if Path(p).stem.split("-")[0].isdigit()})
    return view.text, loss_chart(view.losses, view.total_steps, sample_steps), \
        [(path, sample_label(path)) for path in view.samples] or None, view.finished
