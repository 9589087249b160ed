"""The extraction of a transformer family (Flux, Z-Image, Anima), once: each target's base and
tuned weights read one at a time, their difference factored (`run.factor_module`), the part
judged (`run.judge_parts`), then the family's writer, the metadata comment and the sidecar.
A family gives its targets, how to read a target's weight from each file, and how to save."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lora_for_dummies.checkpoints.hashing import HashAhead
from lora_for_dummies.cpu_threads import ThreadGovernor
from lora_for_dummies.errors import UserError
from lora_for_dummies.extract.run import (
    NO_DIFFERENCE,
    ExtractReport,
    ExtractSettings,
    extraction_comment,
    factor_module,
    judge_parts,
    save_dtype,
    write_extraction_sidecar,
)
from lora_for_dummies.lora.format import LoraModule
from lora_for_dummies.lora.targets import Target
from lora_for_dummies.progress import Reporter

PART = "transformer"
Read = Callable[[str], Any]  # a target's key → its fp32 weight on the extraction's device
Save = Callable[[Path, dict[str, LoraModule], str, Any], None]  # (output, modules, comment,
# dtype): the family's LoRA writer


def extract_transformer(base: Path, tuned: Path, output: Path, family: str,
                        targets: list[tuple[str, str]], read_base: Read, read_tuned: Read,
                        save: Save, settings: ExtractSettings, reporter: Reporter | None,
                        notes: list[str], preview: str | Path | None) -> ExtractReport:
    """Write `output` holding tuned − base over `targets` ([(LoRA module name, weight key)]),
    with its sidecar; `notes` go into the report (what the family left out, and why)."""
    reporter = reporter or Reporter()
    hashes = HashAhead((tuned, base))  # beside the reading below, not a second pass after
    report = ExtractReport(notes=list(notes))
    modules: dict[str, LoraModule] = {}
    norms = [0.0, 0.0]
    reporter.start(len(targets), f"Extracting {output.stem}")
    with ThreadGovernor() as governor:
        for index, (name, key) in enumerate(targets, start=1):
            if reporter.should_stop():
                raise UserError("extraction stopped; nothing was written")
            governor.update()  # torch's threads follow the idle cores (the hash holds one)
            weight = read_base(key)
            delta = read_tuned(key) - weight
            weight_norm, delta_norm = float(weight.norm()), float(delta.norm())
            module_report, module = factor_module(Target(PART, key, name, key, None, False),
                                                  weight_norm, delta, delta_norm, settings)
            report.modules.append(module_report)
            norms[0] += delta_norm ** 2
            norms[1] += weight_norm ** 2
            if module is not None:
                modules[name] = module
            reporter.step(index, name)
    judge_parts(report, {PART: norms}, settings, modules)
    if not modules:
        raise UserError(NO_DIFFERENCE)
    comment = extraction_comment(base, tuned, settings, hashes)
    output.parent.mkdir(parents=True, exist_ok=True)  # the Lora folder itself, never deeper
    save(output, modules, comment, save_dtype(settings))
    write_extraction_sidecar(output, family, comment, preview)
    report.output = str(output)
    reporter.finish(f"saved {output.name}")
    return report
