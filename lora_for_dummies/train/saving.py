"""What a run writes: LoRA files (every N steps and at the end), sidecars, resumable state."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lora_for_dummies.atomic import atomic_path
from lora_for_dummies.lora.format import copy_lora, save_lora
from lora_for_dummies.lora.kinds import plugin
from lora_for_dummies.lora.metadata import lora_metadata, write_sidecar
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.kohya_keys import kohya_training_keys
from lora_for_dummies.train.prediction import Prediction
from lora_for_dummies.train.run_files import TRAINER_COMMENT, RunFiles


def training_metadata(job: TrainJob, family: str, prediction: Prediction, step: int,
                      model_info: Any, clip_skip: int, tag_frequency: dict[str, Any],
                      started: float, images: int, class_images: int = 0,
                      items: Any = ()) -> dict[str, str]:
    t, o, n = job.training, job.optimizer, job.network
    dirs = {f"{c.repeats}_{c.token or Path(c.folder).name}": {"n_repeats": c.repeats,
                                                              "img_count": 0}
            for c in job.concepts}
    for key, counts in tag_frequency.items():
        if key in dirs:
            dirs[key]["img_count"] = max(counts.values(), default=0)
    extra = {
        "ss_tag_frequency": json.dumps(tag_frequency, ensure_ascii=False),
        "ss_dataset_dirs": json.dumps(dirs, ensure_ascii=False),
        "ss_num_train_images": images, "ss_steps": step, "ss_max_train_steps": t.steps,
        "ss_learning_rate": o.unet_lr, "ss_unet_lr": o.unet_lr,
        "ss_text_encoder_lr": o.text_encoder_lr if n.train_text_encoder else 0,
        "ss_lr_scheduler": o.scheduler,
        # kohya's --clip_skip is None unless given: "None" for the last layer (ours: 1).
        "ss_resolution": f"({t.resolution}, {t.resolution})",
        "ss_clip_skip": clip_skip if clip_skip > 1 else None,
        "ss_noise_offset": t.noise_offset, "ss_min_snr_gamma": t.min_snr_gamma,
        "ss_seed": t.seed, "ss_batch_size_per_device":
            t.batch_size, "ss_gradient_accumulation_steps": t.gradient_accumulation,
        "ss_sd_model_name": Path(job.model.base).name, "ss_new_sd_model_hash":
            model_info.sha256, "ss_sd_model_hash": model_info.legacy_hash,
        "ss_training_started_at": started, "ss_training_finished_at": time.time(),
        "ss_prior_loss_weight": t.prior_loss_weight, "ss_caption_dropout_rate":
            t.caption_dropout, "ss_shuffle_caption": t.shuffle_tags,
        "ss_keep_tokens": t.keep_tags, "ss_v_parameterization": prediction.v,
        "ss_zero_terminal_snr": prediction.zero_terminal_snr,
    }
    tokens = [c.token for c in job.concepts if c.token]
    if tokens:  # ModelSpec 1.0.1's trigger phrase (kohya's --metadata_trigger_phrase)
        extra["modelspec.trigger_phrase"] = ", ".join(dict.fromkeys(tokens))
    class_dirs = {f"1_{Path(c.class_folder).name}": {"n_repeats": 1, "img_count": 0}
                  for c in job.concepts if c.class_folder}
    extra.update(kohya_training_keys(job, step, images, class_images, class_dirs, items))
    return lora_metadata(family, job.save.name, n.rank, n.alpha, prediction.v,
                         comment=TRAINER_COMMENT, extra=extra,
                         conv_rank=n.conv_rank, conv_alpha=n.conv_alpha,
                         resolution=t.resolution, clip_skip=clip_skip,
                         variant=getattr(model_info, "variant_key", ""),
                         network=plugin(n.kind).kohya_network(n))


def save_step(lora_dir: Path, job: TrainJob, step: int, modules: dict[str, Any],
              metadata: dict[str, str], family: str, preview: Any, final: bool,
              notes: list[str] | None = None) -> Path:
    """`<name>-<step>.safetensors` and `<name>.safetensors` (+ sidecars), keeping the last K of
    the run's own step files (its record, `run_files`; never files matched by name alone).

    A step file name taken by a file the run did not write (a stop at an unplanned step) is
    left alone: that step is saved as `<name>.safetensors` only, and `notes` says so."""
    import torch

    from lora_for_dummies.families import get_family

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(job.save.dtype, torch.float32)
    peft_names = get_family(family).lora_peft_names
    name = job.save.name
    files = RunFiles(job.run_dir, lora_dir, name)
    step_path = lora_dir / f"{name}-{step:06d}.safetensors"
    latest_path = lora_dir / f"{name}.safetensors"
    if files.foreign([step_path]):
        (notes if notes is not None else []).append(
            f"{step_path.name} belongs to another LoRA and was kept: step {step} is saved as "
            f"{latest_path.name} only")
        step_file = save_lora(latest_path, modules, metadata, dtype=dtype, overwrite=True,
                              peft_names=peft_names)
        latest = step_file
    else:
        step_file = save_lora(step_path, modules, metadata, dtype=dtype, overwrite=True,
                              peft_names=peft_names)
        # Recorded at once, not with `latest` below: were the run to die in between, its step
        # file must still count as its own (a later run may then replace it, nobody else's).
        files.record(step_file)
        latest = copy_lora(step_file, latest_path)
    tokens = ", ".join(c.token for c in job.concepts if c.token)
    notes_text = (f"{'final' if final else 'step'} {step}/{job.training.steps}; "
                  f"{plugin(job.network.kind).KIND.label}, rank "
                  f"{job.network.rank}, alpha {job.network.alpha}, base "
                  f"{Path(job.model.base).name}")
    write_sidecar(latest, family, tokens, job.save.preferred_weight, notes_text, preview)
    files.record(latest)
    if job.save.keep_last:
        for _, old in files.steps()[: -job.save.keep_last]:
            files.remove(old)
    return step_file


def save_state(run_dir: Path, step: int, models: dict[str, Any], optimizer: Any,
               scheduler: Any, base_sha256: str = "") -> None:
    """Everything a resume needs to continue at `step` with the same schedule."""
    import torch

    from lora_for_dummies.train.network import lora_state

    state = {
        "step": step,
        "lora": {name: lora_state(model) for name, model in models.items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "base_sha256": base_sha256,  # a resume must continue on the same base (guard.py)
        # Every random choice of a step is derived from (seed, step): no RNG state to keep.
    }
    path = run_dir / "state" / "state.pt"
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(run_dir: Path) -> dict[str, Any] | None:
    from lora_for_dummies.checkpoints.reader import load_pickle_safely
    from lora_for_dummies.errors import UserError

    path = run_dir / "state" / "state.pt"
    if not path.is_file():
        return None
    try:
        state = load_pickle_safely(path)
    except UserError as err:
        raise UserError(f"cannot resume: the run's saved state {path} {str(err).split(': ', 1)[-1]}"
                        "; start a new run instead (this file was not written by this app)"
                        ) from None
    if not isinstance(state, dict) or "step" not in state:
        raise UserError(f"cannot resume: {path} is not a saved state of this app; start a new "
                        "run instead")
    return state
