"""The top of the Train tab: the five things a beginner decides, in order — base model, what
you're teaching, images, GPU (detected, nothing to choose), Start. Each choice fills the
settings below (train_sections), so an expert sees and can change what it chose."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lora_for_dummies.hosts.base import Host
from lora_for_dummies.train.guided import SUBJECTS, TRIGGER_WHY, subject_for
from lora_for_dummies.ui import compat
from lora_for_dummies.ui import train_form as form
from lora_for_dummies.ui.lists import refreshable
from lora_for_dummies.ui.train_controller import TrainController


def _step(number: int, text: str) -> None:
    gr.Markdown(f"**{number}. {text}**", elem_classes=["lfd-step"])


def build_guided_section(host: Host, controller: TrainController) -> dict[str, Any]:
    titles = [e.title for e in host.checkpoints()]
    _step(1, "Base model")
    with gr.Row():
        # Values are functions (train_form): gradio calls them at every page load.
        base = compat.dropdown("Base model", titles, lambda: form.base_title(host),
                               "lfd_train_base",
                               info="The model you generate with, or the base it was made "
                                    "from; a LoRA works best on the model it was trained on")
        refreshable(host, base, host.refresh_checkpoints,
                            lambda: {"choices": [e.title for e in host.checkpoints()]},
                            "lfd_train_base_refresh")
    base_line = compat.message_markdown(lambda: controller.base_line(form.base_title(host)),
                            elem_id="lfd_train_base_line")
    _step(2, "What you're teaching")
    subject = gr.Radio([s.label for s in SUBJECTS], label="What you're teaching",
                       value=lambda: subject_for(form.last_choice(host, "subject")).label,
                       elem_id="lfd_train_subject",
                       info="Sets the LoRA's size, learning rates, steps per image, caption "
                            "handling and sample prompts (the table in docs/training.md says how "
                            "much and why); change any of them below")
    _step(3, "Images")
    with gr.Row():
        dataset = compat.dropdown("Dataset", controller.datasets(),
                                  lambda: form.last_choice(host, "dataset"), "lfd_train_dataset",
                                  info="A dataset from the Dataset tab; its processed "
                                       "HIGHRES_CONCEPT images train")
        refreshable(host, dataset, lambda: None, lambda: {"choices": controller.datasets()},
                            "lfd_train_dataset_refresh")
        concept = compat.dropdown("Concept", ["main"], lambda: form.last_choice(
            host, "concept", "main"), "lfd_train_concept",
            info="main, or another concept of the dataset (its own IMGS_<name> folder)")
        concept_refresh = gr.Button("🔄", elem_id="lfd_train_concept_refresh",
                                    elem_classes=["lfd-refresh"], scale=0, min_width=40)
    trigger = gr.Textbox(lambda: form.trigger_word(host), label="Trigger word",
                         elem_id="lfd_train_trigger",
                         info=f"The dataset's, or type one: {TRIGGER_WHY}. Change it only "
                              "before a new run (a resume keeps the run's)")
    images_line = compat.message_markdown(lambda: controller.images_line(
        form.last_choice(host, "dataset"), form.last_choice(host, "concept", "main")),
        elem_id="lfd_train_images_line")
    _step(4, "Your GPU")
    gpu_line = compat.message_markdown(controller.gpu_line, elem_id="lfd_train_gpu_line")
    # The "why" of the guided choices, said again at every page load (a refresh mid-run).
    choices_text = compat.message_markdown(lambda: form.guided_why(host, controller),
                                           elem_id="lfd_train_choices")
    _step(5, "Start")
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="lfd_train_start")
        resume = gr.Button("Resume", elem_id="lfd_train_resume")
        stop = gr.Button("Stop", elem_id="lfd_train_stop")
        stop_save = gr.Button("Stop and save", elem_id="lfd_train_stop_save")
        overwrite = gr.Checkbox(lambda: form.last_choice(host, "overwrite") == "yes",
                                label="Replace an existing LoRA of this name",
                                elem_id="lfd_train_overwrite",
                                info="off: a new run never replaces files it did not make")
    return {"base": base, "base_line": base_line, "subject": subject, "dataset": dataset,
            "concept": concept, "concept_refresh": concept_refresh, "images_line": images_line,
            "trigger": trigger,
            "gpu_line": gpu_line, "choices_text": choices_text, "start": start,
            "resume": resume, "stop": stop, "stop_save": stop_save, "overwrite": overwrite}
