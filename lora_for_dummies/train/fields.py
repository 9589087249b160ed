"""The training settings as a person sees them: label, kind and help for each.

One table for the Train tab (its fields and their `info=` help) and for
`lfd train --example` (a commented job file), so the two can never disagree. No gradio here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lora_for_dummies.config import _toml_value
from lora_for_dummies.families import DEFAULT, get_family
from lora_for_dummies.lora.kinds import TRAINABLE
from lora_for_dummies.train.config import (
    CHECKPOINTING,
    OPTIMIZERS,
    PRECISIONS,
    SAMPLERS,
    SCHEDULERS,
    UNET_LAYERS,
    ConceptConfig,
    TrainJob,
)

TRISTATE = ("auto", "yes", "no")
TRISTATE_VALUES = {"yes": True, "no": False}  # "auto" (or None): as detected

# (setting path, label, kind, choices) — kind: number | int | text | bool | choice | lines |
# tristate (auto / yes / no for a setting whose None means "as detected")
SETTINGS = [
    ("save.name", "LoRA name", "text", None),
    ("training.steps", "Steps", "int", None),
    ("training.batch_size", "Batch size", "int", None),
    ("training.gradient_accumulation", "Gradient accumulation", "int", None),
    ("training.resolution", "Resolution", "int", None),
    ("training.buckets", "Aspect-ratio buckets", "bool", None),
    ("network.kind", "Kind of LoRA", "choice", TRAINABLE),
    ("network.rank", "Rank", "int", None),
    ("network.alpha", "Alpha (scale = alpha / rank)", "number", None),
    ("network.conv_rank", "Conv rank (0 = off)", "int", None),
    ("network.train_text_encoder", "Train the text encoder", "bool", None),
    ("network.unet_layers", "UNet layers (transformer = kohya, attention = diffusers)", "choice",
     UNET_LAYERS),
    ("optimizer.name", "Optimizer", "choice", OPTIMIZERS),
    ("optimizer.unet_lr", "UNet learning rate", "number", None),
    ("optimizer.text_encoder_lr", "Text-encoder learning rate", "number", None),
    ("optimizer.scheduler", "LR schedule", "choice", SCHEDULERS),
    ("optimizer.warmup", "Warmup (<1: fraction, ≥1: steps)", "number", None),
    ("optimizer.cycles", "Cycles (cosine with restarts: how many times the LR starts over)",
     "int", None),
    ("training.precision", "Precision", "choice", PRECISIONS),
    ("training.gradient_checkpointing", "Gradient checkpointing (partial: the highest-"
     "resolution blocks only)", "choice", CHECKPOINTING),
    ("training.cache_latents", "Cache latents", "choice", ("off", "memory", "disk")),
    ("model.fp8_base", "Flux: keep the base model in fp8", "bool", None),
    ("training.noise_offset", "Noise offset", "number", None),
    ("training.min_snr_gamma", "Min-SNR γ (0 = off)", "number", None),
    ("training.shuffle_tags", "Shuffle tags", "bool", None),
    ("training.keep_tags", "Keep first N tags", "int", None),
    ("training.caption_dropout", "Caption dropout", "number", None),
    ("model.clip_skip", "Clip skip (0 = suggested)", "int", None),
    ("model.zero_terminal_snr", "Zero terminal SNR (NoobAI-XL V-Pred; auto = as detected)",
     "tristate", TRISTATE),
    ("samples.every", "Sample every N steps", "int", None),
    ("samples.prompts", "Sample prompts (one per line; empty = the tokens)", "lines", None),
    ("samples.negative", "Negative prompt", "text", None),
    ("samples.sampler", "Sampler", "choice", SAMPLERS),
    ("samples.guidance_rescale", "CFG rescale on zero-terminal-SNR models (0 = off)", "number",
     None),
    ("samples.steps", "Sample steps", "int", None),
    ("samples.cfg", "CFG scale", "number", None),
    ("samples.seed", "Sample seed", "int", None),
    ("samples.width", "Sample width", "int", None),
    ("samples.height", "Sample height", "int", None),
    ("save.every", "Save every N steps", "int", None),
    ("save.keep_last", "Keep the last N step files (0 = all)", "int", None),
]

# The Train tab's accordions below the guided path, by purpose; every setting is in one (a test
# checks). Each entry: (title, settings, the few shown in the closed accordion's summary).
SECTIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Steps and images", ("training.steps", "training.batch_size",
                          "training.gradient_accumulation", "training.resolution",
                          "training.buckets"),
     ("training.steps", "training.batch_size", "training.resolution")),
    ("Network", ("network.kind", "network.rank", "network.alpha", "network.conv_rank",
                 "network.train_text_encoder", "network.unet_layers"),
     ("network.kind", "network.rank", "network.alpha", "network.train_text_encoder")),
    ("Learning rate and schedule", ("optimizer.name", "optimizer.unet_lr",
                                    "optimizer.text_encoder_lr", "optimizer.scheduler",
                                    "optimizer.warmup", "optimizer.cycles",
                                    "training.min_snr_gamma", "training.noise_offset"),
     ("optimizer.name", "optimizer.unet_lr", "optimizer.scheduler")),
    ("Captions", ("training.shuffle_tags", "training.keep_tags", "training.caption_dropout",
                  "model.clip_skip"),
     ("training.shuffle_tags", "training.keep_tags", "model.clip_skip")),
    ("Memory and speed", ("training.precision", "training.gradient_checkpointing",
                          "training.cache_latents", "model.fp8_base"),
     ("training.precision", "training.gradient_checkpointing", "training.cache_latents")),
    ("Base model details", ("model.zero_terminal_snr",), ("model.zero_terminal_snr",)),
    ("Samples", ("samples.every", "samples.prompts", "samples.negative", "samples.sampler",
                 "samples.guidance_rescale", "samples.steps", "samples.cfg", "samples.seed",
                 "samples.width", "samples.height"),
     ("samples.every", "samples.sampler", "samples.steps")),
    ("Saving", ("save.name", "save.every", "save.keep_last"),
     ("save.name", "save.every", "save.keep_last")),
)
_SHORT = {"training.steps": "{} steps", "training.batch_size": "batch {}",
          "training.resolution": "{} px", "network.kind": "{}", "network.rank": "rank {}",
          "network.alpha": "alpha {}",
          "network.train_text_encoder": "text encoder {}", "optimizer.name": "{}",
          "optimizer.unet_lr": "LR {}", "optimizer.scheduler": "{}",
          "training.shuffle_tags": "shuffle {}", "training.keep_tags": "keep {}",
          "model.clip_skip": "clip skip {}", "training.precision": "{}",
          "training.gradient_checkpointing": "checkpointing {}",
          "training.cache_latents": "latents {}", "model.zero_terminal_snr": "zero terminal SNR {}",
          "samples.every": "every {}", "samples.sampler": "{}", "samples.steps": "{} steps",
          "save.name": "{}", "save.every": "every {}", "save.keep_last": "keep {}"}


def section_summary(title: str, values: dict[str, Any]) -> str:
    """A closed accordion's label: its title and its main values, e.g.
    "Network — rank 16, alpha 8, text encoder on"."""
    shown = next(summary for name, _, summary in SECTIONS if name == title)
    parts = []
    for path in shown:
        value = values.get(path)
        value = "on" if value is True else "off" if value is False else \
            "auto" if value is None else f"{value:g}" if isinstance(value, float) else value
        if path == "model.clip_skip" and value in (0, "0"):
            value = "suggested"
        if path == "save.keep_last" and value in (0, "0", None, ""):
            parts.append("keep every step file")  # 0 = keep all, not "keep nothing"
            continue
        parts.append(_SHORT[path].format(value))
    return f"{title} — {', '.join(parts)}"


# What each setting does, for a beginner. Every field of a job has one (a test checks).
HELP: dict[str, str] = {
    "model.base": "The checkpoint to train on (.safetensors or .ckpt). Train on the model you "
                  "will generate with, or on the base it was made from.",
    "model.v_prediction": "Leave unset: detected from the file. true for SD 2.x 768 and "
                          "v-prediction SDXL models (NoobAI V-Pred).",
    "model.zero_terminal_snr": "Leave on auto: detected from the file (its ztsnr marker). yes "
                               "for v-prediction models trained with zero terminal SNR, such as "
                               "NoobAI-XL V-Pred; their training and samples then use the "
                               "schedule that reaches pure noise.",
    "model.text_encoder": "Flux: the CLIP-L file (clip_l.safetensors); Z-Image: Qwen3-4B "
                          "(qwen_3_4b.safetensors). Empty = found beside the model or in the "
                          "text-encoder folder (Forge Neo's models/text_encoder, ComfyUI's "
                          "models/text_encoders).",
    "model.text_encoder_2": "Flux only: the T5-XXL file (t5xxl_fp16 or t5xxl_fp8_e4m3fn). Empty "
                            "= found like the CLIP-L file. fp8 saves 5 GB of memory while "
                            "captions are encoded; the LoRA is the same.",
    "model.vae": "Flux and Z-Image: the 16-channel VAE (ae.safetensors). Empty = found beside "
                 "the model or in models/VAE (models/vae on ComfyUI).",
    "model.fp8_base": "Flux only: keep the frozen Flux model's weights in fp8 (12 GB instead of "
                      "24 GB for Flux.1 dev), each layer widened to bf16 as it runs, as "
                      "kohya's --fp8_base. The LoRA itself trains in full precision. Turn on "
                      "for GPUs under 32 GB; a file already stored in fp8 stays fp8 anyway.",
    "model.tokenizer_2": "Flux only: a folder with T5's tokenizer (tokenizer.json or "
                         "spiece.model), e.g. a diffusers FLUX.1 folder's tokenizer_2. Empty = a "
                         "tokenizer_2 folder beside the Flux model.",
    "model.tokenizer": "Z-Image only: a folder with Qwen3's tokenizer (tokenizer.json), e.g. a "
                       "diffusers Z-Image folder's tokenizer. Empty = a tokenizer folder beside "
                       "the Z-Image model (or beside its folder).",
    "model.clip_skip": "Which text-encoder layer the prompt is read from. 0 = what the model "
                       "inspection suggests (2 for most anime SD1 models). Not used by Flux or "
                       "Z-Image.",
    "concepts.folder": "A folder of training images with a .txt caption beside each, e.g. a "
                       "dataset's HIGHRES_CONCEPT folder.",
    "concepts.token": "The trigger word you will write in prompts to call up this concept.",
    "concepts.prompt": "Caption for images that have no .txt (default: the trigger word).",
    "concepts.repeats": "How often each image is shown against the other concepts' images: "
                        "give a concept with fewer images more repeats so each counts as much. "
                        "0 = the dataset's own setting (10 for a folder outside a dataset).",
    "concepts.class_folder": "Optional: regularisation images of the class (e.g. other dogs), "
                             "so the model keeps knowing what a dog is.",
    "concepts.class_prompt": "The caption of the class images, e.g. 'dog'.",
    "concepts.class_images": "Generate class images with the base model until the class folder "
                             "holds this many (0 = use what is there).",
    "network.kind": "What the file stores. lora: the usual choice, loads everywhere (also "
                    "diffusers). dora: a LoRA plus a learned magnitude per input channel, often "
                    "closer likeness at the same rank (DoRA paper, arXiv 2402.09353). loha: "
                    "Hadamard product of two low-rank pairs, more detail per byte (keep rank "
                    "≤ 32, LyCORIS' advice). lokr: Kronecker product, the smallest files, "
                    "kept for styles. full: the whole change of every trained layer, as large as "
                    "those layers. The webuis (A1111, Forge, Forge Neo) and ComfyUI load every "
                    "kind; diffusers loads lora only.",
    "network.rank": "Size of the LoRA. 8-32 is plenty for a person or a style; bigger files "
                    "learn more detail and overfit sooner. The full kind has none; LoKr makes a "
                    "factor whole once the rank passes half its side.",
    "network.alpha": "Scales the LoRA's effect (scale = alpha / rank). Half the rank is a "
                     "common choice; lower it if training is unstable.",
    "network.conv_rank": "Also train the convolution layers (LoCon), for styles and textures. "
                         "0 = off. Flux has none.",
    "network.conv_alpha": "Alpha of the convolution layers (scale = conv alpha / conv rank).",
    "network.train_text_encoder": "Also teach the text encoder the trigger word. Usually "
                                  "better likeness; uses more memory. Flux: always frozen.",
    "network.unet_layers": "transformer: attention, projections and feed-forward (kohya's "
                           "choice); attention: q/k/v/out only (diffusers' examples). Flux: "
                           "every Linear layer of its blocks, modulation left out.",
    "optimizer.name": "adamw is the safe choice; adamw8bit saves VRAM (needs bitsandbytes); "
                      "prodigy finds its own learning rate (set the rates to 1).",
    "optimizer.unet_lr": "How fast the UNet learns. 1e-4 is the usual start; lower it if "
                         "samples get 'fried'.",
    "optimizer.text_encoder_lr": "How fast the text encoder learns; usually half the UNet's.",
    "optimizer.weight_decay": "Pulls weights towards zero a little each step (regularisation).",
    "optimizer.scheduler": "How the learning rate changes over the run: cosine slows down "
                           "towards the end; constant never changes.",
    "optimizer.warmup": "Start with a small learning rate and ramp up: below 1 a fraction of "
                        "the steps, from 1 a number of steps.",
    "optimizer.cycles": "For cosine_with_restarts: how many cosine cycles the schedule makes "
                        "(1 = plain cosine, 3 = the rate falls and starts over 3 times); "
                        "usual 1–4.",
    "optimizer.power": "Curve of the polynomial schedule (1 = linear).",
    "optimizer.max_grad_norm": "Clips large gradients so one bad batch cannot wreck the LoRA.",
    "training.steps": "How many training steps. About 100 per image is a usual start; watch "
                      "the samples and pick the best step afterwards.",
    "training.batch_size": "Images per step. More is faster per image but needs more memory.",
    "training.gradient_accumulation": "Add up this many steps' gradients before each update: "
                                      "a bigger effective batch without the memory.",
    "training.resolution": "Training size in px (multiple of 64): 512 for SD 1.x, 768 for "
                           "SD 2.x 768, 1024 for SDXL.",
    "training.buckets": "Keep each image's aspect ratio (images grouped by shape) instead of "
                        "cropping them all square.",
    "training.precision": "fp16 or bf16 on a GPU halve the memory; fp32 on a CPU.",
    "training.gradient_checkpointing": "Recompute instead of store: saves memory, costs time. "
                                       "partial = only the largest blocks.",
    "training.cache_latents": "Encode every image once (in memory or on disk) instead of "
                              "every step: faster, and the VAE leaves the GPU.",
    "training.cache_text_encoder": "Encode the captions once when the text encoder is not "
                                   "trained.",
    "training.noise_offset": "Helps learn very dark and very bright images; 0.05-0.1 if you "
                             "need it, 0 otherwise.",
    "training.min_snr_gamma": "Balances easy and hard noise levels; 5 often trains faster. "
                              "0 = off.",
    "training.prior_loss_weight": "Weight of the class images' loss (prior preservation).",
    "training.shuffle_tags": "Shuffle the comma-separated tags of each caption every step, so "
                             "no tag order is learned.",
    "training.keep_tags": "Tags kept in place at the front when shuffling (the trigger word).",
    "training.caption_dropout": "Fraction of steps trained with an empty caption (0-1); a "
                                "little helps the LoRA work without its tags.",
    "training.max_token_chunks": "Captions longer than 75 tokens are read in 75-token chunks, "
                                 "up to this many.",
    "training.seed": "Fixes the random start and order: the same seed gives the same LoRA.",
    "samples.enabled": "Draw sample images while training (off for headless runs).",
    "samples.every": "Draw samples every N steps, to watch the LoRA learn (0 = only at the "
                     "start and the end).",
    "samples.prompts": "Prompts of the samples, one per line (empty = each concept's trigger "
                       "word).",
    "samples.negative": "Negative prompt of the samples.",
    "samples.seed": "Seed of the samples: the same seed every time, so the steps compare.",
    "samples.cfg": "Guidance scale (CFG) of the samples, as in txt2img.",
    "samples.steps": "Denoising steps per sample: fewer is faster.",
    "samples.width": "Width of the samples in px (multiple of 8).",
    "samples.height": "Height of the samples in px (multiple of 8).",
    "samples.sampler": "Sampler of the samples, as in txt2img.",
    "samples.guidance_rescale": "CFG rescale: keeps samples of zero-terminal-SNR models "
                                "(NoobAI-XL V-Pred) from looking washed out or burnt. 0.7 is "
                                "what their cards advise; 0 = off; other models ignore it.",
    "save.name": "The LoRA's file name: use it in prompts as <lora:NAME:0.8>.",
    "save.every": "Save the LoRA every N steps, to pick the best step afterwards (0 = only "
                  "at the end).",
    "save.keep_last": "Keep only the last N step files (0 = keep all).",
    "save.dtype": "Precision of the saved file: fp16 is half the size and what the webui uses.",
    "save.lora_dir": "Where the LoRA is saved (empty = the webui's / the app's Lora folder).",
    "save.preferred_weight": "The strength the webui's Lora card suggests for this LoRA.",
    "runs_dir": "Where each run keeps its state, samples and log (for Resume).",
}

_LABELS = {path: label for path, label, _, _ in SETTINGS}


def _comment(path: str) -> list[str]:
    text = HELP[path]
    label = _LABELS.get(path)
    text = f"{label}: {text}" if label else text
    lines, line = [], "#"
    for word in text.split():
        if len(line) + 1 + len(word) > 96:
            lines.append(line)
            line = "#"
        line += " " + word
    return lines + [line]


def _assignment(path: str, key: str, value: Any) -> str:
    if value is None:  # TOML has no "unset": leave the line commented out
        return f"# {key} = true"
    return f"{key} = {_toml_value(value)}"


def example_job(family: str = DEFAULT, values: dict[str, Any] | None = None,
                concept: ConceptConfig | None = None, title: str = "") -> str:
    """A commented job file with the defaults of the tab (`lfd train --example`); `values`
    ("section.key" → value) and `concept` replace defaults (the demo's job, `--demo`)."""
    data = TrainJob().to_dict()
    data["model"]["base"] = "models/your-model.safetensors"
    for path, value in {**get_family(family).train_defaults, **(values or {})}.items():
        if "." not in path:  # a top-level setting (runs_dir)
            data[path] = value
            continue
        section, key = path.split(".")
        data[section][key] = value
    concept_data = dataclasses.asdict(concept or ConceptConfig(
        folder="lfd_data/datasets/my dog/HIGHRES_CONCEPT", token="sks"))
    lines = [f"# {title or f'A LoRA training job ({family})'}. Edit it, then run: "
             "lfd train job.toml",
             "# Every setting is shown with its default; a line starting with # is a comment.",
             ""]
    lines += _comment("runs_dir") + [_assignment("runs_dir", "runs_dir", data["runs_dir"])]
    for section in ("model", "network", "optimizer", "training", "samples", "save"):
        lines += ["", f"[{section}]"]
        for key, value in data[section].items():
            lines += _comment(f"{section}.{key}") + [_assignment(section, key, value)]
        if section == "model":
            lines += ["", "# One [[concepts]] table per concept (copy it for more).",
                      "[[concepts]]"]
            for key, value in concept_data.items():
                lines += _comment(f"concepts.{key}") + [_assignment("concepts", key, value)]
    return "\n".join(lines) + "\n"
