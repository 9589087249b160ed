"""Z-Image (Tongyi-MAI; base and Turbo): the plug-in.

The base file is the transformer alone (native names as ComfyUI / Forge Neo keep it, or
diffusers'); the text encoder Qwen3-4B and the 16-channel Flux VAE are separate files
(`parts.py`). Training is flow matching on diffusers' ZImageTransformer2DModel (`objective.py`)
with Qwen3's second-to-last hidden states (`text.py`), the text encoder frozen and cached, a
LoRA on the main layers' attention and feed-forward saved as Forge Neo loads it (`keys.py`);
extraction between two transformers in the same format (`extract.py`). Hosts: Forge Neo runs
Z-Image; A1111 and Forge classic cannot, and say so; training needs diffusers' Z-Image model
(0.36 or later) and transformers' Qwen3, which a host without them is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lora_for_dummies.errors import UserError
from lora_for_dummies.families.base import Family, FileDetails, TextEncoderSpec
from lora_for_dummies.families.flux.parts import FOLDERS

NOT_ON_A1111 = ("Z-Image needs Forge Neo (A1111 1.10 cannot run it); inspect and extract "
                "Z-Image files from the command line")
NOT_ON_FORGE = ("Z-Image is offered on Forge Neo, the maintained Forge; on Forge classic, "
                "inspect and extract Z-Image files from the command line")
LICENCE = "Apache-2.0 (Tongyi-MAI's Z-Image): LoRAs of it may be shared and used commercially"
DIFFUSERS_NEEDED, TRANSFORMERS_NEEDED = "0.36", "4.51"  # ZImageTransformer2DModel, Qwen3
SAMPLE_CFG = 4.0  # the base model's guidance (Turbo: 1, at 8 steps)
LORA_LINE = ("this is a Z-Image LoRA, not a base model: put it in the Lora folder and use it in "
             "a prompt as <lora:name:1> with its Z-Image model (lfd lora-info lists its modules)")
TURBO_NOTE = ("base or Turbo (the keys are the same): train the base model; Turbo is "
              "step-distilled, and training it directly breaks the distillation — use a "
              "de-distilled Turbo or the base")
QWEN3_SIZES = {2560: "Qwen3-4B, Z-Image's text encoder: keep it in models/text_encoder",
               1024: "Qwen3-0.6B, Anima's text encoder: keep it in models/text_encoder"}


@dataclass(frozen=True)
class ZImage(Family):
    prediction_from_file = False  # always flow matching
    denoiser_title = "transformer"

    def recognises(self, keys: Any) -> bool:
        from lora_for_dummies.families.zimage.layout import (
            DIFFUSERS_ANCHOR,
            NATIVE_ANCHOR,
            zimage_layout,
        )

        if not hasattr(keys, "shape"):  # a bare key set: the anchor key is enough
            return any(k.endswith((NATIVE_ANCHOR, DIFFUSERS_ANCHOR)) for k in keys)
        return zimage_layout(keys) is not None

    def layout(self, ckpt: Any) -> Any:
        from lora_for_dummies.families.zimage.layout import zimage_layout

        return zimage_layout(ckpt)

    def separate_part(self, ckpt: Any) -> tuple[str, str] | None:
        from lora_for_dummies.families.zimage import parts
        from lora_for_dummies.families.zimage.layout import is_zimage_lora

        keys = ckpt.keys()
        if is_zimage_lora(keys):
            return "lora", LORA_LINE
        if parts.is_qwen3(ckpt):
            embed = next(k for k in keys if k.endswith("embed_tokens.weight"))
            width = ckpt.shape(embed)[1]
            return "text_encoder", "this is " + QWEN3_SIZES.get(
                width, f"a Qwen3 text encoder (width {width})") + ", not a base model"
        return None

    def default_prediction(self) -> tuple[str, str]:
        return "flow", "Z-Image is trained with flow matching (velocity prediction)"

    def part_of(self, key: str, ckpt: Any) -> str | None:
        from lora_for_dummies.families.zimage.layout import (
            DIFFUSERS_ANCHOR,
            NATIVE_ANCHOR,
            PREFIXES,
        )

        prefix = next((p for p in sorted(PREFIXES, key=len, reverse=True)
                       if p + NATIVE_ANCHOR in ckpt or p + DIFFUSERS_ANCHOR in ckpt), None)
        return "unet" if prefix is not None and key.startswith(prefix) else None

    def describe(self, ckpt: Any) -> FileDetails:
        layout = self.layout(ckpt)
        rows = [("Objective", "flow matching (velocity), Flux's 16-channel VAE"),
                ("Base or Turbo", TURBO_NOTE), *layout.rows(), ("Licence", LICENCE)]
        warnings = ["Qwen3-4B and the VAE are separate files: keep qwen_3_4b.safetensors in "
                    "models/text_encoder and ae.safetensors in models/VAE"]
        hidden = ("Zero terminal SNR", "Inpainting", "EMA weights", "VAE included",
                  "Suggested clip skip", "Prediction")
        return FileDetails("", "Z-Image transformer", hidden, rows, warnings)

    def adjust_lora_metadata(self, metadata: dict[str, Any], variant: str) -> dict[str, Any]:
        from lora_for_dummies.families.zimage import lora_file

        metadata = dict(metadata, ss_network_module=lora_file.NETWORK_MODULE)
        metadata.pop("modelspec.prediction_type", None)  # musubi: none for Z-Image
        metadata.pop("modelspec.encoder_layer", None)
        return metadata

    def unavailable_on(self, host_kind: str) -> str:
        if host_kind in ("a1111", "forge"):
            return {"a1111": NOT_ON_A1111, "forge": NOT_ON_FORGE}[host_kind]
        return ""

    def training_unavailable(self) -> str:
        return _missing_libraries()

    def refuse_job(self, job: Any) -> str:
        why = self.training_unavailable()
        if why:
            return why
        if job.network.train_text_encoder:
            return ("Z-Image: the text encoder (Qwen3-4B) is not trained here: set "
                    "network.train_text_encoder = false")
        if job.network.conv_rank:
            return "Z-Image has no convolutions to train: set network.conv_rank = 0"
        if job.network.kind != "lora":  # what consumers.py re-states Forge Neo applying
            return (f"Z-Image trains the kind LoRA here ({job.network.kind} is for Stable "
                    "Diffusion and its loaders' rules are not checked for Z-Image yet)")
        return ""

    def write_demo(self, models_dir: Path) -> Path | None:
        from lora_for_dummies.families.zimage.demo import DEMO_MODEL, DEMO_TUNED, write_zimage_demo
        from lora_for_dummies.families.zimage.synthetic import write_finetune

        base, tuned = models_dir / DEMO_MODEL, models_dir / DEMO_TUNED
        if not base.exists():
            write_zimage_demo(base.parent, name=base.name, models_dir=models_dir)
        if not tuned.exists():
            write_finetune(base, tuned)
        return base

    def wizard(self, vram_gb: float) -> Any:
        """One of the tiers of `tiers.ZIMAGE_TIERS` (None without a GPU: the CPU settings)."""
        if vram_gb <= 0:
            return None
        from lora_for_dummies.families.zimage.tiers import choose_zimage
        from lora_for_dummies.train import wizard

        return choose_zimage(vram_gb, wizard.bf16_supported(), wizard.eight_bit_adam_available())

    def component_names(self) -> list[str]:
        return ["unet", "vae", "text_encoder"]

    def bundled_components(self) -> list[str]:
        # The transformer's config is read from its file (`layout.zimage_layout`), the VAE's
        # is Flux's; the scheduler's is the sampler's.
        return ["text_encoder", "scheduler"]

    # -- extraction (`extract.run.extract_lora`; the work is `extract.extract_zimage_lora`) ----
    def check_extraction(self, base: Path, tuned: Path, settings: Any) -> None:
        from lora_for_dummies.extract.run import check_rank
        from lora_for_dummies.families.zimage.extract import check_pair, largest_rank
        from lora_for_dummies.families.zimage.layout import recognise_zimage

        if settings.conv_rule is not None:
            raise UserError("Z-Image has no convolution layers to extract: set the conv rank "
                            "to 0 (conv / LoCon is for Stable Diffusion)")
        if settings.use_ema:
            raise UserError("Z-Image files hold no EMA weights: turn EMA off")
        base_layout = recognise_zimage(base)
        check_pair(base_layout, recognise_zimage(tuned))
        check_rank(settings.rule.rank, largest_rank(base_layout))

    def extract(self, base: Path, tuned: Path, lora_dir: Path, name: str, settings: Any,
                reporter: Any, overwrite: bool = False, preview: str | Path | None = None
                ) -> Any:
        from lora_for_dummies.families.zimage.extract import extract_zimage_lora

        return extract_zimage_lora(base, tuned, lora_dir, name, settings, reporter, overwrite,
                                   preview=preview)

    # -- training and sampling ---------------------------------------------------------------
    def load_components(self, model: Any, dtypes: dict[str, Any], device: str,
                        configs: dict[str, dict[str, Any]] | None, should_stop: Any
                        ) -> tuple[Any, list[str]]:
        from lora_for_dummies.checkpoints.models import LoadedModels
        from lora_for_dummies.checkpoints.reader import CheckpointFile
        from lora_for_dummies.families.zimage import parts
        from lora_for_dummies.progress import StopRequested

        loaded = LoadedModels(self.key, dict(configs or {}))
        with CheckpointFile(model.base) as file:
            layout = self.layout(file)
        if "unet" not in loaded.configs:  # every component's config, as SD's loader gives
            loaded.configs["unet"] = layout.config.diffusers_config()
        notes = []
        files = parts.find_parts(model, layout.config.cap_feat_dim) \
            if set(dtypes) - {"unet"} else {}

        def transformer(dtype: Any) -> tuple[Any, dict[str, Any]]:
            loaded_model, config, note = parts.load_transformer(Path(model.base), dtype, device,
                                                                model.fp8_base)
            if note:
                notes.append(note)
            return loaded_model, config

        loaders = {"unet": transformer,
                   "text_encoder": lambda d: parts.load_qwen3(files["text_encoder"], d, device,
                                                              self.key),
                   "vae": lambda d: parts.load_flux_vae(files["vae"], d, device)}
        for name, dtype in dtypes.items():
            if should_stop is not None and should_stop():
                raise StopRequested
            loaded.models[name], loaded.configs[name] = loaders[name](dtype)
            if name in files:
                notes.append(f"{name.replace('_', ' ')}: {files[name].name}")
        return loaded, notes

    def tokenize(self, captions: list[str], job: Any, info: Any) -> Any:
        from lora_for_dummies.families.zimage import parts, text

        return text.tokenize(captions, parts.tokenizer_folder(job.model))

    def encode(self, encoders: list[Any], tokens: Any, clip_skip: int) -> tuple[Any, Any]:
        from lora_for_dummies.families.zimage import text

        return text.encode(encoders[0], tokens)

    def objective(self, prediction: Any, job: Any) -> Any:
        from lora_for_dummies.families.zimage.objective import ZImageFlow

        return ZImageFlow()

    def lora_targets(self, model: Any, component: str, network: Any, skip_final_layers: int
                     ) -> tuple[list[str], list[str]]:
        from lora_for_dummies.families.zimage.architecture import ZImageConfig
        from lora_for_dummies.families.zimage.keys import training_targets

        if component != "unet":
            raise UserError("Z-Image: only the transformer is trained here")
        config = ZImageConfig(**_our_fields(dict(model.config)))
        return [t.module for t in training_targets(config)], []

    def lora_file_modules(self, component: str, modules: dict[str, Any],
                          denoiser_config: dict[str, Any]) -> dict[str, Any]:
        from lora_for_dummies.families.zimage.keys import LORA_PREFIX

        return {LORA_PREFIX + name: module for name, module in modules.items()}

    def lora_names(self, configs: dict[str, dict[str, Any]]) -> set[str]:
        from lora_for_dummies.families.zimage.architecture import ZImageConfig
        from lora_for_dummies.families.zimage.keys import all_targets

        return {t.name for t in all_targets(ZImageConfig(**_our_fields(configs["unet"])))}

    def unmatched_per_host(self, modules: list[str], base: Any,
                           configs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        from lora_for_dummies.checkpoints.reader import CheckpointFile
        from lora_for_dummies.families.zimage.consumers import unmatched
        from lora_for_dummies.lora.comfy_unet import unmatched_in_comfy_and_neo

        with CheckpointFile(base) as file:
            return unmatched_in_comfy_and_neo(modules, unmatched(modules,
                                                                 self.layout(file).config))

    def lora_patcher(self, models: dict[str, Any], configs: dict[str, dict[str, Any]]) -> Any:
        from lora_for_dummies.families.zimage.patch import ZImagePatcher

        return ZImagePatcher(models["unet"])

    def render_sample(self, context: Any, prompt: str, config: Any, seed: int) -> Any:
        from lora_for_dummies.families.zimage.sampler import render_zimage

        return render_zimage(context, prompt, config, seed)


@cache
def _missing_libraries() -> str:
    """Why this host's libraries cannot train Z-Image ("" when they can), from the installed
    versions alone: asked while the tabs are built (the family choices), so it imports neither
    diffusers nor transformers — diffusers' Z-Image model came in 0.36, Qwen3 in transformers
    4.51."""
    from lora_for_dummies.environment import installed_version, is_at_least

    diffusers = installed_version("diffusers") or "none"
    if diffusers == "none" or not is_at_least(diffusers, DIFFUSERS_NEEDED):
        return (f"Z-Image: training needs diffusers {DIFFUSERS_NEEDED} or later (this host "
                f"has {diffusers}); inspect and extract Z-Image files work")
    transformers = installed_version("transformers") or "none"
    if transformers == "none" or not is_at_least(transformers, TRANSFORMERS_NEEDED):
        return (f"Z-Image: training needs transformers with Qwen3 ({TRANSFORMERS_NEEDED} or "
                f"later; this host has {transformers})")
    return ""


def _our_fields(config: dict[str, Any]) -> dict[str, Any]:
    """`ZImageConfig`'s fields from a ZImageTransformer2DModel config."""
    return {"dim": config["dim"], "n_layers": config["n_layers"],
            "n_refiner_layers": config["n_refiner_layers"], "n_heads": config["n_heads"],
            "cap_feat_dim": config["cap_feat_dim"], "in_channels": config["in_channels"],
            "patch_size": list(config["all_patch_size"])[0]}


