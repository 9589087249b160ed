"""What a model family plug-in says about itself: the interface every family module fills in.

A family module (`sd1.py`, `sdxl.py`, …) builds one `Family` and registers it (see
`families/__init__.py`). Shared code asks the family — its data fields and its methods — and
never compares a family's key: that keeps every rule about one family in its own module, and
adding a family one module plus its fixtures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parent.parent / "assets"
UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."

# The hosts a family can be offered on (`Family.unavailable_on`).
HOST_KINDS = ("a1111", "forge", "forge_neo", "standalone")


@dataclass(frozen=True)
class TextEncoderSpec:
    name: str  # diffusers component name: text_encoder | text_encoder_2
    prefix: str  # key prefix inside the single-file checkpoint
    layout: str  # "clip" (transformers names) or "openclip"
    with_projection: bool  # CLIPTextModelWithProjection (SDXL encoder 2)
    kohya_prefix: str  # lora_te | lora_te1 | lora_te2
    comfy_name: str  # ComfyUI's name for this CLIP: clip_l | clip_h | clip_g
    comfy_prefixes: tuple[str, ...]  # the LoRA prefixes ComfyUI accepts for it
    unused_last_block: bool = False  # SD2's ViT-H file holds one block more than it uses

    @property
    def layers_prefix(self) -> str:
        """Where this encoder's numbered layers start in a single-file checkpoint."""
        inner = "text_model.encoder.layers." if self.layout == "clip" else "transformer.resblocks."
        return self.prefix + inner


