"""Writing a Flux LoRA as kohya's `flux_train_network.py` does: `lora_unet_<BFL module>` keys
(`keys.kohya_name`), the real alpha, and its metadata — through the project's one LoRA writer
(`lora.format.save_lora`: atomic, every tensor finite, kohya's hashes).

Metadata as kohya-ss/sd-scripts writes it for Flux (branch sd3, commit 3265f2ed):
`ss_base_model_version` "flux1" (dev and schnell alike; `library/flux_utils.py`
MODEL_VERSION_FLUX_V1) or "chroma" (MODEL_VERSION_CHROMA); `library/sai_model_spec.py`:
`modelspec.architecture` "flux-1-dev/lora", "flux-1-schnell/lora" or "chroma/lora",
`modelspec.implementation` BFL's repository (Chroma: lodestones' Hugging Face page), resolution
1024x1024, and no `modelspec.prediction_type` ("Flux models don't use prediction_type").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lora_for_dummies.lora.format import LoraModule, save_lora

BASE_MODEL_VERSION = {"dev": "flux1", "schnell": "flux1", "chroma": "chroma"}
ARCHITECTURE = {"dev": "flux-1-dev", "schnell": "flux-1-schnell", "chroma": "chroma"}
IMPLEMENTATION = {"dev": "https://github.com/black-forest-labs/flux",
                  "schnell": "https://github.com/black-forest-labs/flux",
                  "chroma": "https://huggingface.co/lodestones/Chroma"}


def flux_lora_metadata(variant: str, name: str, rank: int, alpha: float, comment: str = "",
                       resolution: int = 1024, extra: dict[str, Any] | None = None
                       ) -> dict[str, str]:
    """kohya `ss_*` and `modelspec.*` keys of a Flux / Chroma LoRA (strings, as kohya writes):
    the project's one metadata writer with the Flux family's values
    (`Family.adjust_lora_metadata`, from the tables above)."""
    from lora_for_dummies.lora.metadata import lora_metadata

    return lora_metadata("flux", name, rank, alpha, comment=comment, extra=extra,
                         resolution=resolution, variant=variant)


def save_flux_lora(path: str | Path, modules: dict[str, LoraModule], variant: str,
                   comment: str = "", dtype: Any = None, overwrite: bool = False) -> Path:
    """Write `modules` ({kohya name: LoraModule}) with Flux metadata; dim / alpha in the
    metadata are the largest module's (kohya's convention for a file of one rank)."""
    path = Path(path)
    largest = max(modules.values(), key=lambda m: m.rank) if modules else None
    metadata = flux_lora_metadata(variant, path.stem, largest.rank if largest else 0,
                                  largest.alpha if largest else 0.0, comment)
    return save_lora(path, modules, metadata, dtype=dtype, overwrite=overwrite)
