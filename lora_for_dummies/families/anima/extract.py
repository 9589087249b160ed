"""A LoRA from two Anima DiTs (a fine-tune and its base), streamed one weight at a time as the
other extractions are (`extract/run.py`: checks, factorisation, part report, metadata comment,
sidecar), written with kohya's `lora_unet_<native module>` names (`keys.py`) through the
project's one LoRA writer. `Anima.extract` (the plug-in's hook) calls it."""

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
from lora_for_dummies.families.anima.keys import extraction_targets
from lora_for_dummies.families.anima.layout import AnimaLayout, recognise_anima
from lora_for_dummies.lora.format import LoraModule, save_lora
from lora_for_dummies.lora.targets import Target
from lora_for_dummies.progress import Reporter

PART = "transformer"
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
    targets = extraction_targets(base_layout.config)
    reporter = reporter or Reporter()
    report = ExtractReport(notes=[SEPARATE_ENCODER] if settings.text_encoders else [])
    modules: dict[str, LoraModule] = {}
    norms = [0.0, 0.0]
    reporter.start(len(targets), f"Extracting {output.stem}")
    with CheckpointFile(base) as base_file, CheckpointFile(tuned) as tuned_file:
        for index, target in enumerate(targets, start=1):
            if reporter.should_stop():
                raise UserError("extraction stopped; nothing was written")
            weight = base_file.get(base_layout.prefix + target.key).to(settings.device,
                                                                       torch.float32)
            delta = tuned_file.get(tuned_layout.prefix + target.key).to(
                settings.device, torch.float32) - weight
            weight_norm, delta_norm = float(weight.norm()), float(delta.norm())
            module_report, module = factor_module(
                Target(PART, target.key, target.name, target.key, None, False), weight_norm,
                delta, delta_norm, settings)
            report.modules.append(module_report)
            norms[0] += delta_norm ** 2
            norms[1] += weight_norm ** 2
            if module is not None:
                modules[target.name] = module
            reporter.step(index, target.name)
    judge_parts(report, {PART: norms}, settings, modules)
    if not modules:
        raise UserError(NO_DIFFERENCE)
    comment = extraction_comment(base, tuned, settings)
    output.parent.mkdir(parents=True, exist_ok=True)  # the Lora folder itself, never deeper
    largest = max(modules.values(), key=lambda m: m.rank)
    metadata = lora_metadata("anima", output.stem, largest.rank, largest.alpha, comment=comment)
    save_lora(output, modules, metadata, dtype=save_dtype(settings), overwrite=overwrite)
    write_extraction_sidecar(output, family, comment, preview)
    report.output = str(output)
    reporter.finish(f"saved {output.name}")
    return report
