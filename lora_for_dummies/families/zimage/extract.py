"""A LoRA from two Z-Image transformers (a fine-tune and its base), streamed one weight at a time
as the SD and Flux extractions are (`extract/run.py`: its checks, factorisation, part report,
metadata comment and sidecar), written in the format Forge Neo and ComfyUI load
(`keys.py`: `diffusion_model.<diffusers module>.lora_A / lora_B` + alpha, q / k / v split from
the native fused qkv by rows). `ZImage.extract` (the plug-in's hook) calls it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from lora_for_dummies.families.zimage.keys import Slice, extraction_targets
from lora_for_dummies.families.zimage.layout import ZImageLayout, recognise_zimage
from lora_for_dummies.lora.format import LoraModule
from lora_for_dummies.lora.targets import Target
from lora_for_dummies.progress import Reporter

PART = "transformer"
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
    targets = extraction_targets(base_layout.config)
    reporter = reporter or Reporter()
    report = ExtractReport(notes=[SEPARATE_ENCODER] if settings.text_encoders else [])
    modules: dict[str, LoraModule] = {}
    norms = [0.0, 0.0]
    reporter.start(len(targets), f"Extracting {output.stem}")
    with CheckpointFile(base) as base_file, CheckpointFile(tuned) as tuned_file:
        base_reader, tuned_reader = _Reader(base_file, base_layout), \
            _Reader(tuned_file, tuned_layout)
        for index, target in enumerate(targets, start=1):
            if reporter.should_stop():
                raise UserError("extraction stopped; nothing was written")
            key = target.module + ".weight"
            weight = base_reader.get(key, settings.device)
            delta = tuned_reader.get(key, settings.device) - weight
            weight_norm, delta_norm = float(weight.norm()), float(delta.norm())
            module_report, module = factor_module(
                Target(PART, key, target.name, key, None, False), weight_norm, delta,
                delta_norm, settings)
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
    save_zimage_lora(output, modules, comment, dtype=save_dtype(settings), overwrite=overwrite)
    write_extraction_sidecar(output, family, comment, preview)
    report.output = str(output)
    reporter.finish(f"saved {output.name}")
    return report


def largest_rank(layout: ZImageLayout) -> int:
    """The largest rank any extraction target can hold (its smaller side)."""
    return max(min(t.shape) for t in extraction_targets(layout.config))
