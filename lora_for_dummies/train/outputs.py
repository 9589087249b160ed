"""What a run leaves behind, between its steps: saves, the state to resume from, samples, the
run's log and the self-check of the final file.

A part of `loop.Trainer` (its base class), kept apart so that the loop's file holds the loop;
everything here reads the trainer's fields and changes none of its training state.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from lora_for_dummies.train import network as net
from lora_for_dummies.train.sampling import SampleContext, render_step_samples
from lora_for_dummies.train.saving import save_state, save_step, training_metadata


class RunOutputs:
    """Needs the trainer's `job`, `accelerator`, `unet`, `trained`, `adapted`, `frozen`, `vae`,
    `text_encoders`, `family`, `configs`, `info`, `prediction`, `clip_skip`, `data`, `started`,
    `lora_dir`, `run_dir`, `reporter` and `on_saved`."""

    def _self_check(self, path: Path) -> Any:
        from lora_for_dummies.train.selfcheck import check_trained_lora

        context = self._sample_context("", "", self.job.save.name)
        images = self._frozen_for_samples() if self.job.samples.enabled else nullcontext()
        with images:
            check = check_trained_lora(path, self.job, self.family, self.configs,
                                       list(self._unwrapped().values()), context)
        self.reporter.log(check.summary())
        return check

    def _sample_context(self, model_name: str, model_hash: str, lora_name: str) -> Any:
        return SampleContext(self.family, self.accelerator.unwrap_model(self.unet), self.vae,
                             self.text_encoders, self.clip_skip, self.prediction, model_name,
                             model_hash, lora_name, self.job, self.info,
                             getattr(self, "text_cache", None))

    def _sample_prompts(self) -> list[str]:
        job = self.job
        return job.samples.prompts or [c.prompt or c.token or "a photo" for c in job.concepts]

    def _frozen_for_samples(self) -> Any:
        """The parked models samples need back on the GPU: the VAE, and the text encoders
        unless the family's samples read the prompts encoded before they left."""
        cached = self.spec.samples_read_cached_prompts and self.cache_text
        return self.frozen.on_device(stay=list(self.text_encoders) if cached else None)

    def _unwrapped(self) -> dict[str, Any]:
        """The trained models as built (accelerate wraps them for several processes)."""
        return {name: self.accelerator.unwrap_model(m) for name, m in self.trained.items()}

    def _save_state(self, step: int) -> None:
        if self.accelerator.is_main_process:
            save_state(self.run_dir, step, self._unwrapped(), self.optimizer, self.lr_scheduler,
                       base_sha256=self.info.sha256)

    def _log(self, record: dict[str, Any]) -> None:
        if not self.accelerator.is_main_process:
            return
        with open(self.run_dir / "log.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def _lora(self) -> dict[str, Any]:
        return net.network_modules(self.family, self.adapted, self._unwrapped(),
                                   self.configs["unet"], self.job.network.kind)

    def _save(self, step: int, final: bool) -> Path:
        if not self.accelerator.is_main_process:
            return self.lora_dir
        metadata = training_metadata(self.job, self.family, self.prediction, step, self.info,
                                     self.clip_skip, self.data.tag_frequency, self.started,
                                     len(self.data.items), len(self.data.class_items),
                                     self.data.items)
        preview = getattr(self, "last_sample", None)
        notes: list[str] = []
        path = save_step(self.lora_dir, self.job, step, self._lora(), metadata, self.family,
                         preview, final, notes)
        for note in notes:
            self.reporter.log(note)
        self._save_state(step)
        self._log({"step": step, "saved": path.name})
        self.reporter.log(f"saved {path.name}")
        self.on_saved(path)
        return path

    def _samples(self, step: int) -> list[str]:
        if not self.accelerator.is_main_process or not self.job.samples.enabled:
            return []
        job = self.job
        prompts = self._sample_prompts()
        context = self._sample_context(Path(job.model.base).stem, self.info.short_hash,
                                       job.save.name)
        for model in self.trained.values():
            model.eval()
        with self._frozen_for_samples():
            written = render_step_samples(context, prompts, job.samples, self.run_dir / "samples",
                                          step, self.reporter.image)
        self.last_sample = written[0][1] if written else getattr(self, "last_sample", None)
        for model in self.trained.values():
            model.train()
        return [path.name for path, _ in written]
