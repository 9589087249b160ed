"""Checks before a run trains its first step: nothing overwritten unasked, folders usable,
a resume really continues the same run, and litter from killed runs removed.

The loop calls these once, so the CLI, the tabs and the API get the same refusals.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.atomic import remove_leftovers, write_text_atomic
from lora_for_dummies.config import _load_toml, to_dict
from lora_for_dummies.errors import UserError
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.launch import clear_stop_requests

# What may change between a run and its resume: how long it goes on, how often it saves and
# samples, what the samples show, and settings that change speed or memory, not the result.
# Anything else (base, network, resolution, seed, optimizer, data, …) would make another LoRA
# under the old name, or fail on the saved state's shapes.
RESUME_SAFE = (
    "training.steps", "samples.", "save.every", "save.keep_last", "save.preferred_weight",
    "training.cache_latents", "training.cache_text_encoder", "training.gradient_checkpointing",
    "runs_dir",
)


def nothing_to_resume(job: TrainJob) -> UserError:
    return msg.NOTHING_TO_RESUME.error(name=job.save.name)


def check_resumable(job: TrainJob) -> None:
    """Refuse at once (in the tab, before a thread starts) to resume a run that never trained
    a step: its log has no step and there is no saved state. The loop checks the state too."""
    log = job.run_dir / "log.jsonl"
    try:
        trained = log.is_file() and any('"loss"' in line for line in
                                        log.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        trained = False
    if not trained or not (job.run_dir / "state" / "state.pt").is_file():
        raise nothing_to_resume(job)


def check_folders(lora_dir: Path, run_dir: Path) -> None:
    """Create the Lora and run folders and prove both writable, before any model loads."""
    for folder, what in ((lora_dir, "Lora folder"), (run_dir, "run folder")):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".lfd-write-test.tmp"
            probe.write_bytes(b"x")
            probe.unlink()
        except OSError as err:
            raise msg.FOLDER_NOT_WRITABLE.error(what=what, folder=folder,
                                                reason=err.strerror or err) from None


def check_room(folders: list[Path], needed: int) -> None:
    """At least `needed` bytes free in each folder (one save), else refuse before training."""
    for folder in folders:
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise msg.NO_ROOM.error(folder=folder, free=free / 2**20, needed=needed / 2**20)


def check_name_clash(job: TrainJob, lora_dir: Path, overwrite: bool) -> list[Path]:
    """A new run must not replace LoRA files it did not create. Returns the files that
    `overwrite` will replace: `<name>.safetensors` and the step files an earlier run of this
    name recorded writing (so that the best-step grid and keep-last never mix two runs).
    Files merely named like its steps (`<name>-1.safetensors`, another LoRA's) are never
    touched; one the run would write over is refused, overwrite or not."""
    from lora_for_dummies.train.run_files import RunFiles, refuse_foreign_steps

    files = RunFiles(job.run_dir, lora_dir, job.save.name)
    main = Path(lora_dir) / f"{job.save.name}.safetensors"
    existing = ([main] if main.is_file() else []) + [p for _, p in files.steps()]
    if existing and not overwrite:
        shown = ", ".join(p.name for p in existing[:3]) + (" …" if len(existing) > 3 else "")
        raise msg.NAME_CLASH.error(files=shown, folder=lora_dir)
    refuse_foreign_steps(files, 0, job.save.every, job.training.steps)
    return existing


def remove_old_steps(job: TrainJob, files: list[Path], lora_dir: Path) -> list[str]:
    """Remove the earlier run's step files (only those it recorded) and start a fresh record."""
    from lora_for_dummies.train.run_files import RunFiles

    record = RunFiles(job.run_dir, lora_dir, job.save.name)
    removed = []
    for path in files:
        if path.name != f"{job.save.name}.safetensors" and record.remove(path):
            removed.append(path.name)
    record.reset()
    return removed


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, name + "."))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for index, item in enumerate(value):
                flat.update(_flat(item, f"{name}[{index}]."))
            flat[name + ".count"] = len(value)
        else:
            flat[name] = value
    return flat


def resume_changes(saved: TrainJob, requested: TrainJob) -> tuple[list[str], list[str]]:
    """(refused, accepted) differences as `field: old → new`, comparing the whole jobs."""
    old, new = _flat(to_dict(saved)), _flat(to_dict(requested))
    refused, accepted = [], []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        line = f"{key}: {old.get(key)!r} → {new.get(key)!r}"
        (accepted if key.startswith(RESUME_SAFE) else refused).append(line)
    return refused, accepted


def saved_job(run_dir: Path) -> TrainJob | None:
    path = run_dir / "config.toml"
    if not path.is_file():
        return None
    saved = TrainJob.from_dict(_load_toml(path.read_text(encoding="utf-8")))
    saved.validate()
    return saved