FAMILY = ZImage(
    key="zimage", title="Z-Image", short_title="Z-Image",
    text_encoders=(TextEncoderSpec("text_encoder", "", "qwen3", False, "lora_te", "qwen3_4b",
                                   ("lora_te",)),),
    kohya_unet_style="zimage", base_model_version="zimage", modelspec_architecture="Z-Image",
    sd_version="Z-Image", native_resolution=1024, metadata_resolution=1024,
    process_resolutions=(1024, 768),
    implementation="https://github.com/Tongyi-MAI/Z-Image",
    clip_skip_default=(1, "clip skip does not apply to Z-Image (Qwen3-4B's hidden states)"),
    train_defaults={"training.resolution": 1024, "samples.width": 1024, "samples.height": 1024,
                    "network.train_text_encoder": False, "training.cache_text_encoder": True,
                    "optimizer.unet_lr": 1e-4, "samples.steps": 28, "samples.cfg": SAMPLE_CFG,
                    "samples.negative": ""},
    train_overrides={"network.train_text_encoder": False, "training.cache_text_encoder": True,
                     "network.conv_rank": 0, "training.shuffle_tags": False},
    guided_note=("Z-Image: the text encoder (Qwen3-4B) stays frozen and encodes each caption "
                 "once; captions are sentences, so they are not shuffled"),
    gpu_seconds_per_step=3.0, full_size_unet_parameters=6.15e9, rough_vram_gb=16.0,
    base_vram_gb={1024: 16.6}, stores_alphas_cumprod=False, single_file=False,
    samples_read_cached_prompts=True, part_folders=FOLDERS, lora_peft_names=True,
)
