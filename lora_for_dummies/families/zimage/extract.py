"""A LoRA from two Z-Image transformers (a fine-tune and its base), streamed one weight at a time
as every transformer family's is (`extract/stream.py`: factorisation, part report,
metadata comment and sidecar), written in the format Forge Neo and ComfyUI load
(`keys.py`: `diffusion_model.<diffusers module>.lora_A / lora_B` + alpha, q / k / v split from
the native fused qkv by rows). `ZImage.extract` (the plug-in's hook) calls it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import UserError
from lora_for_dummies.extract.run import ExtractReport, ExtractSettings, check_extraction
from lora_for_dummies.extract.stream import extract_transformer
from lora_for_dummies.families.zimage.keys import Slice, extraction_targets
from lora_for_dummies.families.zimage.layout import ZImageLayout, recognise_zimage
from lora_for_dummies.progress import Reporter

SEPARATE_ENCODER = ("text encoder: not part of a Z-Image extraction (Qwen3-4B is a separate "
                    "file that a Z-Image fine-tune leaves as it is)")


def check_pair(base: ZImageLayout, tuned: ZImageLayout) -> None:
    """Both transformers of one size (the layout, prefix and names may differ)."""
    if base.config != tuned.config:
        raise UserError(f"the two Z-Image transformers differ in size ({base.config.as_dict()} "
                        f"vs {tuned.config.as_dict()}): extract between a fine-tune and its "
                        "own base")


class _Reader:
    """Reads the diffusers tensors of a target from a file of any naming, each native tensor
    once (q, k and v come from one fused qkv, read together)."""

    def __init__(self, file: CheckpointFile, layout: ZImageLayout) -> None:
        self.file, self.layout = file, layout
        self._held: tuple[str, Any] | None = None

    def get(self, diffusers_key: str, device: str) -> Any:
        import torch

        where: Slice = self.layout.weight(diffusers_key)
        if self._held is None or self._held[0] != where.key:
            self._held = (where.key, self.file.get(where.key).to(device, torch.float32))
        tensor = self._held[1]
        return tensor if where.rows is None else tensor[where.start: where.start + where.rows]


def extract_zimage_lora(base: str | Path, tuned: str | Path, lora_dir: str | Path, name: str,
                        settings: ExtractSettings | None = None,
                        reporter: Reporter | None = None, overwrite: bool = False,
                        preview: str | Path | None = None) -> ExtractReport:
    """Write `<lora_dir>/<name>.safetensors` (and its sidecar) holding tuned − base over every
    Linear of the transformer's blocks."""
    from lora_for_dummies.families.zimage.lora_file import save_zimage_lora

    settings = settings or ExtractSettings()
    output, family, _ = check_extraction(base, tuned, lora_dir, name, settings, overwrite)
    base_layout, tuned_layout = recognise_zimage(base), recognise_zimage(tuned)
    check_pair(base_layout, tuned_layout)
    targets = [(t.name, t.module + ".weight") for t in extraction_targets(base_layout.config)]

    def save(path: Path, modules: dict, comment: str, dtype: object) -> None:
        save_zimage_lora(path, modules, comment, dtype=dtype, overwrite=overwrite)

    with CheckpointFile(base) as base_file, CheckpointFile(tuned) as tuned_file:
        base_reader, tuned_reader = _Reader(base_file, base_layout), \
            _Reader(tuned_file, tuned_layout)
        return extract_transformer(
            Path(base), Path(tuned), output, family, targets,
            lambda key: base_reader.get(key, settings.device),
            lambda key: tuned_reader.get(key, settings.device), save, settings, reporter,
            [SEPARATE_ENCODER] if settings.text_encoders else [], preview)


def largest_rank(layout: ZImageLayout) -> int:
    """The largest rank any extraction target can hold (its smaller side)."""
    return max(min(t.shape) for t in extraction_targets(layout.config))
