"""What the Stable Diffusion families (1.x, 2.x, XL) share: a UNet with CLIP text encoders in
one checkpoint, trained on ε or v with a DDPM noise schedule. Each family module subclasses
`StableDiffusionFamily` and overrides what differs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_for_dummies.families.base import Family


def _final_norm(encoder: Any) -> Any:
    encoder = getattr(encoder, "module", encoder)  # a trained encoder runs wrapped in DDP
    return getattr(encoder, "text_model", encoder).final_layer_norm


@dataclass(frozen=True)
class StableDiffusionFamily(Family):
    def unused_final_layers(self, component: str, clip_skip: int) -> int:
        """How many final layers of a text encoder `encode_text` leaves out: a LoRA there would
        never learn (and under several processes DDP refuses weights that get no gradient)."""
        return max(clip_skip, 1) - 1

    def encode_text(self, encoders: list[Any], flat_tokens: Any, clip_skip: int
                    ) -> tuple[Any, Any]:
        """(hidden states (rows, 77, dim), pooled embedding or None) of (rows, 77) token ids,
        as the webui computes them: clip skip counts back from the last layer, then the final
        layer norm."""
        out = encoders[0](flat_tokens, output_hidden_states=True)
        if clip_skip > 1:
            return _final_norm(encoders[0])(out.hidden_states[-clip_skip]), None
        return out.last_hidden_state, None

    def unet_inputs(self, pooled: Any, size_rows: list[list[int]], device: Any, dtype: Any
                    ) -> dict[str, Any]:
        """Extra keyword arguments of the UNet's forward beyond latents, timestep and text.
        `size_rows`: per image (original h, w, crop top, left, target h, w)."""
        return {}

    # -- extraction ----------------------------------------------------------------------------
    def check_extraction(self, base: Path, tuned: Path, settings: Any) -> None:
        from lora_for_dummies.extract.run import check_sd_extraction

        check_sd_extraction(base, self.key, settings)

    def extract(self, base: Path, tuned: Path, lora_dir: Path, name: str, settings: Any,
                reporter: Any, overwrite: bool = False, preview: str | Path | None = None
                ) -> Any:
        from lora_for_dummies.extract.run import extract_sd_lora

        return extract_sd_lora(base, tuned, lora_dir, name, settings, reporter, overwrite,
                               preview)

    # -- training and sampling ---------------------------------------------------------------
    def load_components(self, model: Any, dtypes: dict[str, Any], device: str,
                        configs: dict[str, dict[str, Any]] | None, should_stop: Any
                        ) -> tuple[Any, list[str]]:
        from lora_for_dummies.train.stored_precision import load_for_compute

        return load_for_compute(model.base, dtypes, device, configs, should_stop)

    def tokenize(self, captions: list[str], job: Any, info: Any) -> Any:
        from lora_for_dummies.train.text import token_batch

        return token_batch(captions, job.training.max_token_chunks)

    def encode(self, encoders: list[Any], tokens: Any, clip_skip: int) -> tuple[Any, Any]:
        from lora_for_dummies.train.text import encode_tokens

        return encode_tokens(self.key, encoders, tokens, clip_skip)

    def objective(self, prediction: Any, job: Any) -> Any:
        from lora_for_dummies.train.objective import NoisePrediction
        from lora_for_dummies.train.sampling import make_scheduler

        return NoisePrediction(make_scheduler("ddpm", prediction), prediction.v)

    def lora_targets(self, model: Any, component: str, network: Any, skip_final_layers: int
                     ) -> tuple[list[str], list[str]]:
        from lora_for_dummies.train.network import unet_and_clip_targets

        return unet_and_clip_targets(model, component, network, skip_final_layers)

    def lora_file_modules(self, component: str, modules: dict[str, Any],
                          denoiser_config: dict[str, Any]) -> dict[str, Any]:
        from lora_for_dummies.checkpoints.kohya_names import kohya_name

        return {kohya_name(self.key, component, name, denoiser_config): module
                for name, module in modules.items()}

    def lora_names(self, configs: dict[str, dict[str, Any]]) -> set[str]:
        from lora_for_dummies.lora.targets import extraction_targets

        return {t.name for t in extraction_targets(self.key, configs, True, True)}

    def unmatched_per_host(self, modules: list[str], base: Any,
                           configs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        from pathlib import Path

        from lora_for_dummies.lora.consumers import unmatched_per_host

        return unmatched_per_host(modules, self.key, Path(base), configs["unet"])

    def lora_patcher(self, models: dict[str, Any], configs: dict[str, dict[str, Any]]) -> Any:
        from lora_for_dummies.lora.patch import LoraPatcher

        return LoraPatcher(self.key, {n: m for n, m in models.items() if n != "vae"},
                           configs["unet"])

    def render_sample(self, context: Any, prompt: str, config: Any, seed: int) -> Any:
        from lora_for_dummies.train.sampling import render_unet

        return render_unet(context, prompt, config, seed)
