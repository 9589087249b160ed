"""A LoRA from two Flux transformers (a fine-tune and its base), streamed one weight pair at a
time as the SD extraction does (`extract/run.py`: its checks, factorisation, part report,
metadata comment and sidecar), written with `lora_unet_<BFL module>` keys by
`lora_file.save_flux_lora`. `Flux.extract` (the plug-in's hook) calls it."""

from __future__ import annotations

from pathlib import Path

from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import UserError
from lora_for_dummies.extract.run import (
    NO_DIFFERENCE,
    ExtractReport,
    ExtractSettings,
    check_extraction,
    extraction_comment,
    factor_module,
    judge_parts,
    save_dtype,
    write_extraction_sidecar,
)
from lora_for_dummies.families.flux.keys import extraction_pairs
from lora_for_dummies.families.flux.layout import recognise_flux
from lora_for_dummies.families.flux.lora_file import save_flux_lora
from lora_for_dummies.lora.format import LoraModule
from lora_for_dummies.lora.targets import Target
from lora_for_dummies.progress import Reporter

PART = "transformer"
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
    base_layout, tuned_layout = recognise_flux(base), recognise_flux(tuned)
    pairs = extraction_pairs(base_layout, tuned_layout, modulation)
    reporter = reporter or Reporter()
    report = ExtractReport(notes=[SEPARATE_ENCODERS] if settings.text_encoders else [])
    modules: dict[str, LoraModule] = {}
    norms = [0.0, 0.0]
    reporter.start(len(pairs), f"Extracting {output.stem}")
    with CheckpointFile(base) as base_file, CheckpointFile(tuned) as tuned_file:
        for index, pair in enumerate(pairs, start=1):
            if reporter.should_stop():
                raise UserError("extraction stopped; nothing was written")
            weight = base_file.get(pair.base_key).to(settings.device, torch.float32)
            delta = tuned_file.get(pair.tuned_key).to(settings.device, torch.float32) - weight
            weight_norm, delta_norm = float(weight.norm()), float(delta.norm())
            target = Target(PART, pair.base_key, pair.name, pair.base_key, None, False)
            module_report, module = factor_module(target, weight_norm, delta, delta_norm,
                                                  settings)
            report.modules.append(module_report)
            norms[0] += delta_norm ** 2
            norms[1] += weight_norm ** 2
            if module is not None:
                modules[pair.name] = module
            reporter.step(index, pair.name)
    judge_parts(report, {PART: norms}, settings, modules)
    if not modules:
        raise UserError(NO_DIFFERENCE)
    comment = extraction_comment(base, tuned, settings)
    output.parent.mkdir(parents=True, exist_ok=True)  # the Lora folder itself, never deeper
    save_flux_lora(output, modules, base_layout.variant, comment, dtype=save_dtype(settings),
                   overwrite=overwrite)
    write_extraction_sidecar(output, family, comment, preview)
    report.output = str(output)
    reporter.finish(f"saved {output.name}")
    return report
