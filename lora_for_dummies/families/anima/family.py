"""Anima (CircleStone Labs with Comfy Org; a 2 B Cosmos-Predict2 DiT with an LLM adapter): the
plug-in.

The base file is the DiT with its adapter; the text encoder Qwen3-0.6B and the Qwen-Image VAE
are separate files, T5's tokenizer only a tokenizer. What works: recognising every Anima file
and its LoRAs (`inspect`, `lora-info`, the Models tab — with the model's non-commercial
licence), extraction between two DiTs with kohya's `lora_unet_<native module>` names (what
sd-scripts' `anima_train_network.py` writes and ComfyUI / Forge Neo load, `keys.py`), and the
loaders' rule (`lora.comfy_unet`). Training is not built yet: the family is left out of the
training choices with that reason. Hosts: Forge Neo runs Anima; A1111 and Forge classic cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_for_dummies.errors import UserError
from lora_for_dummies.families.base import Family, FileDetails, TextEncoderSpec
from lora_for_dummies.families.flux.parts import FOLDERS

NOT_ON_A1111 = ("Anima needs Forge Neo (A1111 1.10 cannot run it); inspect and extract Anima "
                "files from the command line")
NOT_ON_FORGE = ("Anima is offered on Forge Neo, the maintained Forge; on Forge classic, inspect "
                "and extract Anima files from the command line")
NOT_TRAINED_YET = ("Anima: training is not built yet (inspect and extract Anima files work); "
                   "until it is, kohya's sd-scripts anima_train_network.py trains it")
LICENCE = ("CircleStone Labs' non-commercial licence: Anima and what is made with it may not "
           "be used commercially — read the model card before sharing a LoRA")
LORA_LINE = ("this is an Anima LoRA, not a base model: put it in the Lora folder and use it in "
             "a prompt as <lora:name:1> with its Anima model (lfd lora-info lists its modules)")


@dataclass(frozen=True)
class Anima(Family):
    prediction_from_file = False  # always rectified flow
    denoiser_title = "DiT"

    def recognises(self, keys: Any) -> bool:
        from lora_for_dummies.families.anima.layout import ANCHOR, anima_layout

        if not hasattr(keys, "shape"):  # a bare key set: the anchor key is enough
            return any(k.endswith(ANCHOR) for k in keys)
        return anima_layout(keys) is not None

    def layout(self, ckpt: Any) -> Any:
        from lora_for_dummies.families.anima.layout import anima_layout

        return anima_layout(ckpt)

    def separate_part(self, ckpt: Any) -> tuple[str, str] | None:
        from lora_for_dummies.families.anima.layout import is_anima_lora

        return ("lora", LORA_LINE) if is_anima_lora(ckpt.keys()) else None

    def default_prediction(self) -> tuple[str, str]:
        return "flow", "Anima is trained with rectified flow (velocity prediction)"

    def part_of(self, key: str, ckpt: Any) -> str | None:
        from lora_for_dummies.families.anima.layout import ANCHOR, PREFIXES

        prefix = next((p for p in sorted(PREFIXES, key=len, reverse=True) if p + ANCHOR in ckpt),
                      None)
        return "unet" if prefix is not None and key.startswith(prefix) else None

    def describe(self, ckpt: Any) -> FileDetails:
        layout = self.layout(ckpt)
        rows = [("Objective", "rectified flow (velocity), the Qwen-Image VAE"),
                *layout.rows(), ("Licence", LICENCE)]
        warnings = ["Qwen3-0.6B and the VAE are separate files: keep qwen_3_06b.safetensors in "
                    "models/text_encoder and the Qwen-Image VAE in models/VAE",
                    "non-commercial licence: " + LICENCE.split(": ", 1)[1]]
        hidden = ("Zero terminal SNR", "Inpainting", "EMA weights", "VAE included",
                  "Suggested clip skip", "Prediction")
        return FileDetails("", "Anima DiT", hidden, rows, warnings)

    def adjust_lora_metadata(self, metadata: dict[str, Any], variant: str) -> dict[str, Any]:
        # kohya's sd-scripts for Anima (48d368fa, library/sai_model_spec.py): architecture
        # "anima-preview", its Hugging Face page as the implementation; networks.lora_anima.
        metadata = dict(metadata, ss_network_module="networks.lora_anima")
        metadata.pop("modelspec.prediction_type", None)
        metadata.pop("modelspec.encoder_layer", None)
        return metadata

    def unavailable_on(self, host_kind: str) -> str:
        return {"a1111": NOT_ON_A1111, "forge": NOT_ON_FORGE}.get(host_kind, "")

    def training_unavailable(self) -> str:
        return NOT_TRAINED_YET

    def refuse_job(self, job: Any) -> str:
        return NOT_TRAINED_YET

    def component_names(self) -> list[str]:
        return ["unet", "vae", "text_encoder"]

    def bundled_components(self) -> list[str]:
        return []  # the DiT's config is read from its file; nothing is trained yet

    # -- extraction (`extract.run.extract_lora`; the work is `extract.extract_anima_lora`) ----
    def check_extraction(self, base: Path, tuned: Path, settings: Any) -> None:
        from lora_for_dummies.extract.run import check_rank
        from lora_for_dummies.families.anima.extract import check_pair, largest_rank
        from lora_for_dummies.families.anima.layout import recognise_anima

        if settings.conv_rule is not None:
            raise UserError("Anima has no convolution layers to extract: set the conv rank to 0 "
                            "(conv / LoCon is for Stable Diffusion)")
        if settings.use_ema:
            raise UserError("Anima files hold no EMA weights: turn EMA off")
        base_layout = recognise_anima(base)
        check_pair(base_layout, recognise_anima(tuned))
        check_rank(settings.rule.rank, largest_rank(base_layout))

    def extract(self, base: Path, tuned: Path, lora_dir: Path, name: str, settings: Any,
                reporter: Any, overwrite: bool = False, preview: str | Path | None = None
                ) -> Any:
        from lora_for_dummies.families.anima.extract import extract_anima_lora

        return extract_anima_lora(base, tuned, lora_dir, name, settings, reporter, overwrite,
                                  preview=preview)

    # -- what the loaders take ---------------------------------------------------------------
    def unmatched_per_host(self, modules: list[str], base: Any,
                           configs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        from lora_for_dummies.checkpoints.reader import CheckpointFile
        from lora_for_dummies.lora.comfy_unet import comfy_key_map, unmatched_in_comfy_and_neo
        with CheckpointFile(base) as file:
            accepted = comfy_key_map(file.keys(), self.layout(file).prefix)
        return unmatched_in_comfy_and_neo(modules, [m for m in modules if m not in accepted])


FAMILY = Anima(
    key="anima", title="Anima", short_title="Anima",
    text_encoders=(TextEncoderSpec("text_encoder", "", "qwen3", False, "lora_te", "qwen3_06b",
                                   ("lora_te",)),),
    kohya_unet_style="anima", base_model_version="anima", modelspec_architecture="anima-preview",
    sd_version="Anima", native_resolution=1024, metadata_resolution=1024,
    process_resolutions=(1024, 768), implementation="https://huggingface.co/circlestone-labs/Anima",
    clip_skip_default=(1, "clip skip does not apply to Anima (Qwen3-0.6B through its adapter)"),
    train_overrides={"network.train_text_encoder": False},
    gpu_seconds_per_step=1.5, full_size_unet_parameters=2.09e9, rough_vram_gb=6.0,
    stores_alphas_cumprod=False, single_file=False, part_folders=FOLDERS,
)