@dataclass
class FileDetails:
    variant_key: str = ""  # e.g. Flux's dev | schnell | chroma ("" where the family has none)
    variant_title: str = ""  # replaces `Family.variant`'s words when given
    # `inspect` rows that say nothing about this family's files (Flux: clip skip, EMA, …)
    hidden_rows: tuple[str, ...] = ()
    rows: list[tuple[str, str]] = field(default_factory=list)  # extra (label, value) rows
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Family:
    key: str  # sd1 | sd2 | sdxl — the value jobs, the CLI and the API carry
    title: str  # "Stable Diffusion XL"
    short_title: str  # "SDXL", what the family choice shows
    text_encoders: tuple[TextEncoderSpec, ...]
    kohya_unet_style: str  # "diffusers" (SD1/SD2) or "sgm" (SDXL)
    base_model_version: str  # kohya ss_base_model_version
    modelspec_architecture: str
    sd_version: str  # the webui's Lora card "sd version"
    native_resolution: int  # what the base model was trained at
    metadata_resolution: int  # modelspec.resolution kohya writes for this family
    process_resolutions: tuple[int, int]  # Dataset tab's (high, low) defaults
    # kohya's library/sai_model_spec.py (commit 48d368fa): Stability's repository for SDXL,
    # "diffusers" for SD 1.x / 2.x.
    implementation: str = "diffusers"
    clip_skip_default: tuple[int, str] = (1, "standard for this family")
    train_defaults: dict[str, Any] = field(default_factory=dict)  # "section.key" → value
    # What the family requires whatever a preset chose (the guided path applies them last),
    # and the line it says about them.
    train_overrides: dict[str, Any] = field(default_factory=dict)
    guided_note: str = ""
    # Estimates, not measurements (docs/performance.md says which are measured):
    gpu_seconds_per_step: float = 0.5  # a 12 GB consumer GPU, LoRA, fp16, native resolution
    full_size_unet_parameters: float = 860e6
    rough_vram_gb: float = 6.0  # batch 1, fp16, no checkpointing (the pre-flight's line)
    base_vram_gb: dict[int, float] = field(default_factory=dict)  # resolution → GB, AdamW
    stores_alphas_cumprod: bool = True  # real files of the family carry the noise schedule
    single_file: bool = True  # text encoders and VAE inside the checkpoint (SD), or separate
    # Samples read their prompts' cached conditioning, so the text encoders need not come back
    # to the GPU for them (Flux's T5 is 9.5 GB; SD's encoders are small and encode CFG's pair).
    samples_read_cached_prompts: bool = False
    tiny_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Folder names (beside the base models' folder) where the hosts keep this family's
    # separate parts; the standalone model list leaves them out (`families.part_folders`).
    part_folders: tuple[str, ...] = ()
    # The saved LoRA names its tensors as peft does (`lora_A` / `lora_B`), the names the
    # family's loaders take best (Z-Image in Forge Neo); kohya's `lora_down` / `lora_up` else.
    lora_peft_names: bool = False

    # -- recognising a file ----------------------------------------------------------------
    prediction_from_file = True  # ε or v, read from the file's metadata / markers / .yaml

    def recognises(self, keys: Any) -> bool:
        """Whether a checkpoint (anything with `in`) is of this family."""
        raise NotImplementedError

    def refusal(self, keys: Any) -> str:
        """Why a file that looks like this family cannot be used ("" when it can)."""
        return ""

    def part_of(self, key: str, ckpt: Any) -> str | None:
        """Which component a checkpoint key belongs to (None: none of them)."""
        if key.startswith(UNET_PREFIX):
            return "unet"
        if key.startswith(VAE_PREFIX):
            return "vae"
        return next((te.name for te in self.text_encoders if key.startswith(te.prefix)), None)

    def separate_part(self, ckpt: Any) -> tuple[str, str] | None:
        """(kind, one line saying what the file is) for a file that is not a base model but one
        of this family's own files — a part kept in its own file (Flux: CLIP-L, T5-XXL, the
        VAE) or one of its LoRAs — so that `inspect` names it; None for any other file."""
        return None

    def describe(self, ckpt: Any) -> FileDetails:
        """What only this family knows about a file: its variant, rows, warnings."""
        return FileDetails()

    def refuse_job(self, job: Any) -> str:
        """Why a training job cannot run on this family ("" when it can)."""
        return ""

    def default_prediction(self) -> tuple[str, str]:
        """(prediction, why) when the file says nothing about it."""
        return "epsilon", "standard for this family"

    def variant(self, prediction: str, inpainting: bool, zero_terminal_snr: bool) -> str:
        parts = [self.short_title]
        if prediction == "v":
            parts.append("v-prediction")
        if zero_terminal_snr:
            parts.append("zero terminal SNR")
        if inpainting:
            parts.append("inpainting")
        return " ".join(parts)

    # -- the saved LoRA's metadata ---------------------------------------------------------
    def lora_base_model_version(self, v_prediction: bool) -> str:
        return self.base_model_version

    def lora_base_model_versions(self) -> set[str]:
        """Every `ss_base_model_version` a LoRA of this family may carry (kohya's and ours)."""
        return {self.lora_base_model_version(False), self.lora_base_model_version(True)}

    def lora_architecture(self, v_prediction: bool) -> str:
        return self.modelspec_architecture

    def lora_resolution(self, v_prediction: bool) -> int:
        return self.metadata_resolution

    def adjust_lora_metadata(self, metadata: dict[str, Any], variant: str) -> dict[str, Any]:
        """The family's own values over the Stable Diffusion ones `lora.metadata` writes."""
        return metadata

    def is_v2(self) -> bool:
        """kohya's `ss_v2`: A1111 reads it to tell SD 2.x LoRAs apart."""
        return False

    def wizard(self, vram_gb: float) -> Any:
        """The Performance Wizard's choice (`train.wizard.WizardChoice`) where the family has
        its own, or None for the general table."""
        return None

    # -- extraction (`extract.run.extract_lora` calls these) -------------------------------
    def check_extraction(self, base: Path, tuned: Path, settings: Any) -> None:
        """What refuses an extraction between two files of this family before any weight is
        read (`extract.run.check_extraction` has checked the settings, the name and that both
        are this family): a rank above every layer, an option that does not apply."""
        raise NotImplementedError

    def extract(self, base: Path, tuned: Path, lora_dir: Path, name: str, settings: Any,
                reporter: Any, overwrite: bool = False, preview: str | Path | None = None
                ) -> Any:
        """Write `<lora_dir>/<name>.safetensors` holding tuned − base in this family's LoRA
        format, with its sidecar; returns the `extract.run.ExtractReport`."""
        raise NotImplementedError

    # -- hosts -----------------------------------------------------------------------------
    def unavailable_on(self, host_kind: str) -> str:
        """Why the host of this kind cannot run the family ("" when it can)."""
        return ""

    def write_demo(self, models_dir: Path) -> Path | None:
        """The family's tiny demo model under `models_dir` for `lfd train --example --demo`,
        written when first asked for (None: the demo workspace has it already, or none)."""
        return None

    def training_unavailable(self) -> str:
        """Why the family cannot be trained yet on any host ("" when it can): it is then left
        out of the training choices with this line, and still inspected and extracted."""
        return ""

    # -- components ------------------------------------------------------------------------
    # The denoiser is the component "unet" in every family (a Flux transformer too: kohya
    # names its LoRA `lora_unet_` as well); `denoiser_title` is what messages call it.
    denoiser_title = "UNet"

    def component_names(self) -> list[str]:
        return ["unet", "vae"] + [spec.name for spec in self.text_encoders]

    # -- training and sampling (the one loop, `train/loop.py`, calls these) ---------------
    def load_components(self, model: Any, dtypes: dict[str, Any], device: str,
                        configs: dict[str, dict[str, Any]] | None, should_stop: Any
                        ) -> tuple[Any, list[str]]:
        """(LoadedModels with the components named in `dtypes` — {component: the dtype it
        computes in} — on `device`, lines for the run's log). `model`: the job's ModelConfig."""
        raise NotImplementedError

    def tokenize(self, captions: list[str], job: Any, info: Any) -> Any:
        """Token ids of `captions`, one row per caption (rows are cached one by one)."""
        raise NotImplementedError

    def encode(self, encoders: list[Any], tokens: Any, clip_skip: int) -> tuple[Any, Any]:
        """(hidden states, pooled embedding or None) of `tokenize`'s rows."""
        raise NotImplementedError

    def objective(self, prediction: Any, job: Any) -> Any:
        """What a training step computes: an object with `loss(denoiser, latents, hidden,
        pooled, size_rows, generator, training, instance_count, autocast)`."""
        raise NotImplementedError

    def lora_targets(self, model: Any, component: str, network: Any, skip_final_layers: int
                     ) -> tuple[list[str], list[str]]:
        """(linear module names, conv module names) of `model` that a LoRA trains."""
        raise NotImplementedError

    def tie_lora(self, model: Any, component: str, adapter: str) -> None:
        """After injection: share LoRA weights the saved file holds once (Flux: fused q/k/v)."""

    def lora_file_modules(self, component: str, modules: dict[str, Any],
                          denoiser_config: dict[str, Any]) -> dict[str, Any]:
        """{name in the saved file: LoraModule} of trained `modules` ({module name:
        LoraModule}) of one component."""
        raise NotImplementedError

    def lora_names(self, configs: dict[str, dict[str, Any]]) -> set[str]:
        """Every module name a LoRA file of a model with these configs may hold."""
        raise NotImplementedError

    def unmatched_per_host(self, modules: list[str], base: Any,
                           configs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        """{loader: the LoRA modules it cannot place on the `base` file} (`lora/consumers`)."""
        raise NotImplementedError

    def load_for_sampling(self, model: Any, dtype: Any, device: str) -> Any:
        """LoadedModels with every component, for rendering outside a run (best-step grid)."""
        loaded, _ = self.load_components(model, dict.fromkeys(self.component_names(), dtype),
                                         device, None, None)
        return loaded

    def lora_patcher(self, models: dict[str, Any], configs: dict[str, dict[str, Any]]) -> Any:
        """An object with `apply(modules, strength)` and `restore()` that adds a saved LoRA to
        the loaded `models` and takes it off again."""
        raise NotImplementedError

    def render_sample(self, context: Any, prompt: str, config: Any, seed: int) -> Any:
        """One sample image (PIL) with the current weights (`train.sampling.SampleContext`)."""
        raise NotImplementedError

    def bundled_components(self) -> list[str]:
        """The components whose config is bundled in `assets/configs/<key>/` (loaded offline
        when a file carries none)."""
        return self.component_names()

    @property
    def text_component_names(self) -> list[str]:
        return [spec.name for spec in self.text_encoders]


@cache
def _bundled_config(family: str, component: str) -> str:
    return (ASSETS / "configs" / family / f"{component}.json").read_text(encoding="utf-8")


def bundled_config(family: str, component: str) -> dict[str, Any]:
    """A fresh copy of the bundled diffusers/transformers config of one component."""
    return json.loads(_bundled_config(family, component))