def check_resume(job: TrainJob, run_dir: Path) -> list[str]:
    """Refuse a resume whose job would train another LoRA; return the accepted changes."""
    saved = saved_job(run_dir)
    if saved is None:
        return []
    # Paths may be written differently (relative, moved folder): compare what they name.
    for a, b in ((saved.model, job.model), (saved.save, job.save),
                 *zip(saved.concepts, job.concepts, strict=False)):
        for attr in ("base", "folder", "class_folder", "lora_dir"):
            if hasattr(a, attr) and getattr(a, attr) and getattr(b, attr) and \
                    Path(getattr(a, attr)).resolve() == Path(getattr(b, attr)).resolve():
                setattr(a, attr, getattr(b, attr))
    refused, accepted = resume_changes(saved, job)
    # The base may be moved or renamed: its hash (checked after loading) is what counts.
    refused = [line for line in refused if not line.startswith("model.base:")]
    if refused:
        raise msg.RESUME_CHANGED.error(changes="; ".join(refused))
    return accepted


def check_base_hash(state: dict[str, Any], sha256: str, base: str) -> None:
    """The saved state remembers the base it was trained on; a resume must use the same."""
    trained_on = state.get("base_sha256")
    if trained_on and trained_on != sha256:
        raise msg.RESUME_OTHER_BASE.error(trained=trained_on[:12], file=Path(base).name,
                                          sha=sha256[:12])


def trim_log(run_dir: Path, step: int) -> None:
    """Keep the log's records up to `step`: steps trained after the last save were lost with
    the process and are trained again, so each step keeps exactly one line."""
    log = run_dir / "log.jsonl"
    if not log.is_file():
        return
    kept = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        if isinstance(record, dict) and int(record.get("step", 0)) <= step:
            kept.append(json.dumps(record))
    write_text_atomic(log, "".join(line + "\n" for line in kept))


def clean_leftovers(*folders: Path) -> list[str]:
    removed: list[str] = []
    for folder in folders:
        removed += remove_leftovers(folder)
    return removed


def prepare_run(job: TrainJob, lora_dir: Path, resume: bool, overwrite: bool,
                notes: list[str]) -> dict[str, Any] | None:
    """Everything refused before a model loads: unusable folders, a name clash, a resume that
    would train another LoRA. Writes the run's config.toml; returns a resume's saved state.
    What was done on the way (files removed, changes accepted) is appended to `notes`."""
    from lora_for_dummies.config import save_toml
    from lora_for_dummies.train.saving import load_state

    job.resolve_repeats()  # before a resume compares it with the saved config
    run_dir = job.run_dir
    check_folders(lora_dir, run_dir)
    removed = clean_leftovers(lora_dir, run_dir, run_dir / "state")
    if removed:
        notes.append(f"removed {len(removed)} unfinished file(s) of a killed job")
    state = load_state(run_dir) if resume else None
    accepted: list[str] = []
    if resume and (state is None or not int(state["step"])):
        raise nothing_to_resume(job)
    if state is not None:
        from lora_for_dummies.checkpoints.hashing import sha256_file

        accepted = check_resume(job, run_dir)
        from lora_for_dummies.train.run_files import RunFiles, refuse_foreign_steps

        refuse_foreign_steps(RunFiles(run_dir, lora_dir, job.save.name), int(state["step"]),
                             job.save.every, job.training.steps)
        if state.get("base_sha256"):  # cached by path, size and mtime: the loop's is free
            check_base_hash(state, sha256_file(job.model.base), job.model.base)
        if accepted:
            notes.append("resuming with changes: " + "; ".join(accepted))
    else:
        replaced = check_name_clash(job, lora_dir, overwrite)
        for name in remove_old_steps(job, replaced, lora_dir):
            notes.append(f"overwriting: removed {name} of an earlier run")
    clear_stop_requests(run_dir)
    if state is None:  # a fresh run starts a fresh log and state
        for old in (run_dir / "log.jsonl", run_dir / "state" / "state.pt"):
            old.unlink(missing_ok=True)
    save_toml(job, run_dir / "config.toml")
    if state is not None:
        trim_log(run_dir, int(state["step"]))
        if accepted:
            with open(run_dir / "log.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": int(state["step"]), "event": "resumed",
                                         "changes": accepted}) + "\n")
    return state


def save_size(models: dict[str, Any]) -> int:
    """Bytes of one save: the LoRA in fp32 twice (step file + copy), the resumable state
    (weights + two Adam moments), and a margin for metadata and sidecars."""
    from lora_for_dummies.train.network import lora_parameters

    count = sum(p.numel() for model in models.values() for p in lora_parameters(model))
    return count * 4 * 5 + 2**20
