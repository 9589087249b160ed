"""What the Train tab does, as plain functions of the host and the form's values: the job from
the fields, the guided path's lines and job, start / resume (one path), presets, runs and the LR
plot. The tab's builders only lay out widgets and connect them to these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.config import from_dict, load_toml, save_toml, to_dict
from lora_for_dummies.dataset.layout import is_image, list_datasets, no_images_advice, open_dataset
from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.fields import SETTINGS, TRISTATE_VALUES
from lora_for_dummies.train.hand_edits import setting_value
from lora_for_dummies.ui import train_form as form
from lora_for_dummies.ui.families import family_refused
from lora_for_dummies.ui.train_session import SESSION

CONCEPT_HEADERS = ["folder", "token", "repeats", "class folder", "class prompt"]


def family_of(path: Path) -> str:
    from lora_for_dummies.checkpoints.detect import inspect_checkpoint

    return inspect_checkpoint(path, compute_hash=False).family


def job_values(job: TrainJob) -> list[Any]:
    """The job as the setting fields show it, in `SETTINGS` order."""
    data = to_dict(job)
    return [form.shown(data[path.split(".")[0]][path.split(".")[1]], kind)
            for path, _, kind, _ in SETTINGS]


class TrainController:
    def __init__(self, host: Host) -> None:
        self.host = host

    # -- the form ---------------------------------------------------------------------------
    def checkpoint(self, title: str | None) -> Path:
        entry = next((e for e in self.host.checkpoints() if e.title == title), None)
        if entry is None:
            raise msg.NO_BASE.error()
        refused = family_refused(self.host, family_of(entry.path))
        if refused:
            raise UserError(refused)
        return entry.path

    def job_from_values(self, base: str, concepts: list[list[Any]], v_mode: str,
                        values: list[Any]) -> TrainJob:
        data = to_dict(TrainJob())
        for (path, _, kind, _), value in zip(SETTINGS, values, strict=True):
            section, key = path.split(".")
            data[section][key] = value if kind in ("bool", "choice", "text") else \
                setting_value(kind, value)
        data["model"]["base"] = str(self.checkpoint(base))
        data["model"]["v_prediction"] = TRISTATE_VALUES.get(v_mode)
        data["concepts"] = [{"folder": row[0], "token": row[1], "repeats": int(row[2]),
                             "class_folder": row[3] or "", "class_prompt": row[4] or ""}
                            for row in concepts if row and row[0]]
        if not data["concepts"]:
            raise msg.NO_CONCEPTS.error()
        data["runs_dir"] = str(self.host.runs_dir())
        return from_dict(TrainJob, data)

    def concept_row(self, dataset: str, concept: str, which: str) -> list[Any]:
        ds = open_dataset(self.host.datasets_dir() / dataset)
        selected = ds.concept(concept or "main")
        folder = ds.folder(selected, which)
        return [str(folder), selected.token, selected.repeats, "", selected.class_prompt]

    def datasets(self) -> list[str]:
        return list_datasets(self.host.datasets_dir())

    def concepts_of(self, dataset: str | None) -> list[str]:
        try:
            return [c.title for c in open_dataset(self.host.datasets_dir() / dataset)
                    .concepts.values()]
        except (UserError, TypeError):
            return []

    # -- the guided path ---------------------------------------------------------------------
    def base_line(self, title: str | None) -> str:
        """What the chosen base model is, in one line (the Models tab has the whole table)."""
        from lora_for_dummies.checkpoints.detect import inspect_checkpoint

        if not title:
            if not self.host.checkpoints():
                return f"⚠ {self.host.models_hint()}"
            return "Choose the model you generate with (or the base it was made from)."
        try:
            info = inspect_checkpoint(self.checkpoint(title), compute_hash=False)
        except UserError as err:
            return f"⚠ {err}"
        parts = [info.family_title, {"v": "v-prediction", "epsilon": "ε-prediction"}.get(
            info.prediction, "prediction unknown")]
        if info.zero_terminal_snr:
            parts.append("zero terminal SNR")
        parts.append(f"clip skip {info.clip_skip} suggested")
        if info.model_line:
            parts.append(f"{info.model_line} line")
        return "Detected: " + " · ".join(parts)

    def images_line(self, dataset: str | None, concept: str | None) -> str:
        if not dataset:
            return "Choose a dataset (made and processed in the Dataset tab)."
        try:
            ds = open_dataset(self.host.datasets_dir() / dataset)
            selected = ds.concept(concept or "main")
        except UserError as err:
            return f"⚠ {err}"
        images, captioned = image_summary(ds.folder(selected, "high"))
        if not images:
            return f"⚠ {no_images_advice(ds, selected)}"
        word = f"trigger word **{selected.token}**" if selected.token else \
            "⚠ no trigger word (set one in the Dataset tab)"
        return (f"{images} images, {captioned} with a caption "
                f"({captioned * 100 // images} %), {word}, {selected.repeats} repeats (the "
                "Dataset tab's setting)")

    def images_problem(self, dataset: str | None, concept: str | None) -> str | None:
        """Why step 3's choice has nothing to train (no dataset, no processed images), or
        None. Start refuses with it rather than train images chosen earlier."""
        if not dataset:
            return msg.NO_IMAGES.text
        try:
            ds = open_dataset(self.host.datasets_dir() / dataset)
            selected = ds.concept(concept or "main")
        except UserError as err:
            return str(err)
        if not image_summary(ds.folder(selected, "high"))[0]:
            return f"{no_images_advice(ds, selected)}, then choose it again in step 3"
        return None

    def rows_datasets(self, rows: list[list[Any]]) -> list[str]:
        """The datasets whose folders the Concepts table's rows train (others: none)."""
        root, names, found = self.host.datasets_dir().resolve(), set(self.datasets()), []
        for row in rows:
            try:
                parts = Path(str(row[0])).resolve().relative_to(root).parts
            except (ValueError, OSError, IndexError):
                continue
            if len(parts) >= 2 and parts[0] in names and parts[0] not in found:
                found.append(parts[0])
        return found

    def check_shown_images(self, dataset: str | None, concept: str | None,
                           rows: list[list[Any]]) -> None:
        """Start trains what the form shows: step 3's dataset, or refuses with why. The
        Concepts table may still hold images of a dataset chosen earlier (step 3 since
        cleared, or set to a dataset with nothing to train); never train those unsaid."""
        if dataset or not rows:
            problem = self.images_problem(dataset, concept) if dataset else None
            if problem:
                raise UserError(problem)
        held = self.rows_datasets(rows)
        if dataset and dataset in held and any(not str(row[1] or "").strip() for row in rows
                                               if self.rows_datasets([row]) == [dataset]):
            raise msg.NO_TRIGGER.error()
        if held and (dataset or "") not in held:
            raise msg.STEP3_MISMATCH.error(dataset=dataset or "no dataset",
                                           held=", ".join(held))
        if dataset and not rows:  # processed since step 3 refused it: not filled in yet
            raise msg.STEP3_NOT_FILLED.error(dataset=dataset)

    def gpu_line(self) -> str:
        from lora_for_dummies.train.wizard import detect_vram_gb, gpu_name

        gigabytes = detect_vram_gb()
        if gigabytes <= 0:
            return "No CUDA GPU found: the run is sized for the CPU"
        return f"{gpu_name()}, {gigabytes:.0f} GB: the Performance Wizard sizes the run for it"

    def guided(self, base: str | None, subject: str | None, dataset: str | None,
               concept: str | None, name: str, token: str | None = None,
               shown: list[Any] | None = None) -> tuple[TrainJob, list[str]]:
        """The job the five choices make, from the current form's other settings; `token`:
        the trigger word typed in step 3 (None: the dataset's). With `shown` (the settings'
        fields as the form holds them) the lines also name what was changed by hand there,
        and the time is the changed run's."""
        from lora_for_dummies.train.guided import GuidedInput, guided_job, subject_for
        from lora_for_dummies.train.wizard import detect_vram_gb

        path = self.checkpoint(base)
        problem = self.images_problem(dataset, concept)
        if problem:
            raise UserError(problem)
        ds = open_dataset(self.host.datasets_dir() / str(dataset))
        selected = ds.concept(concept or "main")
        folder = ds.folder(selected, "high")
        images, _ = image_summary(folder)
        given = GuidedInput(base=path, family=family_of(path), subject=subject_for(subject),
                            concept_folder=folder,
                            token=(selected.token if token is None else token).strip(),
                            image_count=images,
                            name=name or dataset, vram_gb=detect_vram_gb(),
                            repeats=selected.repeats)
        job, why = guided_job(form.form_job(self.host), given)
        from lora_for_dummies.train.estimate import estimate_run, estimate_steps, unet_parameters
        from lora_for_dummies.train.hand_edits import changes_time, hand_edits, hand_edits_line
        from lora_for_dummies.train.wizard import gpu_name

        gpu, params = gpu_name() if given.vram_gb > 0 else "", unet_parameters(path)
        changes = hand_edits(job, shown) if shown is not None else []
        if changes_time(changes):  # the run the form now makes, not the guided one
            t = to_dict(job)["training"] | {c[0].split(".")[1]: c[3] for c in changes
                                            if c[0].startswith("training.")}
            run = estimate_steps(t["steps"], t["resolution"], t["batch_size"], given.family,
                                 given.vram_gb, gpu, params)
        else:  # the same line as the Dataset tab's pre-flight (one rule: train/estimate.py)
            run = estimate_run(images, given.family, given.vram_gb, gpu, params,
                               given.subject.key)
        edits = [hand_edits_line(changes)] if changes else []
        return job, why + edits + [f"time: {run.line()}"]

    # -- start / resume: one path -----------------------------------------------------------
    def start(self, job: TrainJob, resume: bool, gpus: int, task_id: str, overwrite: bool,
              choices: dict[str, str] | None = None) -> str:
        answer = SESSION.start(self.host, job, resume=resume, gpus=int(gpus or 1),
                               task_id=task_id or "", overwrite=bool(overwrite))
        # A page reload shows these settings again: only once started, so that a refused
        # value (a bad name, another run's files) never comes back.
        form.remember(self.host, job, choices)
        return answer

    # -- presets and runs -------------------------------------------------------------------
    def presets_dir(self) -> Path:
        return self.host.runs_dir() / "presets"

    def save_preset(self, name: str, job: TrainJob) -> str:
        from lora_for_dummies.names import check_name

        path = self.presets_dir() / f"{check_name(name, 'preset name')}.toml"
        save_toml(job, path)
        return f"Saved preset {path}"

    def load_preset(self, name: str) -> TrainJob:
        from lora_for_dummies.names import check_name

        return load_toml(TrainJob, self.presets_dir() / f"{check_name(name, 'preset name')}.toml")

    def runs(self) -> list[str]:
        """Runs with their settings on disk (`runs/<name>/config.toml`), newest first."""
        folder = self.host.runs_dir()
        if not folder.is_dir():
            return []
        configs = [p / "config.toml" for p in folder.iterdir() if (p / "config.toml").is_file()]
        return [c.parent.name for c in sorted(configs, key=lambda c: -c.stat().st_mtime)]

    def load_run(self, name: str | None) -> TrainJob:
        if not name or name not in self.runs():
            raise UserError("choose a run (press 🔄 if it is new)")
        job = load_toml(TrainJob, self.host.runs_dir() / name / "config.toml")
        try:
            job.validate()  # a hand-edited file: which setting and why, before the form changes
        except UserError as err:
            raise UserError(f"config.toml of run {name}: {err}") from None
        return job

    def base_title_of(self, job: TrainJob) -> str | None:
        return next((e.title for e in self.host.checkpoints()
                     if job.model.base and Path(e.path) == Path(job.model.base)), None)

    # -- the LR plot ------------------------------------------------------------------------
    def lr_plot(self, values: list[Any]) -> Any:
        from lora_for_dummies.train.config import OptimizerConfig
        from lora_for_dummies.train.optim import lr_curve
        from lora_for_dummies.ui.charts import line_chart

        data = {path.split(".")[1]: value for (path, *_), value in zip(SETTINGS, values,
                                                                       strict=True)
                if path.startswith("optimizer.")}
        steps = int(values[[p for p, *_ in SETTINGS].index("training.steps")] or 1)
        config = OptimizerConfig(**{**data, "cycles": int(data.get("cycles") or 1),
                                    "warmup": float(data.get("warmup") or 0)})
        title = f"UNet learning rate, {config.scheduler}, {steps} steps"
        return line_chart(lr_curve(config, max(steps, 1)), title)


def image_summary(folder: Path) -> tuple[int, int]:
    """(images, images with a caption that says something) in a processed concept folder."""
    from lora_for_dummies.dataset.captions import has_caption

    images = [p for p in folder.iterdir() if is_image(p)] if folder.is_dir() else []
    captioned = sum(1 for p in images if has_caption(p))
    return len(images), captioned
