"""A LoRA from two Flux transformers (a fine-tune and its base), streamed one weight pair at a
time as every transformer family's is (`extract/stream.py`: factorisation, part report,
metadata comment and sidecar), written with `lora_unet_<BFL module>` keys by
`lora_file.save_flux_lora`. `Flux.extract` (the plug-in's hook) calls it."""

from __future__ import annotations

from pathlib import Path

from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.extract.run import ExtractReport, ExtractSettings, check_extraction
from lora_for_dummies.extract.stream import extract_transformer
from lora_for_dummies.families.flux.keys import extraction_pairs
from lora_for_dummies.families.flux.layout import recognise_flux
from lora_for_dummies.families.flux.lora_file import save_flux_lora
from lora_for_dummies.progress import Reporter

# The Extract tab's and the CLI's text-encoder option is on by default; for Flux it has nothing
# to take, so the report says why instead of a refusal.
SEPARATE_ENCODERS = ("text encoders: not part of a Flux extraction (CLIP-L and T5 are separate "
                     "files that a Flux fine-tune leaves as they are)")


def extract_flux_lora(base: str | Path, tuned: str | Path, lora_dir: str | Path, name: str,
                      settings: ExtractSettings | None = None, reporter: Reporter | None = None,
                      overwrite: bool = False, modulation: bool = True,
                      preview: str | Path | None = None) -> ExtractReport:
    """Write `<lora_dir>/<name>.safetensors` (and its sidecar) holding tuned − base: the
    transformer's default LoRA targets (text encoders are separate files and not part of a
    Flux extraction)."""
    import torch

    settings = settings or ExtractSettings()
    output, family, _ = check_extraction(base, tuned, lora_dir, name, settings, overwrite)
    base_layout = recognise_flux(base)
    pairs = extraction_pairs(base_layout, recognise_flux(tuned), modulation)
    tuned_keys = {pair.base_key: pair.tuned_key for pair in pairs}

    def save(path: Path, modules: dict, comment: str, dtype: object) -> None:
        save_flux_lora(path, modules, base_layout.variant, comment, dtype=dtype,
                       overwrite=overwrite)

    with CheckpointFile(base) as base_file, CheckpointFile(tuned) as tuned_file:
        return extract_transformer(
            Path(base), Path(tuned), output, family, [(p.name, p.base_key) for p in pairs],
            lambda key: base_file.get(key).to(settings.device, torch.float32),
            lambda key: tuned_file.get(tuned_keys[key]).to(settings.device, torch.float32),
            save, settings, reporter, [SEPARATE_ENCODERS] if settings.text_encoders else [],
            preview)
