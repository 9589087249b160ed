"""The Train tab's guided path: five choices (base model, what you're teaching, images, GPU,
Start) turned into a whole training job, with one line saying why for each choice.

`SUBJECTS` is the one table of "what you're teaching" presets (docs/training.md prints it, a test
keeps the two equal). Their numbers follow the community's long-standing practice for kohya-
style LoRAs (kohya_ss's bundled presets and guides):
- rank 16 / alpha 8 for a character or object (scale ½ keeps early steps gentle), rank 32 /
  alpha 16 for a style, which spreads over every layer and needs more room;
- ~100 steps per image for a character (kohya's classic 10 repeats × 10 epochs), fewer for
  styles, whose datasets are larger and must not be memorised image by image;
- UNet 1e-4 and text encoder at half that (diffusers' and kohya's defaults); the text encoder is
  trained for a character or object (the trigger word gets its own meaning) and frozen for a
  style (a style is in the picture, not a word);
- booru-tag captions shuffled with the trigger word kept first, so every tag still teaches but
  the word stays tied to the subject; a little caption dropout for styles, so the style shows
  without any tag.

No gradio here: the tab, tests and the CLI's numbers all come from `guided_job`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.train.config import TrainJob

# A run on a CPU exists to try the flow: few steps (about a second each on the demo model),
# samples with fewer denoising steps, a save every quarter for the best-step grid.
CPU_STEPS = 100
CPU_SETTINGS: dict[str, Any] = {"samples.every": 25, "samples.steps": 8, "save.every": 25,
                                "save.keep_last": 0}


@dataclass(frozen=True)
class Subject:
    key: str
    label: str
    rank: int
    alpha: float
    steps_per_image: int
    min_steps: int
    max_steps: int
    unet_lr: float
    text_encoder_lr: float
    train_text_encoder: bool
    shuffle_tags: bool
    caption_dropout: float
    prompts: tuple[str, ...]  # "{token}" is replaced by the trigger word

    def settings(self) -> dict[str, Any]:
        return {"network.rank": self.rank, "network.alpha": self.alpha,
                "optimizer.unet_lr": self.unet_lr,
                "optimizer.text_encoder_lr": self.text_encoder_lr,
                "network.train_text_encoder": self.train_text_encoder,
                "training.shuffle_tags": self.shuffle_tags, "training.keep_tags": 1,
                "training.caption_dropout": self.caption_dropout}


SUBJECTS: tuple[Subject, ...] = (
    Subject("character", "A character or person", 16, 8.0, 100, 400, 2000, 1e-4, 5e-5, True,
            True, 0.0, ("{token}, solo, looking at viewer, upper body",
                        "{token}, full body, standing, outdoors")),
    Subject("style", "A style", 32, 16.0, 50, 600, 3000, 1e-4, 5e-5, False, True, 0.05,
            ("{token}, a portrait of a woman", "{token}, a city street at night")),
    Subject("object", "An object or concept", 16, 8.0, 80, 400, 2000, 1e-4, 5e-5, True, True,
            0.0, ("{token}, on a table", "{token}, held in a hand, close-up")),
)
SUBJECT_LABELS = {s.label: s for s in SUBJECTS}


def subject_for(label_or_key: str | None) -> Subject:
    for subject in SUBJECTS:
        if label_or_key in (subject.label, subject.key):
            return subject
    return SUBJECTS[0]


def subject_of(job: TrainJob) -> Subject | None:
    """The preset a job was made with, recognised by its sample prompts (which carry the
    trigger word); None for a job set up by hand."""
    token = job.concepts[0].token if job.concepts else ""
    for subject in SUBJECTS:
        made = [p.replace("{token}", token or "").strip(", ") for p in subject.prompts]
        if job.samples.prompts == made:
            return subject
    return None


TRIGGER_WHY, NO_TRIGGER = msg.TRIGGER_WHY, msg.NO_TRIGGER.text  # asked for in step 3


@dataclass
class GuidedInput:
    base: Path  # the checkpoint file
    family: str  # sd1 | sd2 | sdxl
    subject: Subject
    concept_folder: Path  # a dataset's processed folder
    token: str
    image_count: int
    name: str  # the run's name: the dataset's unless the user typed one
    vram_gb: float  # 0: no CUDA GPU
    repeats: int = 0  # the dataset's Repeats (0: resolved from the folder when training)


def guided_job(base_job: TrainJob, given: GuidedInput) -> tuple[TrainJob, list[str]]:
    """`base_job` (the machine's defaults or the last settings) with every guided choice
    applied; returns the job and one line per decision."""
    from lora_for_dummies.config import from_dict, to_dict
    from lora_for_dummies.families import get_family
    from lora_for_dummies.train.wizard import choose

    subject, why = given.subject, [] if given.token else [f"⚠ {NO_TRIGGER}"]
    family = get_family(given.family)
    settings: dict[str, Any] = dict(family.train_defaults)
    settings.update(subject.settings())
    why.append(f"{subject.label.lower()}: rank {subject.rank} / alpha {subject.alpha:g}, UNet "
               f"LR {subject.unet_lr:g}, text encoder "
               + (f"trained at {subject.text_encoder_lr:g}" if subject.train_text_encoder
                  else "frozen (a style is in the picture, not in a word)"))
    wizard = choose(given.vram_gb, given.family)
    memory = dict(wizard.settings)
    if memory.get("network.train_text_encoder") is False and subject.train_text_encoder:
        why.append("text encoder frozen after all: it does not fit this GPU")
    memory["network.train_text_encoder"] = subject.train_text_encoder and \
        memory.get("network.train_text_encoder", True)
    settings.update(memory)
    settings.update(family.train_overrides)
    if family.guided_note:
        why.append(family.guided_note)
    batch = int(settings.get("training.batch_size", base_job.training.batch_size))
    steps = min(max(given.image_count * subject.steps_per_image // batch, subject.min_steps),
                subject.max_steps)
    if given.vram_gb <= 0:
        steps = min(steps, CPU_STEPS)
        settings.update(CPU_SETTINGS)
        why.append(f"no CUDA GPU: a CPU-sized run of {steps} steps at "
                   f"{settings['training.resolution']} px, to try the whole flow (on a GPU "
                   f"this would be {given.image_count} images × {subject.steps_per_image})")
    else:
        why.append(f"{steps} steps: {given.image_count} images × {subject.steps_per_image} "
                   f"steps each ÷ batch {batch}, kept within {subject.min_steps}–"
                   f"{subject.max_steps}")
        settings["save.every"] = max(50, steps // 8)  # 8 step files for the best-step grid
    settings["training.steps"] = steps
    settings["samples.every"] = settings.get("samples.every", max(25, steps // 8))
    why.append(f"GPU: {wizard.label}" if given.vram_gb > 0 else "")
    data = to_dict(base_job)
    for path, value in settings.items():
        section, key = path.split(".")
        data[section][key] = value
    data["model"]["base"] = str(given.base)
    data["concepts"] = [{"folder": str(given.concept_folder), "token": given.token,
                         "repeats": given.repeats}]  # the dataset's: one value everywhere
    data["samples"]["prompts"] = [p.replace("{token}", given.token or "").strip(", ")
                                  for p in subject.prompts]
    data["samples"]["width"] = data["samples"]["height"] = data["training"]["resolution"]
    data["save"]["name"] = given.name
    return from_dict(TrainJob, data), [line for line in why + wizard.reasons if line]


def subjects_markdown() -> str:
    """The presets as docs/training.md's table (a test keeps the page equal to this)."""
    rows = ["| What you're teaching | Rank / alpha | Steps per image (min–max) | UNet / text-"
            "encoder LR | Text encoder | Captions | Sample prompts |",
            "|---|---|---|---|---|---|---|"]
    for s in SUBJECTS:
        captions = "tags shuffled, trigger word kept first" + \
            (f", {s.caption_dropout:.0%} dropped" if s.caption_dropout else "")
        prompts = "<br>".join(f"`{p}`" for p in s.prompts)
        rows.append(f"| {s.label} | {s.rank} / {s.alpha:g} | {s.steps_per_image} "
                    f"({s.min_steps}–{s.max_steps}) | {s.unet_lr:g} / {s.text_encoder_lr:g} | "
                    f"{'trained' if s.train_text_encoder else 'frozen'} | {captions} | "
                    f"{prompts} |")
    return "\n".join(rows)
