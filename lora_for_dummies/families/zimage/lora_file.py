"""Writing a Z-Image LoRA: `diffusion_model.<diffusers module>.lora_A / .lora_B.weight` and
`.alpha` (`keys.py` says why these names), through the project's one LoRA writer
(`lora.format.save_lora`: atomic, every tensor finite, one alpha, kohya's hashes).

Metadata as musubi-tuner writes it for Z-Image (kohya-ss/musubi-tuner `src/musubi_tuner/utils/
sai_model_spec.py`): `modelspec.architecture` "Z-Image/lora", `modelspec.implementation`
Tongyi-MAI's repository, resolution 1024x1024, no prediction type and no encoder layer; its
network module is `networks.lora_zimage`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lora_for_dummies.lora.format import LoraModule, save_lora

NETWORK_MODULE = "networks.lora_zimage"
ARCHITECTURE = "Z-Image"
IMPLEMENTATION = "https://github.com/Tongyi-MAI/Z-Image"


def save_zimage_lora(path: str | Path, modules: dict[str, LoraModule], comment: str = "",
                     dtype: Any = None, overwrite: bool = False) -> Path:
    """Write `modules` ({file module name: LoraModule}) with Z-Image metadata; dim / alpha in
    the metadata are the largest module's (kohya's convention for a file of one rank)."""
    from lora_for_dummies.lora.metadata import lora_metadata

    path = Path(path)
    largest = max(modules.values(), key=lambda m: m.rank) if modules else None
    metadata = lora_metadata("zimage", path.stem, largest.rank if largest else 0,
                             largest.alpha if largest else 0.0, comment=comment)
    return save_lora(path, modules, metadata, dtype=dtype, overwrite=overwrite, peft_names=True)
