"""A run deletes and replaces only the files it recorded writing (runs/<name>/lora_files.json),
never files that merely match `<name>-<digits>.safetensors` (issue 22, finding 5)."""

from __future__ import annotations

import hashlib

import pytest
import torch
from train_fixtures import tiny_job

from lora_for_dummies.cli import main
from lora_for_dummies.config import save_toml
from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.format import LoraModule, save_lora
from lora_for_dummies.train.loop import Trainer
from lora_for_dummies.train.run_files import RunFiles


def _other_lora(path, seed=0):
    generator = torch.Generator().manual_seed(seed)
    modules = {"lora_unet_a": LoraModule(torch.randn(2, 4, generator=generator),
                                         torch.randn(4, 2, generator=generator), 2.0)}
    return save_lora(path, modules, {"ss_output_name": path.stem})


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file()}


def test_keep_last_and_resume_leave_other_loras_alone(tiny_models, tmp_path):
    """The finding: keep-last 1 deleted `rtdog-1.safetensors` (another LoRA) and the resume
    overwrote a separate `rtdog-000006.safetensors`."""
    lora_dir = tmp_path / "Lora"
    lora_dir.mkdir()
    other = _other_lora(lora_dir / "rtdog-1.safetensors", 1)
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=4, samples={"enabled": False},
                   save={"name": "rtdog", "every": 2, "keep_last": 1})
    Trainer(job, lora_dir).run()
    assert other.exists(), "keep-last deleted another LoRA"
    assert (lora_dir / "rtdog-000004.safetensors").exists()
    assert not (lora_dir / "rtdog-000002.safetensors").exists()  # its own old step: pruned
    # someone else's file appears under a name the resumed run would save
    theirs = _other_lora(lora_dir / "rtdog-000006.safetensors", 2)
    before = _hashes(lora_dir)
    job_file = tmp_path / "job.toml"
    save_toml(job, job_file)
    assert main(["train", str(job_file), "--resume", "--set", "training.steps=6"]) == 2
    after = _hashes(lora_dir)
    assert after == before  # refused before training: nothing changed
    theirs.unlink()
    assert main(["train", str(job_file), "--resume", "--set", "training.steps=6"]) == 0
    assert other.exists() and (lora_dir / "rtdog-000006.safetensors").exists()
    assert _hashes(lora_dir)["rtdog-1.safetensors"] == before["rtdog-1.safetensors"]


def test_a_foreign_file_at_an_unplanned_step_is_kept_and_the_step_still_saved(tiny_models,
                                                                               tmp_path):
    """A stop at step 3 saves `<name>-000003`: a file of that name the run did not write is
    kept, and the step goes to `<name>.safetensors` only, saying so."""
    from lora_for_dummies.train.saving import save_step

    lora_dir = tmp_path / "Lora"
    lora_dir.mkdir()
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=4, save={"name": "dog", "keep_last": 1})
    theirs = _other_lora(lora_dir / "dog-000003.safetensors", 3)
    before = theirs.read_bytes()
    modules = {"lora_unet_a": LoraModule(torch.ones(2, 4), torch.ones(4, 2), 2.0)}
    notes: list[str] = []
    save_step(lora_dir, job, 3, modules, {}, "sd1", None, False, notes)
    assert theirs.read_bytes() == before
    assert (lora_dir / "dog.safetensors").exists() and "belongs to another LoRA" in notes[0]
    save_step(lora_dir, job, 4, modules, {}, "sd1", None, True, notes)
    assert theirs.read_bytes() == before  # keep-last 1 prunes only the run's own steps


def test_a_file_replaced_by_the_user_is_no_longer_the_runs(tmp_path):
    lora_dir, run_dir = tmp_path / "Lora", tmp_path / "runs" / "x"
    lora_dir.mkdir()
    mine = _other_lora(lora_dir / "x-000002.safetensors")
    files = RunFiles(run_dir, lora_dir, "x")
    files.record(mine)
    assert RunFiles(run_dir, lora_dir, "x").steps() == [(2, mine)]
    mine.unlink()
    _other_lora(mine, 5)  # the user put another file there
    assert RunFiles(run_dir, lora_dir, "x").steps() == []
    assert not RunFiles(run_dir, lora_dir, "x").remove(mine) and mine.exists()


def test_a_broken_record_owns_nothing(tmp_path):
    lora_dir, run_dir = tmp_path / "Lora", tmp_path / "runs" / "x"
    lora_dir.mkdir()
    run_dir.mkdir(parents=True)
    mine = _other_lora(lora_dir / "x-000002.safetensors")
    (run_dir / "lora_files.json").write_bytes(b"\xff\xfe{not json")
    assert RunFiles(run_dir, lora_dir, "x").steps() == [] and mine.exists()


def test_runs_of_earlier_versions_are_adopted_from_their_metadata(tiny_models, tmp_path):
    lora_dir = tmp_path / "Lora"
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=2, samples={"enabled": False},
                   save={"name": "old", "every": 1})
    Trainer(job, lora_dir).run()
    (job.run_dir / "lora_files.json").unlink()  # as an earlier version left it
    stranger = _other_lora(lora_dir / "old-000007.safetensors")
    adopted = RunFiles(job.run_dir, lora_dir, "old")
    assert [s for s, _ in adopted.steps()] == [1, 2] and not adopted.owns(stranger)


def test_overwrite_refuses_a_foreign_file_the_new_run_would_write(tiny_models, tmp_path):
    lora_dir = tmp_path / "Lora"
    lora_dir.mkdir()
    _other_lora(lora_dir / "tiny.safetensors")
    theirs = _other_lora(lora_dir / "tiny-000002.safetensors", 9)
    before = theirs.read_bytes()
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=2, samples={"enabled": False})
    with pytest.raises(UserError, match="was not written by run 'tiny'"):
        Trainer(job, lora_dir, overwrite=True).run()
    assert theirs.read_bytes() == before
