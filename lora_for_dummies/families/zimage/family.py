"""Z-Image (Tongyi-MAI; base and Turbo): the plug-in.

The base file is the transformer alone (native names as ComfyUI / Forge Neo keep it, or
diffusers'); the text encoder Qwen3-4B and the 16-channel Flux VAE are separate files. What
works today: recognising every Z-Image file and its LoRAs (`inspect`, `lora-info`, the Models
tab), extraction between two transformers in the format Forge Neo loads (`extract.py`), and
the loaders' rules (`consumers.py`). Training is not built yet: the family is left out of the
training choices with that reason (`training_unavailable`). Hosts: Forge Neo runs Z-Image;
A1111 and Forge classic cannot, and say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_for_dummies.errors import UserError
from lora_for_dummies.families.base import Family, FileDetails, TextEncoderSpec
from lora_for_dummies.families.flux.parts import FOLDERS

NOT_ON_A1111 = ("Z-Image needs Forge Neo (A1111 1.10 cannot run it); inspect and extract "
                "Z-Image files from the command line")
NOT_ON_FORGE = ("Z-Image is offered on Forge Neo, the maintained Forge; on Forge classic, "
                "inspect and extract Z-Image files from the command line")
NOT_TRAINED_YET = ("Z-Image: training is not built yet (inspect and extract Z-Image files "
                   "work); until it is, musubi-tuner or ai-toolkit train it")
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
        from lora_for_dummies.families.zimage.layout import is_zimage_lora

        keys = ckpt.keys()
        if is_zimage_lora(keys):
            return "lora", LORA_LINE
        embed = next((k for k in ("model.embed_tokens.weight", "embed_tokens.weight")
                      if k in ckpt), None)
        if embed is not None and any(".self_attn.q_norm." in k for k in keys):  # Qwen3
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
                ("Base or Turbo", TURBO_NOTE), *layout.rows()]
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
        return NOT_TRAINED_YET

    def refuse_job(self, job: Any) -> str:
        return NOT_TRAINED_YET

    def component_names(self) -> list[str]:
        return ["unet", "vae", "text_encoder"]

    def bundled_components(self) -> list[str]:
        return []  # the transformer's config is read from its file (`layout.zimage_layout`)

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

    # -- what the loaders take ---------------------------------------------------------------
    def lora_names(self, configs: dict[str, dict[str, Any]]) -> set[str]:
        from lora_for_dummies.families.zimage.architecture import ZImageConfig
        from lora_for_dummies.families.zimage.keys import all_targets

        return {t.name for t in all_targets(ZImageConfig(**configs["unet"]))}

    def unmatched_per_host(self, modules: list[str], base: Any,
                           configs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        from lora_for_dummies.checkpoints.reader import CheckpointFile
        from lora_for_dummies.families.zimage.consumers import unmatched
        from lora_for_dummies.lora.consumers import forge_neo_loads

        with CheckpointFile(base) as file:
            comfy = unmatched(modules, self.layout(file).config)
        neo = comfy if forge_neo_loads(3 * len(comfy), 3 * len(modules)) else list(modules)
        return {"Forge Neo": neo, "ComfyUI": comfy}


FAMILY = ZImage(
    key="zimage", title="Z-Image", short_title="Z-Image",
    text_encoders=(TextEncoderSpec("text_encoder", "", "qwen3", False, "lora_te", "qwen3_4b",
                                   ("lora_te",)),),
    kohya_unet_style="zimage", base_model_version="zimage", modelspec_architecture="Z-Image",
    sd_version="Z-Image", native_resolution=1024, metadata_resolution=1024,
    process_resolutions=(1024, 768),
    implementation="https://github.com/Tongyi-MAI/Z-Image",
    clip_skip_default=(1, "clip skip does not apply to Z-Image (Qwen3-4B's hidden states)"),
    gpu_seconds_per_step=3.0, full_size_unet_parameters=6.15e9, rough_vram_gb=16.0,
    train_overrides={"network.train_text_encoder": False},
    stores_alphas_cumprod=False, single_file=False, part_folders=FOLDERS,
)
