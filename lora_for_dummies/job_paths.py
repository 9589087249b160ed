"""Jobs from the API and the tabs name things, never paths.

A train job that arrives from a web request or a tab may only point into the host's configured
roots: base models by the title of the host's model list (or the exact file that title names),
concept and class folders inside the datasets folder, LoRAs into the Lora folder and run state
into the runs folder. Anything else is refused with the field and the reason, before any work.
Only a job file given to the CLI on the user's own command line may use other paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lora_for_dummies.errors import UserError

if TYPE_CHECKING:
    from lora_for_dummies.hosts.base import Host
    from lora_for_dummies.train.config import TrainJob


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def model_by_title(host: Host, value: str, field: str) -> Path:
    """The file behind a title of the host's model list (its exact path is accepted too)."""
    entries = host.checkpoints()
    for entry in entries:
        if value == entry.title:
            return Path(entry.path)
    for entry in entries:  # a job saved earlier holds the path the title stood for
        if value and Path(value).resolve() == Path(entry.path).resolve():
            return Path(entry.path)
    raise UserError(f"{field}: {value!r} is not in the model list ({len(entries)} models); "
                    "give the title the model list shows")


def folder_in(root: Path, value: str, field: str, what: str) -> str:
    """A folder inside `root`, given relative to it (`my dog/HIGHRES_CONCEPT`) or absolute."""
    if not value:
        return ""
    path = Path(value)
    path = path if path.is_absolute() else Path(root) / path
    if not _inside(path, Path(root)):
        raise UserError(f"{field}: {value!r} is outside the {what} ({root}); jobs sent to the "
                        "app name folders inside it")
    return str(path.resolve())


def confine_train_job(job: TrainJob, host: Host) -> TrainJob:
    """Point every path of `job` into `host`'s roots, or raise UserError naming the field."""
    job.model.base = str(model_by_title(host, job.model.base, "model.base"))
    for part in ("text_encoder", "text_encoder_2", "vae", "tokenizer_2", "tokenizer"):
        if getattr(job.model, part):  # a path: only a job file on the CLI may hold one
            raise UserError(f"model.{part}: jobs sent to the app leave it empty; the part is "
                            "found beside the model and in the host's folders")
    datasets = host.datasets_dir()
    for index, concept in enumerate(job.concepts):
        concept.folder = folder_in(datasets, concept.folder, f"concepts[{index}].folder",
                                   "datasets folder")
        concept.class_folder = folder_in(datasets, concept.class_folder,
                                         f"concepts[{index}].class_folder", "datasets folder")
    lora_dir = host.lora_dir()
    if job.save.lora_dir and Path(job.save.lora_dir).resolve() != Path(lora_dir).resolve():
        raise UserError(f"save.lora_dir: {job.save.lora_dir!r} is not the Lora folder "
                        f"({lora_dir}); LoRAs are always saved there (leave it empty)")
    job.save.lora_dir = ""
    given_runs = job.runs_dir
    if given_runs not in ("", "runs") and \
            Path(given_runs).resolve() != Path(host.runs_dir()).resolve():
        raise UserError(f"runs_dir: {given_runs!r} is not the runs folder ({host.runs_dir()}); "
                        "leave it out")
    job.runs_dir = str(host.runs_dir())
    return job


def known_names(body: dict[str, Any], allowed: set[str], what: str) -> None:
    """Refuse unknown fields of an API request (a typo must not be ignored)."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise UserError(f"unknown field{'s' if len(unknown) > 1 else ''} of a {what} job: "
                        f"{', '.join(unknown)}")
