"""Never overwrite unasked, never write a broken LoRA, one line instead of a traceback."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
from safetensors.torch import save_file
from train_fixtures import tiny_job

from lora_for_dummies.cli import main
from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.format import LoraModule, load_lora, save_lora
from lora_for_dummies.train.loop import Trainer


def _lora(path, up_scale=1.0, alpha=2.0):
    generator = torch.Generator().manual_seed(0)
    modules = {"lora_unet_a": LoraModule(torch.randn(2, 4, generator=generator),
                                         torch.randn(4, 2, generator=generator) * up_scale,
                                         alpha)}
    return save_lora(path, modules, {"ss_output_name": path.stem})


def _refused(capsys, argv, *needles):
    assert main(argv) == 2
    # progress lines (rewritten in place with \r) may come first; the error is one line
    lines = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()
    errors = [line for line in lines if "error" in line.lower() or "Traceback" in line]
    err = lines[-1]
    assert errors == [err] and err.startswith("error: "), lines
    for needle in needles:
        assert needle in err, err
    return err


def test_lora_tools_refuse_non_finite_factors_and_weights(tmp_path, capsys):
    lora = _lora(tmp_path / "a.safetensors")
    for factor in ("nan", "inf", "-inf", "0", "-1"):
        _refused(capsys, ["rescale", "--output", str(tmp_path / "out.safetensors"), "--",
                          str(lora), factor], "strength factor")
    _refused(capsys, ["merge", str(lora), str(lora), "--weights", "nan", "1", "--output",
                      str(tmp_path / "out.safetensors")], "weight 1")
    _refused(capsys, ["merge", str(lora), str(lora), "--weights", "1", "inf", "--output",
                      str(tmp_path / "out.safetensors")], "weight 2")
    assert not (tmp_path / "out.safetensors").exists()


def test_every_writer_checks_finite_before_the_rename(tmp_path, capsys):
    lora = _lora(tmp_path / "a.safetensors")
    # A factor that is finite, but whose result overflows fp16 (the saved dtype).
    huge = _lora(tmp_path / "huge.safetensors", up_scale=60000.0)
    _refused(capsys, ["rescale", str(huge), "50", "--output", str(tmp_path / "out.safetensors")],
             "lora_unet_a.lora_up.weight holds NaN or infinity", "nothing was written")
    with pytest.raises(UserError, match="alpha must be positive"):
        _lora(tmp_path / "zero.safetensors", alpha=0.0)
    broken = {"lora_unet_a": LoraModule(torch.full((2, 4), float("nan")), torch.ones(4, 2), 2.0)}
    with pytest.raises(UserError, match="lora_unet_a.lora_down.weight holds NaN"):
        save_lora(tmp_path / "b.safetensors", broken, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "huge.safetensors"]
    # The best-step pick and the step → latest copy go through the same check.
    from lora_for_dummies.lora.format import copy_lora

    raw = tmp_path / "raw-000001.safetensors"
    save_file({"lora_unet_a.lora_down.weight": torch.full((2, 4), float("inf")),
               "lora_unet_a.lora_up.weight": torch.ones(4, 2),
               "lora_unet_a.alpha": torch.tensor(2.0)}, str(raw))
    with pytest.raises(UserError, match="holds NaN or infinity"):
        copy_lora(raw, tmp_path / "raw.safetensors")
    assert not (tmp_path / "raw.safetensors").exists()
    assert load_lora(lora)[0]


def test_outputs_are_not_created_in_missing_folders_or_under_other_suffixes(tmp_path, capsys):
    lora = _lora(tmp_path / "a.safetensors")
    _refused(capsys, ["rescale", str(lora), "0.5", "--output",
                      str(tmp_path / "no" / "such" / "out.safetensors")], "does not exist")
    assert not (tmp_path / "no").exists()
    _refused(capsys, ["resize", str(lora), "--rank", "1", "--output",
                      str(tmp_path / "missing" / "r.safetensors")], "does not exist")
    for suffix in (".ckpt", ".pt", ".bin", ""):
        _refused(capsys, ["rescale", str(lora), "0.5", "--output",
                          str(tmp_path / f"out{suffix}")], ".safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]


def test_lora_info_flags_shape_mismatch_and_bad_alpha(tmp_path, capsys):
    path = tmp_path / "odd.safetensors"
    save_file({"lora_unet_a.lora_down.weight": torch.ones(2, 4),
               "lora_unet_a.lora_up.weight": torch.ones(4, 3),
               "lora_unet_a.alpha": torch.tensor(2.0),
               "lora_unet_b.lora_down.weight": torch.ones(2, 4),
               "lora_unet_b.lora_up.weight": torch.ones(4, 2),
               "lora_unet_b.alpha": torch.tensor(-1.0)}, str(path))
    assert main(["lora-info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "different ranks, e.g. lora_unet_a: up [4, 3], down [2, 4]" in out
    assert "alpha that is not a positive number, e.g. lora_unet_b: alpha -1" in out


def test_extraction_names_the_tensor_holding_nan(tiny_models, tmp_path, capsys):
    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(tiny_models["sd1"]) as file:
        state = {k: file.get(k).clone() for k in file.keys()}
        metadata = dict(file.metadata)
    key = next(k for k in state if k.endswith("attn1.to_q.weight"))
    state[key][0, 0] = float("nan")
    tuned = tmp_path / "tuned.safetensors"
    save_file(state, str(tuned), metadata=metadata)
    _refused(capsys, ["extract", str(tiny_models["sd1"]), str(tuned), "--name", "x",
                      "--lora-dir", str(tmp_path / "Lora"), "--rank", "2"],
             f"tuned.safetensors: the tensor {key} holds NaN or infinity")
    _refused(capsys, ["extract", str(tiny_models["sd1"]), str(tuned), "--name", "x",
                      "--lora-dir", str(tmp_path / "Lora"), "--clamp", "1.5"],
             "clamp = 1.5 is out of range")
    if not torch.cuda.is_available():
        _refused(capsys, ["extract", str(tiny_models["sd1"]), str(tuned), "--name", "x",
                          "--lora-dir", str(tmp_path / "Lora"), "--device", "cuda"],
                 "no CUDA GPU")
    assert not (tmp_path / "Lora" / "x.safetensors").exists()


def test_a_new_run_never_replaces_a_lora_it_did_not_make(tiny_models, tmp_path, capsys):
    from lora_for_dummies.config import save_toml

    lora_dir = tmp_path / "Lora"
    lora_dir.mkdir()
    theirs = _lora(lora_dir / "tiny.safetensors")
    step = _lora(lora_dir / "tiny-000300.safetensors")
    before = theirs.read_bytes()
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=1, samples={"enabled": False})
    with pytest.raises(UserError, match="Resume to continue that run, choose another name, or "
                                        "allow overwriting"):
        Trainer(job, lora_dir).run()
    assert theirs.read_bytes() == before and step.exists()
    job_file = tmp_path / "job.toml"
    save_toml(job, job_file)
    _refused(capsys, ["train", str(job_file)], "tiny.safetensors already in")
    assert theirs.read_bytes() == before
    # --overwrite: the user asked to replace tiny.safetensors; a file merely named like a step
    # of it was not written by a run of this name, so it stays (runs/tiny records its files).
    step_bytes = step.read_bytes()
    assert main(["train", str(job_file), "--overwrite"]) == 0
    assert theirs.read_bytes() != before and step.read_bytes() == step_bytes
    # The self-check runs with samples off too (keys and finite; no images to compare).
    check = json.loads((lora_dir / "tiny.selfcheck.json").read_text())
    assert check["passed"] and check["image_difference"] is None and check["unmatched"] == []
    # Resuming the same run is no new run: allowed without --overwrite.
    assert main(["train", str(job_file), "--resume", "--set", "training.steps=2"]) == 0


def test_unwritable_folders_are_found_before_training(tiny_models, tmp_path, capsys):
    from lora_for_dummies.config import save_toml
    from lora_for_dummies.train import guard

    blocked = tmp_path / "Lora"
    blocked.write_text("a file where the Lora folder should be", encoding="utf-8")
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=1, samples={"enabled": False})
    job_file = tmp_path / "job.toml"
    save_toml(job, job_file)
    _refused(capsys, ["train", str(job_file)], "Lora folder", "not writable",
             "nothing was trained")
    assert not (tmp_path / "runs" / "tiny" / "log.jsonl").exists()
    with pytest.raises(UserError, match="one save needs"):
        guard.check_room([tmp_path], 1 << 62)


def test_written_files_follow_the_umask_and_leftovers_are_cleaned(tiny_models, tmp_path):
    old = os.umask(0o022)
    try:
        job = tiny_job(tiny_models["sd1"], tmp_path, steps=1, samples={"enabled": False})
        lora_dir = tmp_path / "Lora"
        lora_dir.mkdir()
        leftover = lora_dir / ".lfd-tiny.safetensors.abc123.tmp"
        leftover.write_bytes(b"half a LoRA")
        os.utime(leftover, (1, 1))  # a killed job's file, long untouched
        fresh = lora_dir / ".lfd-other.safetensors.def456.tmp"
        fresh.write_bytes(b"being written right now")
        trainer = Trainer(job, lora_dir)
        trainer.run()
        assert not leftover.exists() and fresh.exists()
        assert any("removed 1 unfinished" in line for line in trainer.reporter.state.log)
        for path in [*lora_dir.iterdir(), tmp_path / "runs" / "tiny" / "config.toml"]:
            if path != fresh:
                assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
        os.umask(0o002)
        from lora_for_dummies.atomic import write_text_atomic

        write_text_atomic(tmp_path / "shared.txt", "x")
        assert stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode) == 0o664
    finally:
        os.umask(old)


def test_every_lora_writer_cleans_what_a_killed_write_left(tmp_path):
    """Rescale, resize, merge, conversion and the best-step pick all write through `save_lora`
    / `copy_lora`: a temp file a killed write left in that folder goes; a fresh one stays."""
    from lora_for_dummies.lora import tools
    from lora_for_dummies.lora.format import copy_lora

    def leftovers():
        old = tmp_path / ".lfd-x.safetensors.abc123.tmp"
        old.write_bytes(b"half a LoRA")
        os.utime(old, (1, 1))
        fresh = tmp_path / ".lfd-y.safetensors.def456.tmp"
        fresh.write_bytes(b"being written right now")
        return old, fresh

    module = LoraModule(torch.randn(2, 8), torch.randn(8, 2), 2.0)
    source = save_lora(tmp_path / "a.safetensors", {"lora_unet_x": module}, {})
    old, fresh = leftovers()
    modules, metadata = load_lora(source)
    tools.save_like(tmp_path / "a-half.safetensors", tools.rescale(modules, 0.5), metadata, "")
    assert not old.exists() and fresh.exists()
    old, fresh = leftovers()
    copy_lora(source, tmp_path / "picked.safetensors")
    assert not old.exists() and fresh.exists()


def test_a_dead_writers_temporary_file_goes_at_once(tmp_path):
    """Issue 22: a kill's `.lfd-*.tmp` stayed until a write 120 s later. The writer's process
    id is in the name: a dead one's file is removed by the next job at once, a live writer's
    fresh file (this process's, another running process's) stays."""
    import subprocess
    import sys

    from lora_for_dummies.atomic import atomic_path, remove_leftovers

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = int(child.stdout)
    killed = tmp_path / f".lfd-x.safetensors.{dead}.abcd1234.tmp"
    killed.write_bytes(b"half a LoRA")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        busy = tmp_path / f".lfd-y.safetensors.{alive.pid}.abcd1234.tmp"
        busy.write_bytes(b"being written right now")
        with atomic_path(tmp_path / "z.txt") as mine:
            assert f".{os.getpid()}." in mine.name  # ours carry our process id
            mine.write_bytes(b"z")
            removed = remove_leftovers(tmp_path)
            assert mine.exists()
        assert removed == [killed.name] and busy.exists() and not killed.exists()
    finally:
        alive.kill()
        alive.wait()
