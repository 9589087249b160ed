"""What the Train tab's form shows when a page (re)loads: the running job's settings while a
run goes on, else the settings last started from the tab, else defaults that fit this machine
(fp32 on a CPU, the GPU's best precision on a GPU). Components take these as functions, which
gradio calls at every page load, so a refresh brings the form back as it was."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from lora_for_dummies.config import load_toml, save_toml, to_dict
from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.train.config import LAST_SETTINGS, TrainJob
from lora_for_dummies.ui.train_session import SESSION

LAST_CHOICES = "last-choices.json"  # the guided path's choices that a job does not hold


@cache  # the machine does not change while the app runs
def best_precision() -> str:
    from lora_for_dummies.train.wizard import bf16_supported, detect_vram_gb

    if detect_vram_gb() <= 0:
        return "fp32"  # fp16/bf16 autocast on a CPU is slower and no smaller here
    return "bf16" if bf16_supported() else "fp16"


def machine_defaults() -> TrainJob:
    job = TrainJob()
    job.training.precision = best_precision()
    return job


def remember(host: Host, job: TrainJob, choices: dict[str, str] | None = None) -> None:
    """Keep the settings a run was started with (and the guided choices: what you're
    teaching, dataset, concept), for the next page load."""
    import json

    from lora_for_dummies.atomic import write_text_atomic

    save_toml(job, host.runs_dir() / LAST_SETTINGS)
    if choices is not None:
        write_text_atomic(host.runs_dir() / LAST_CHOICES, json.dumps(choices) + "\n")


def last_choice(host: Host, key: str, default: str | None = None) -> str | None:
    """One guided choice as last started (subject, dataset, concept)."""
    import json

    try:
        value = json.loads((host.runs_dir() / LAST_CHOICES).read_text(encoding="utf-8"))[key]
    except (OSError, ValueError, KeyError, TypeError):
        return default
    return value if isinstance(value, str) else default


def name_typed(host: Host) -> bool:
    """Whether the form's LoRA name was typed by the user (kept when the dataset changes)
    rather than the dataset's own (or the default), which follows the dataset."""
    name = form_job(host).save.name
    return name not in ("", TrainJob().save.name, last_choice(host, "dataset") or "")


def guided_why(host: Host, controller: Any) -> str:
    """The guided path's bullets for the remembered choices ("" when they make no job)."""
    dataset = last_choice(host, "dataset")
    if not dataset:
        return ""
    from lora_for_dummies.ui.train_controller import job_values

    job = form_job(host)
    try:  # what the run was started with, changes by hand included
        _, why = controller.guided(base_title(host), last_choice(host, "subject"), dataset,
                                   last_choice(host, "concept", "main"), job.save.name,
                                   shown=job_values(job))
    except (UserError, OSError):
        return ""
    return "\n".join(f"- {reason}" for reason in why)


def trigger_word(host: Host) -> str:
    """Step 3's trigger word: the form's first concept's."""
    concepts = form_job(host).concepts
    return concepts[0].token if concepts else ""


def form_job(host: Host) -> TrainJob:
    trainer = SESSION.trainer
    if SESSION.running and trainer is not None:
        return trainer.job
    return _last_settings(host.runs_dir() / LAST_SETTINGS)


def _last_settings(path: Path) -> TrainJob:
    """Read once per change of the file: a page load asks for it once per field."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return machine_defaults()
    if _READ.get(path, (None,))[0] != stamp:
        try:
            _READ[path] = (stamp, load_toml(TrainJob, path))
        except UserError:  # an older or hand-edited file: start from the defaults
            return machine_defaults()
    return _READ[path][1]


_READ: dict[Path, tuple[int, TrainJob]] = {}


def shown(value: Any, kind: str) -> Any:
    """A job value as its form field shows it."""
    if kind == "lines":
        return "\n".join(value)
    if kind == "tristate":
        return "auto" if value is None else "yes" if value else "no"
    return value


def field_value(host: Host, path: str, kind: str) -> Any:
    section, key = path.split(".")
    return shown(to_dict(form_job(host))[section][key], kind)


def base_title(host: Host) -> str | None:
    """The form's base model; the only one when the list holds one and none was chosen."""
    base = form_job(host).model.base
    entries = host.checkpoints()
    for entry in entries:
        if base and Path(entry.path) == Path(base):
            return entry.title
    if len(entries) == 1:
        return entries[0].title
    from lora_for_dummies.demo import demo_base  # the demo lists its base and a fine-tune

    chosen = demo_base([Path(e.path) for e in entries])
    return next((e.title for e in entries if chosen and Path(e.path) == chosen), None)


def job_concept_rows(job: TrainJob) -> list[list[Any]]:
    """A job's concepts as the Concepts table's rows."""
    return [[c.folder, c.token, c.repeats, c.class_folder, c.class_prompt] for c in job.concepts]


def concept_rows(host: Host) -> list[list[Any]] | None:
    """The form's concepts; None (an empty table) without concepts."""
    return job_concept_rows(form_job(host)) or None
