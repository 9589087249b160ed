"""Flux.1 (dev, schnell, Krea, Kontext) and Chroma: the plug-in.

The base file is the transformer alone (BFL layout); CLIP-L, T5-XXL and the 16-channel VAE are
separate files (`parts.py`). Training is rectified flow on packed latents (`objective.py`) with
CLIP-L's pooled and T5's hidden states (`text.py`), the text encoders frozen and cached. Hosts:
Forge Neo and ComfyUI run Flux; A1111 cannot (its issue #16311) and Forge classic's Flux is
not what this project targets, so both hide it with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.errors import UserError
from lora_for_dummies.families.base import Family, FileDetails, TextEncoderSpec
from lora_for_dummies.families.flux.parts import FOLDERS

NOT_ON_A1111 = msg.FLUX_NEEDS_FORGE_NEO.text
NOT_ON_FORGE = ("Flux is offered on Forge Neo, the maintained Forge; on Forge classic, inspect "
                "and extract Flux files from the command line")
# Where Forge Neo keeps each separate part, relative to its models folder (`parts.SEARCH`
# looks there from the transformer's folder, and the standalone host lists none of them).
KEPT_IN = {"clip_l": "models/text_encoder", "t5xxl": "models/text_encoder", "vae": "models/VAE"}
LORA_LINE = ("this is a Flux LoRA, not a base model: put it in the Lora folder and use it in a "
             "prompt as <lora:name:1> with its Flux model (lfd lora-info lists its modules)")
T5_TOKENS = {"schnell": 256}  # diffusers' and kohya's T5 length; 512 for the others
SAMPLE_GUIDANCE = 3.5  # dev's distilled guidance when rendering samples (BFL's default)


@dataclass(frozen=True)
class Flux(Family):
    prediction_from_file = False  # always rectified flow
    denoiser_title = "transformer"

    def recognises(self, keys: Any) -> bool:
        from lora_for_dummies.families.flux.layout import flux_layout

        if not hasattr(keys, "shape"):  # a bare key set: the anchor key is enough
            return any(k.endswith("double_blocks.0.img_attn.qkv.weight") for k in keys)
        return flux_layout(keys) is not None

    def layout(self, ckpt: Any) -> Any:
        from lora_for_dummies.families.flux.layout import flux_layout

        return flux_layout(ckpt)

    def separate_part(self, ckpt: Any) -> tuple[str, str] | None:
        from lora_for_dummies.errors import CheckpointError
        from lora_for_dummies.families.flux.layout import identify_view, is_flux_lora

        if is_flux_lora(ckpt.keys()):
            return "lora", LORA_LINE
        try:
            part = identify_view(ckpt)
        except CheckpointError:  # a quantized file, an SD VAE: `detect_family` says what it is
            return None
        if part is None or part.kind not in KEPT_IN:
            return None
        return part.kind, (f"this is {part.title}, one of Flux's separate parts, not a base "
                           f"model: keep it in {KEPT_IN[part.kind]} (or beside the Flux "
                           "transformer), where Flux training and Forge Neo find it")

    def default_prediction(self) -> tuple[str, str]:
        return "flow", "Flux is trained with rectified flow (velocity prediction)"

    def part_of(self, key: str, ckpt: Any) -> str | None:
        from lora_for_dummies.families.flux.layout import ANCHOR, PREFIXES

        # Asked once per key by `inspect`: the prefix from three look-ups, not the whole layout
        # again (780 layouts took 2 s on a real dev file).
        prefix = next((p for p in sorted(PREFIXES, key=len, reverse=True) if p + ANCHOR in ckpt),
                      None)
        return "unet" if prefix is not None and key.startswith(prefix) else None

    def describe(self, ckpt: Any) -> FileDetails:
        layout = self.layout(ckpt)
        rows = [r for r in layout.rows() if r[0] not in ("Family", "Precision", "Parameters")]
        warnings = ["CLIP-L, T5-XXL and the VAE are separate files: keep clip_l, t5xxl_fp16 "
                    "(or _fp8_e4m3fn) and ae.safetensors in the text-encoder and VAE folders"]
        if layout.fp8:
            warnings.append("fp8 weights: trained and extracted from here in bf16 (fp8 holds "
                            "less detail than the bf16 file; extract from bf16 files if you can)")
        hidden = ("Zero terminal SNR", "Inpainting", "EMA weights", "VAE included",
                  "Suggested clip skip", "Prediction")
        rows.insert(0, ("Objective", "rectified flow (velocity); guidance "
                        + ("distilled into the model (dev)" if layout.has_guidance else
                           "none (few-step schnell or Chroma)")))
        return FileDetails(layout.variant, layout.title, hidden, rows, warnings)

    def adjust_lora_metadata(self, metadata: dict[str, Any], variant: str) -> dict[str, Any]:
        from lora_for_dummies.families.flux import lora_file

        variant = variant or "dev"
        metadata = dict(metadata, **{
            "ss_network_module": "networks.lora_flux",
            "ss_base_model_version": lora_file.BASE_MODEL_VERSION[variant],
            "ss_model_type": "chroma" if variant == "chroma" else "flux",
            "modelspec.architecture": f"{lora_file.ARCHITECTURE[variant]}/lora",
            "modelspec.implementation": lora_file.IMPLEMENTATION[variant]})
        metadata.pop("modelspec.prediction_type", None)  # kohya: Flux has no prediction type
        metadata.pop("modelspec.encoder_layer", None)  # no clip skip
        return metadata

    def lora_base_model_versions(self) -> set[str]:
        from lora_for_dummies.families.flux import lora_file

        return set(lora_file.BASE_MODEL_VERSION.values())

    def wizard(self, vram_gb: float) -> Any:
        """One of the tiers of `tiers.FLUX_TIERS` (None without a GPU: the CPU settings)."""
        if vram_gb <= 0:
            return None
        from lora_for_dummies.families.flux.tiers import choose_flux
        from lora_for_dummies.train import wizard

        return choose_flux(vram_gb, wizard.bf16_supported(), wizard.eight_bit_adam_available())

    def unavailable_on(self, host_kind: str) -> str:
        return {"a1111": NOT_ON_A1111, "forge": NOT_ON_FORGE}.get(host_kind, "")

    def component_names(self) -> list[str]:
        return ["unet", "vae", "text_encoder", "text_encoder_2"]

    def bundled_components(self) -> list[str]:
        # The transformer's config is read from its file's layout (`layout.flux_layout`);
        # the scheduler's is the sampler's.
        return ["vae", "text_encoder", "text_encoder_2", "scheduler"]

    def refuse_job(self, job: Any) -> str:
        if job.network.train_text_encoder:
            return ("Flux: the text encoders are not trained here (T5 never is; kohya's default "
                    "leaves CLIP-L frozen too): set network.train_text_encoder = false")
        if job.network.conv_rank:
            return "Flux has no convolutions to train: set network.conv_rank = 0"
        if job.network.kind != "lora":  # its fused attention ties the q/k/v LoRA downs
            return msg.FLUX_LORA_ONLY.format(kind=job.network.kind)
        return ""

    # -- extraction (`extract.run.extract_lora`; the work is `extract.extract_flux_lora`) ----
    def check_extraction(self, base: Path, tuned: Path, settings: Any) -> None:
        from lora_for_dummies.extract.run import check_rank
        from lora_for_dummies.families.flux.keys import extraction_pairs
        from lora_for_dummies.families.flux.layout import recognise_flux

        # Stable Diffusion's options a user set: refused, as they would do nothing here.
        if settings.conv_rule is not None:
            raise UserError("Flux has no convolution layers to extract: set the conv rank to 0 "
                            "(conv / LoCon is for Stable Diffusion)")
        if settings.use_ema:
            raise UserError("Flux files hold no EMA weights: turn EMA off")
        pairs = extraction_pairs(recognise_flux(base), recognise_flux(tuned))
        check_rank(settings.rule.rank, max(min(p.shape) for p in pairs))

    def extract(self, base: Path, tuned: Path, lora_dir: Path, name: str, settings: Any,
                reporter: Any, overwrite: bool = False, preview: str | Path | None = None
                ) -> Any:
        from lora_for_dummies.families.flux.extract import extract_flux_lora

        return extract_flux_lora(base, tuned, lora_dir, name, settings, reporter, overwrite,
                                 preview=preview)

    # -- training and sampling ---------------------------------------------------------------
    def load_components(self, model: Any, dtypes: dict[str, Any], device: str,
                        configs: dict[str, dict[str, Any]] | None, should_stop: Any
                        ) -> tuple[Any, list[str]]:
        from lora_for_dummies.checkpoints.models import LoadedModels
        from lora_for_dummies.checkpoints.reader import CheckpointFile
        from lora_for_dummies.families.flux import parts
        from lora_for_dummies.families.flux.keys import diffusers_config
        from lora_for_dummies.progress import StopRequested

        loaded = LoadedModels(self.key, dict(configs or {}))
        if "unet" not in loaded.configs:  # every component's config, as SD's loader gives
            with CheckpointFile(model.base) as file:
                loaded.configs["unet"] = diffusers_config(self.layout(file).config)
        notes = []
        files = parts.find_parts(model) if set(dtypes) - {"unet"} else {}
        def transformer(dtype: Any) -> tuple[Any, dict[str, Any]]:
            loaded_model, config, note = parts.load_transformer(Path(model.base), dtype,
                                                                device, model.fp8_base)
            if note:
                notes.append(note)
            return loaded_model, config

        loaders = {"unet": transformer,
                   "text_encoder": lambda d: parts.load_clip(files["text_encoder"], d, device,
                                                             self.key),
                   "text_encoder_2": lambda d: parts.load_t5(files["text_encoder_2"], d, device,
                                                             self.key),
                   "vae": lambda d: parts.load_vae(files["vae"], d, device, self.key)}
        for name, dtype in dtypes.items():
            if should_stop is not None and should_stop():
                raise StopRequested
            loaded.models[name], loaded.configs[name] = loaders[name](dtype)
            if name in files:
                notes.append(f"{name.replace('_', ' ')}: {files[name].name}")
        return loaded, notes

    def tokenize(self, captions: list[str], job: Any, info: Any) -> Any:
        """One row per caption: CLIP's 77 ids, then T5's (`encode` splits them again)."""
        import torch

        from lora_for_dummies.families.flux import parts, text

        length = T5_TOKENS.get(info.variant_key, 512)  # the file's variant (`describe`)
        ids = text.tokenize(captions, parts.tokenizer_folder(job.model), length)
        return torch.cat([ids["clip"], ids["t5"]], dim=1)

    def encode(self, encoders: list[Any], tokens: Any, clip_skip: int) -> tuple[Any, Any]:
        from lora_for_dummies.families.flux import text

        split = {"clip": tokens[:, :text.CLIP_TOKENS], "t5": tokens[:, text.CLIP_TOKENS:]}
        return text.encode(encoders, split)

    def objective(self, prediction: Any, job: Any) -> Any:
        from lora_for_dummies.families.flux.objective import FlowMatching, FlowSettings

        return FlowMatching(FlowSettings())

    def lora_targets(self, model: Any, component: str, network: Any, skip_final_layers: int
                     ) -> tuple[list[str], list[str]]:
        from lora_for_dummies.families.flux.network import transformer_targets

        if component != "unet":
            raise UserError("Flux: only the transformer is trained here")
        return transformer_targets(model), []

    def tie_lora(self, model: Any, component: str, adapter: str) -> None:
        from lora_for_dummies.families.flux.network import tie_downs

        tie_downs(model, adapter)

    def lora_file_modules(self, component: str, modules: dict[str, Any],
                          denoiser_config: dict[str, Any]) -> dict[str, Any]:
        from lora_for_dummies.families.flux.network import fused_modules

        return fused_modules(modules, denoiser_config)

    def lora_names(self, configs: dict[str, dict[str, Any]]) -> set[str]:
        from lora_for_dummies.families.flux.keys import flux_targets
        from lora_for_dummies.families.flux.network import bfl_config

        config = bfl_config(configs["unet"])
        return {t.name for t in flux_targets(config, modulation=True, embedders=True)}

    def unmatched_per_host(self, modules: list[str], base: Any,
                           configs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        from lora_for_dummies.checkpoints.reader import CheckpointFile
        from lora_for_dummies.families.flux.consumers import comfy_key_map
        from lora_for_dummies.lora.comfy_unet import unmatched_in_comfy_and_neo

        with CheckpointFile(base) as file:
            accepted = comfy_key_map(file.keys(), self.layout(file).prefix)
        return unmatched_in_comfy_and_neo(modules, [m for m in modules if m not in accepted])

    def lora_patcher(self, models: dict[str, Any], configs: dict[str, dict[str, Any]]) -> Any:
        from lora_for_dummies.families.flux.patch import FluxPatcher

        return FluxPatcher(models["unet"], configs["unet"])

    def render_sample(self, context: Any, prompt: str, config: Any, seed: int) -> Any:
        from lora_for_dummies.families.flux.sampler import render_flux

        return render_flux(context, prompt, config, seed, SAMPLE_GUIDANCE)


FAMILY = Flux(
    key="flux", title="Flux.1 / Chroma", short_title="Flux.1",
    text_encoders=(TextEncoderSpec("text_encoder", "", "clip", False, "lora_te1", "clip_l",
                                   ("lora_te1",)),
                   TextEncoderSpec("text_encoder_2", "", "t5", False, "lora_te3", "t5xxl",
                                   ("lora_te3",))),
    kohya_unet_style="bfl", base_model_version="flux1", modelspec_architecture="flux-1-dev",
    sd_version="Flux", native_resolution=1024, metadata_resolution=1024,
    process_resolutions=(1024, 768),
    clip_skip_default=(1, "clip skip does not apply to Flux (T5's states, CLIP-L's pooled)"),
    train_defaults={"training.resolution": 1024, "samples.width": 1024, "samples.height": 1024,
                    "network.train_text_encoder": False, "training.cache_text_encoder": True,
                    "optimizer.unet_lr": 1e-4, "samples.steps": 20, "samples.cfg": 1.0},
    train_overrides={"network.train_text_encoder": False, "training.cache_text_encoder": True,
                     "network.conv_rank": 0, "training.shuffle_tags": False},
    guided_note=("Flux: the text encoders stay frozen (T5 is never trained) and encode each "
                 "caption once; captions are sentences, so they are not shuffled"),
    gpu_seconds_per_step=4.0, full_size_unet_parameters=11.9e9, rough_vram_gb=24.0,
    base_vram_gb={1024: 33.0}, stores_alphas_cumprod=False, single_file=False,
    samples_read_cached_prompts=True,
    part_folders=FOLDERS,
)
