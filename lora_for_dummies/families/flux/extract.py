"""A LoRA from two Flux transformers (a fine-tune and its base), streamed one weight pair at a
time as the SD extraction does (`extract/run.py`, whose factorisation and part report it uses),
written with `lora_unet_<BFL module>` keys by `lora_file.save_flux_lora`."""

from __future__ import annotations

from pathlib import Path

from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import UserError
from lora_for_dummies.extract.run import (
    ExtractReport,
    ExtractSettings,
    _factor,
    _judge_parts,
)
from lora_for_dummies.families.flux.keys import extraction_pairs
from lora_for_dummies.families.flux.layout import recognise_flux
from lora_for_dummies.families.flux.lora_file import save_flux_lora
from lora_for_dummies.lora.format import LoraModule, output_path
from lora_for_dummies.lora.targets import Target
from lora_for_dummies.progress import Reporter

PART = "transformer"
_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}


def extract_flux_lora(base: str | Path, tuned: str | Path, lora_dir: str | Path, name: str,
                      settings: ExtractSettings | None = None, reporter: Reporter | None = None,
                      overwrite: bool = False, modulation: bool = True) -> ExtractReport:
    """Write `<lora_dir>/<name>.safetensors` holding tuned − base (the transformer's default
    LoRA targets; text encoders are separate files and not part of a Flux extraction)."""
    import torch

    settings = settings or ExtractSettings()
    settings.validate()
    output = output_path(lora_dir, name)
    if output.exists() and not overwrite:
        raise UserError(f"{output.name} already exists; choose another name or allow "
                        "overwriting")
    if Path(base).resolve() == Path(tuned).resolve():
        raise UserError("base and fine-tuned model are the same file")
    base_layout, tuned_layout = recognise_flux(base), recognise_flux(tuned)
    pairs = extraction_pairs(base_layout, tuned_layout, modulation)
    reporter = reporter or Reporter()
    report = ExtractReport()
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
            module_report, module = _factor(target, weight_norm, delta, delta_norm, settings)
            report.modules.append(module_report)
            norms[0] += delta_norm ** 2
            norms[1] += weight_norm ** 2
            if module is not None:
                modules[pair.name] = module
            reporter.step(index, pair.name)
    _judge_parts(report, {PART: norms}, settings, modules)
    if not modules:
        raise UserError("the two models have no difference that a LoRA can hold (identical "
                        "weights in every adaptable layer)")
    comment = (f"extracted by LoRA for Dummies from {Path(tuned).name} minus {Path(base).name}; "
               f"rank rule {settings.rule.mode} {settings.rule.rank}")
    dtype = getattr(torch, _DTYPES.get(settings.save_dtype, "float16"))
    output.parent.mkdir(parents=True, exist_ok=True)  # the Lora folder itself, never deeper
    save_flux_lora(output, modules, base_layout.variant, comment, dtype=dtype,
                   overwrite=overwrite)
    report.output = str(output)
    reporter.finish(f"saved {output.name}")
    return report
