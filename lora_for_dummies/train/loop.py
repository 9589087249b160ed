"""The one training loop (UI, CLI and `accelerate launch` all run this).

Shaped like diffusers' dreambooth LoRA example and nanoGPT's loop: load, inject, then a flat
loop of steps — batch → latents → noise → prediction → loss → step — with logging, samples,
saves and stop checks between steps. Every random choice of a step is derived from
(seed, step), so a run stopped at step k and resumed gives the same LoRA as one run straight
through.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.cpu_threads import ThreadGovernor
from lora_for_dummies.errors import UserError
from lora_for_dummies.families import component_names, get_family
from lora_for_dummies.memory import release_freed_memory
from lora_for_dummies.progress import Reporter, StopRequested
from lora_for_dummies.train import distributed, guard, residency
from lora_for_dummies.train import network as net
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.data import build_training_set, caption_for_step
from lora_for_dummies.train.duration import RunPace
from lora_for_dummies.train.latents import LatentCache
from lora_for_dummies.train.launch import stop_requested
from lora_for_dummies.train.optim import build_optimizer, build_scheduler
from lora_for_dummies.train.outputs import RunOutputs
from lora_for_dummies.train.prediction import resolve_prediction
from lora_for_dummies.train.prior import class_images_missing, generate_class_images
from lora_for_dummies.train.text import (
    cached_conditioning,
    unused_final_layers,
)
from lora_for_dummies.train.training_utils import cast_training_params


@dataclass
class RunResult:
    step: int
    lora: Path | None = None
    stopped: bool = False
    message: str = ""
    losses: list[float] = field(default_factory=list)


class Trainer(RunOutputs):
    """One run: `run()` sets up, steps and saves (what it leaves behind: `outputs.RunOutputs`)."""

    def __init__(self, job: TrainJob, lora_dir: Path, reporter: Reporter | None = None,
                 on_saved: Callable[[Path], None] | None = None, device: str | None = None,
                 overwrite: bool = False):
        job.validate()
        job.resolve_repeats()  # the dataset's value, whichever path built the job
        self.job, self.lora_dir = job, job.lora_folder(lora_dir)
        self.reporter = reporter or Reporter()
        self.on_saved = on_saved or (lambda path: None)
        self.device = device
        self.overwrite = overwrite  # a new run may replace `<name>*.safetensors` it did not make
        self.run_dir = job.run_dir
        self.save_requested = False  # "stop and save"
        self.start_notes: list[str] = []  # lines for the run's log from its caller (the host)

    # -- setup ----------------------------------------------------------------------------
    def _setup(self) -> None:
        import torch
        from accelerate.utils import set_seed

        job = self.job
        info = inspect_checkpoint(job.model.base)
        if info.inpainting:
            raise UserError("inpainting models are not trained here; train on the matching "
                            "base model (the LoRA works on its inpainting variant too)")
        self.info, self.family = info, info.family
        self.spec = get_family(self.family)
        refusal = self.spec.refuse_job(job)
        if refusal:
            raise UserError(refusal)
        self.prediction = resolve_prediction(job.model, info)
        objective = self.prediction.describe() if self.spec.prediction_from_file else \
            self.spec.default_prediction()[1]  # Flux, Z-Image: one objective, whatever the file
        self.reporter.log(f"{info.file_name}: {objective}")
        self.clip_skip = job.model.clip_skip or info.clip_skip
        precision = job.training.precision
        cuda = torch.cuda.is_available() and self.device != "cpu"
        if not cuda and precision != "fp32":
            self.reporter.log(f"{precision} needs a GPU here; training in fp32 on the CPU")
            precision = "fp32"
        self.accelerator = distributed.make_accelerator(precision, cuda,
                                                        job.training.gradient_accumulation)
        device = self.accelerator.device
        if self.accelerator.num_processes > 1:
            self.reporter.log(distributed.describe(self.accelerator))
        weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision,
                                                                           torch.float32)
        # The VAE and text encoders first: with caching they encode everything and leave
        # before the UNet loads, so the two never share memory (see `residency`).
        self.text_names = text_names = [n for n in component_names(self.family)
                                        if n.startswith("text_encoder")]
        self._check_stop()
        self.reporter.phase("loading the VAE and text encoder(s)")
        # The VAE computes in fp32: fp16 VAEs give NaN.
        loaded = self._load({"vae": torch.float32} | {n: weight_dtype for n in text_names})
        self.configs = loaded.configs
        self.vae = loaded.models.pop("vae")
        self.text_encoders = [loaded.models.pop(n) for n in text_names]
        self.unet: Any = None
        if class_images_missing(job):  # rendered with the whole model before anything else
            self.unet = self._load_unet(weight_dtype)
            generate_class_images(job, self._sample_context("", "", ""), self.reporter)
        self._check_stop()
        self.data = build_training_set(job.concepts, job.training)
        for note in self.data.notes:
            self.reporter.log(note)
        self.latents = LatentCache(self.vae, self.accelerator.device, job.training.cache_latents,
                                   self.run_dir / "cache")
        self.text_cache: dict[str, Any] = {}
        self.cache_text = (job.training.cache_text_encoder and not job.network.train_text_encoder
                           and not job.training.shuffle_tags and not job.training.caption_dropout)
        self._park_frozen_models()
        self._check_stop()
        self.unet = self._load_unet(weight_dtype) if self.unet is None else self.unet
        self.trained: dict[str, Any] = {"unet": self.unet}
        # The LoRA's random initialisation comes from the global RNG: seed it, so that one
        # seed gives one LoRA (and the same start as a reference loop seeded the same way).
        set_seed(job.training.seed)
        self.adapted = {"unet": net.inject_lora(self.unet, "unet", job.network,
                                                family=self.family)}
        if job.network.train_text_encoder:
            for name, model in zip(text_names, self.text_encoders, strict=True):
                unused = unused_final_layers(self.family, name, self.clip_skip)
                self.adapted[name] = net.inject_lora(model, name, job.network, unused,
                                                     self.family)
                self.trained[name] = model
        cast_training_params(list(self.trained.values()))  # fp32 LoRA weights under autocast
        trained_text = [m for name, m in self.trained.items() if name != "unet"]
        net.enable_checkpointing(job.training.gradient_checkpointing, self.unet, trained_text)
        self.objective = self.spec.objective(self.prediction, job)
        self.optimizer = build_optimizer(job.optimizer, net.lora_parameters(self.unet),
                                         [p for m in trained_text for p in net.lora_parameters(m)],
                                         str(device))
        self.lr_scheduler = build_scheduler(job.optimizer, self.optimizer, job.training.steps)

    def _load(self, dtypes: dict[str, Any]) -> Any:
        """The components, each to compute in its dtype (see `stored_precision`)."""
        loaded, notes = self.spec.load_components(self.job.model, dtypes,
                                                  str(self.accelerator.device),
                                                  getattr(self, "configs", None), self._stop_asked)
        for note in notes:
            self.reporter.log(note)
        return loaded

    def _load_unet(self, dtype: Any) -> Any:
        self.reporter.phase(f"loading the {self.spec.denoiser_title}")
        return self._load({"unet": dtype}).models["unet"]

    def _park_frozen_models(self) -> None:
        """Encode what the steps will ask for now, so that the VAE and text encoders can leave
        the training device; on a CPU latents are encoded as steps first need them instead
        (see `residency`)."""
        caching = self.job.training.cache_latents != "off"
        later = caching and residency.fills_during_training(self.accelerator.device)
        self.filling = residency.wanted_latents(self.data) if later else None
        cache_latents = caching and not later  # all of them now, before step 1
        parkable = ([self.vae] if cache_latents else []) + \
            (list(self.text_encoders) if self.cache_text else [])
        names = "VAE and text encoder(s)" if cache_latents and self.cache_text else \
            "VAE" if cache_latents else "text encoder(s)"
        self.frozen = residency.FrozenModels(parkable, self.accelerator.device, names)
        if not parkable:
            return
        count = residency.precache(self.data, self.latents if cache_latents else None,
                         (lambda caption: self._conditioning([caption])) if self.cache_text
                         else None, self.reporter.phase, self._check_stop)
        if self.cache_text and self.spec.samples_read_cached_prompts and \
                self.job.samples.enabled:  # the sample prompts too, while T5 / Qwen3 is here
            for prompt in self._sample_prompts():
                self._conditioning([prompt])
            if self.job.samples.cfg > 1:  # classifier-free guidance reads the negative too
                self._conditioning([self.job.samples.negative])
        parked = self.frozen.park(needed_later=self.job.samples.enabled)
        self.reporter.log(f"encoded {count} latents and {len(self.text_cache)} captions"
                          + (f"; {parked}" if parked else ""))
        if self.frozen.released:  # a CPU run without samples: nothing may keep them alive
            self.vae = self.latents.vae = None if cache_latents else self.vae
            self.text_encoders = [] if self.cache_text else self.text_encoders
            release_freed_memory()

    def _filled(self) -> None:
        """Every latent is cached (filled during training): without samples the VAE goes."""
        self.filling = None
        if not self.job.samples.enabled:
            self.vae = self.latents.vae = None
            release_freed_memory()
            self.reporter.log("every latent is cached: VAE released (no samples in this run)")

    # -- one step -------------------------------------------------------------------------
    def _conditioning(self, captions: list[str]) -> tuple[Any, Any]:
        tokens = self.spec.tokenize(captions, self.job, self.info)
        if not self.cache_text:  # trained encoders run wrapped, so their gradients are averaged
            encoders = [self.trained.get(name, model)
                        for name, model in zip(self.text_names, self.text_encoders, strict=True)]
            return self.spec.encode(encoders, tokens, self.clip_skip)
        return cached_conditioning(self.text_cache, captions, tokens, lambda row: self.spec.encode(
            self.text_encoders, row, self.clip_skip))

    def _loss(self, batch: list[Any], step: int) -> Any:
        import torch

        job, device = self.job, self.accelerator.device
        rng = random.Random(job.training.seed * 1_000_003 + step)
        generator = torch.Generator().manual_seed(job.training.seed * 1_000_003 + step)
        items = list(batch)
        prior = bool(self.data.class_items) and job.training.prior_loss_weight > 0
        if prior:
            items += [rng.choice(self.data.class_items) for _ in batch]
        bucket = batch[0].bucket
        encoded = [self.latents.get(item, bucket) for item in items]
        latents = torch.stack([e[0] for e in encoded]).to(device)
        captions = [caption_for_step(item.caption, job.training, rng) for item in items]
        hidden, pooled = self._conditioning(captions)
        height, width = bucket[1], bucket[0]
        size_rows = [[item.original_size[1], item.original_size[0], e[1][0], e[1][1], height,
                      width] for item, e in zip(items, encoded, strict=True)]
        return self.objective.loss(
            self.unet, latents, hidden, pooled,
            lambda dtype: self.spec.unet_inputs(pooled, size_rows, device, dtype), generator,
            job.training, len(batch), self.accelerator.autocast)

    # -- the run --------------------------------------------------------------------------
    def run(self, resume: bool = False) -> RunResult:
        with ThreadGovernor() as self.threads:  # a CPU run's threads follow the idle cores
            return self._run(resume)

    def _run(self, resume: bool) -> RunResult:
        import torch

        job = self.job
        notes: list[str] = []
        state = guard.prepare_run(job, self.lora_dir, resume, self.overwrite, notes)
        asked = self.reporter.should_stop()  # a Stop pressed right after Start: start() clears
        self.reporter.start(job.training.steps, f"Training {job.save.name}")
        if asked:
            self.reporter.request_stop()
        for note in self.start_notes + notes:
            self.reporter.log(note)
        try:  # a Stop while loading or caching takes effect within seconds
            self._setup()
        except StopRequested:
            return self._stopped_loading(state, result=RunResult(0))
        guard.check_room([self.lora_dir, self.run_dir], guard.save_size(self.trained))
        start = 0
        if state is not None:
            start = int(state["step"])
            for name, model in self.trained.items():
                net.load_lora_state(model, state["lora"][name])
            self.optimizer.load_state_dict(state["optimizer"])
            self.lr_scheduler.load_state_dict(state["scheduler"])
            self.reporter.log(f"resumed at step {start}")
        self.trained, self.optimizer = distributed.prepare_trained(
            self.accelerator, self.trained, self.optimizer)
        self.unet = self.trained["unet"]
        self.started = time.time()
        result = RunResult(start)
        accumulation = job.training.gradient_accumulation
        ranks, rank = self.accelerator.num_processes, self.accelerator.process_index
        batches = distributed.shard(self.data.batches(
            job.training.batch_size, job.training.seed, start * accumulation * ranks),
            self.accelerator)
        trained = list(self.trained.values())
        params = [p for m in trained for p in net.lora_parameters(m)]
        if start == 0:
            self._samples(0)
            if self._stop_asked():  # nothing trained yet: nothing to save or resume
                return self._stopped_loading(state, result)
        for model in self.trained.values():
            model.train()
        step = start
        self.reporter.step(step, "training")  # loading is done: the ETA counts from here
        pace = RunPace(job, self.accelerator.device.type == "cuda")
        try:
            while step < job.training.steps:
                if self.reporter.should_stop() or self._stop_file():
                    return self._stop(step, result)
                begin, encoding = time.monotonic(), self.latents.encode_seconds
                total = 0.0
                for micro in range(accumulation):
                    with distributed.accumulating(self.accelerator, trained):
                        loss = self._loss(next(batches),
                                          (step * accumulation + micro) * ranks + rank)
                        if not torch.isfinite(loss):
                            return self._failed(step, result, msg.NAN_LOSS.text)
                        self.accelerator.backward(loss)  # divides by the accumulation steps
                        total += float(loss.detach()) / accumulation
                        if self.accelerator.sync_gradients:  # the step's last micro-batch
                            self.accelerator.clip_grad_norm_(params,
                                                             job.optimizer.max_grad_norm)
                        self.optimizer.step()  # accelerate steps only when gradients synced
                        self.optimizer.zero_grad(set_to_none=True)
                self.lr_scheduler.step()
                step += 1
                if self.accelerator.device.type == "cpu":
                    self.threads.update()
                if self.filling is not None and self.latents.holds(self.filling):
                    self._filled()
                took = time.monotonic() - begin - (self.latents.encode_seconds - encoding)
                if warning := pace.step_took(took, step):  # the pace of steps, not of encodes
                    self.reporter.warn(warning)
                result.step, result.losses = step, result.losses + [total]
                lr = self.lr_scheduler.get_last_lr()[0]
                written = self._samples(step) if job.samples.every and step % \
                    job.samples.every == 0 and step < job.training.steps else []
                self._log({"step": step, "loss": total, "lr": lr,
                           "seconds": round(time.monotonic() - begin, 4), "samples": written})
                self.reporter.untimed(self.latents.encode_seconds - encoding)
                self.reporter.step(step, f"loss {total:.4f}, lr {lr:.2e}")
                if job.save.every and step % job.save.every == 0 and step < job.training.steps:
                    self._save(step, final=False)
        except torch.cuda.OutOfMemoryError:
            return self._failed(step, result, msg.OUT_OF_MEMORY.text)
        self._samples(step)
        result.lora = self._save(step, final=True)
        result.message = f"done: {step} steps, saved {result.lora.name}"
        if self.accelerator.is_main_process:  # keys + finite always; images with samples on
            check = self._self_check(self.lora_dir / f"{job.save.name}.safetensors")
            result.message += f"; {check.summary()}"
        self.reporter.finish(result.message)
        return result

    def _stop_asked(self) -> bool:
        return self.reporter.should_stop() or self._stop_file()

    def _check_stop(self) -> None:
        """Between components and images while loading: a Stop must not wait for them."""
        if self._stop_asked():
            raise StopRequested

    def _stopped_loading(self, state: Any, result: RunResult) -> RunResult:
        """Stopped before the first step: a resumed run keeps its saved state as it was; a new
        one has nothing to resume, so it is not offered."""
        result.stopped, result.step = True, int(state["step"]) if state is not None else 0
        result.message = (f"stopped at step {result.step} before training on; Resume continues "
                          "from here") if state is not None else \
            "stopped while loading, before the first step: nothing was trained or saved " \
            "(Start begins the run again)"
        self.reporter.finish(result.message)
        return result

    def _stop(self, step: int, result: RunResult) -> RunResult:
        if step == 0:  # nothing trained: a saved state would offer Resume at step 0
            return self._stopped_loading(None, result)
        self._save_state(step)
        if self.save_requested and step:
            result.lora = self._save(step, final=False)
        result.stopped = True
        result.message = f"stopped at step {step}; Resume continues from here"
        self.reporter.finish(result.message)
        return result

    def _stop_file(self) -> bool:
        """A stop asked for by another process (the tab, for `accelerate launch`)."""
        asked = stop_requested(self.run_dir)
        self.save_requested = self.save_requested or asked == "save"
        return asked is not None

    def _failed(self, step: int, result: RunResult, advice: str) -> RunResult:
        result.stopped, result.message = True, f"stopped at step {step}: {advice}"
        self.reporter.log(result.message)
        self.reporter.finish(result.message)
        return result

