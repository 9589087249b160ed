"""A LoRA from two Anima DiTs (a fine-tune and its base), streamed one weight at a time as every
transformer family's is (`extract/stream.py`: factorisation, part report, metadata comment,
sidecar), written with kohya's `lora_unet_<native module>` names (`keys.py`) through the
project's one LoRA writer. `Anima.extract` (the plug-in's hook) calls it."""

from __future__ import annotations

from pathlib import Path

from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import UserError
from lora_for_dummies.extract.run import ExtractReport, ExtractSettings, check_extraction
from lora_for_dummies.extract.stream import extract_transformer
from lora_for_dummies.families.anima.keys import extraction_targets
from lora_for_dummies.families.anima.layout import AnimaLayout, recognise_anima
from lora_for_dummies.lora.format import save_lora
from lora_for_dummies.progress import Reporter

SEPARATE_ENCODER = ("text encoder: not part of an Anima extraction (Qwen3-0.6B is a separate "
                    "file; the LLM adapter is left as it is)")


def check_pair(base: AnimaLayout, tuned: AnimaLayout) -> None:
    if base.config != tuned.config:
        raise UserError("the two Anima DiTs differ in size: extract between a fine-tune and its "
                        "own base")


def largest_rank(layout: AnimaLayout) -> int:
    return max(min(t.shape) for t in extraction_targets(layout.config))


def extract_anima_lora(base: str | Path, tuned: str | Path, lora_dir: str | Path, name: str,
                       settings: ExtractSettings | None = None,
                       reporter: Reporter | None = None, overwrite: bool = False,
                       preview: str | Path | None = None) -> ExtractReport:
    """Write `<lora_dir>/<name>.safetensors` (and its sidecar) holding tuned − base over every
    Linear of the DiT's blocks."""
    import torch

    from lora_for_dummies.lora.metadata import lora_metadata

    settings = settings or ExtractSettings()
    output, family, _ = check_extraction(base, tuned, lora_dir, name, settings, overwrite)
    base_layout, tuned_layout = recognise_anima(base), recognise_anima(tuned)
    check_pair(base_layout, tuned_layout)
    targets = [(t.name, t.key) for t in extraction_targets(base_layout.config)]

    def save(path: Path, modules: dict, comment: str, dtype: object) -> None:
        largest = max(modules.values(), key=lambda m: m.rank)
        metadata = lora_metadata("anima", path.stem, largest.rank, largest.alpha,
                                 comment=comment)
        save_lora(path, modules, metadata, dtype=dtype, overwrite=overwrite)

    with CheckpointFile(base) as base_file, CheckpointFile(tuned) as tuned_file:
        return extract_transformer(
            Path(base), Path(tuned), output, family, targets,
            lambda key: base_file.get(base_layout.prefix + key).to(settings.device,
                                                                   torch.float32),
            lambda key: tuned_file.get(tuned_layout.prefix + key).to(settings.device,
                                                                     torch.float32),
            save, settings, reporter, [SEPARATE_ENCODER] if settings.text_encoders else [],
            preview)
