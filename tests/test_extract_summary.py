"""Extraction's summary counts what the file holds: unchanged modules are not written, and the
summary line says so (it used to count them as kept)."""

from __future__ import annotations

from lora_fixtures import write_tuned

from lora_for_dummies.checkpoints.detect import detect_family
from lora_for_dummies.checkpoints.models import resolve_configs
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.checkpoints.write import save_state_dict
from lora_for_dummies.extract.run import extract_lora
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.lora.targets import extraction_targets


def test_summary_counts_only_the_modules_written(tiny_models, tmp_path):
    base = tiny_models["sd1"]
    changed = tmp_path / "changed.safetensors"
    write_tuned(base, changed)
    # The fine-tune left proj_in / proj_out as they were (as in the reported case).
    with CheckpointFile(base) as file:
        family = detect_family(file)
        configs = resolve_configs(file, family)
        original = {k: file.get(k).clone() for k in file.keys()}
    untouched = {t.key for t in extraction_targets(family, configs, True, False)
                 if t.part == "unet" and ("proj_in" in t.name or "proj_out" in t.name)}
    assert untouched
    with CheckpointFile(changed) as file:
        state = {k: (original[k] if k in untouched else file.get(k).clone())
                 for k in file.keys()}
        metadata = dict(file.metadata)
    tuned = tmp_path / "tuned.safetensors"
    save_state_dict(state, tuned, metadata)

    report = extract_lora(base, tuned, tmp_path / "Lora", "partly")
    modules, _ = load_lora(tmp_path / "Lora" / "partly.safetensors")
    in_file = sum(1 for name in modules if name.startswith("lora_unet_"))
    unet = report.parts["unet"]
    assert unet["written"] == in_file and unet["unchanged"] == len(untouched)
    assert unet["modules"] == in_file + len(untouched)
    [line] = [line for line in report.summary() if line.startswith("unet:")]
    assert line.startswith(f"unet: {in_file} modules written ({len(untouched)} unchanged, "
                           "not written)"), line
