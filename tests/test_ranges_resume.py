"""Every numeric setting has a range (one table), and a resume continues the same run only."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import save_file
from train_fixtures import tiny_job

from lora_for_dummies.errors import CheckpointError, UserError
from lora_for_dummies.train.loop import Trainer

# The values the issue found accepted; each must be refused when the job is built.
REFUSED_TRAIN = [
    ({"training": {"resolution": 0}}, "training.resolution = 0"),
    ({"training": {"resolution": -64}}, "training.resolution = -64"),
    ({"training": {"resolution": 65536}}, "training.resolution = 65536"),
    ({"model": {"clip_skip": 99}}, "model.clip_skip = 99"),
    ({"samples": {"width": 0}}, "samples.width = 0"),
    ({"training": {"seed": 2**70}}, f"training.seed = {2**70}"),
    ({"training": {"seed": -1}}, "training.seed = -1"),
    ({"samples": {"seed": 2**32}}, f"samples.seed = {2**32}"),
    ({"network": {"alpha": 0.0}}, "network.alpha = 0.0"),
    ({"network": {"alpha": float("nan")}}, "network.alpha = nan"),
    ({"training": {"batch_size": 10**9}}, "training.batch_size = 1000000000"),
    ({"save": {"keep_last": -1}}, "save.keep_last = -1"),
    ({"save": {"every": -5}}, "save.every = -5"),
    ({"training": {"caption_dropout": 5.0}}, "training.caption_dropout = 5.0"),
    ({"optimizer": {"warmup": -3.0}}, "optimizer.warmup = -3.0"),
    ({"optimizer": {"cycles": 0}}, "optimizer.cycles = 0"),
    ({"training": {"max_token_chunks": 0}}, "training.max_token_chunks = 0"),
    ({"optimizer": {"unet_lr": float("inf")}}, "optimizer.unet_lr = inf"),
    ({"concepts": [{"folder": "x", "repeats": -1}]}, "concepts[0].repeats = -1"),
]


@pytest.mark.parametrize("changes,field", REFUSED_TRAIN)
def test_out_of_range_train_settings_name_field_value_and_range(tiny_models, tmp_path,
                                                                changes, field):
    job = tiny_job(tiny_models["sd1"], tmp_path, **changes)
    with pytest.raises(UserError) as err:
        job.validate()
    message = str(err.value)
    assert message.startswith(field) and ("range" in message or "finite" in message), message
    assert "\n" not in message


def test_the_same_table_guards_processing_extraction_tools_and_best_step(tmp_path):
    from lora_for_dummies.dataset.process import ProcessSettings
    from lora_for_dummies.extract.run import ExtractSettings
    from lora_for_dummies.lora.lowrank import RankRule
    from lora_for_dummies.ranges import RANGES, check_value

    for settings, field in ((ProcessSettings(high=65536), "settings.high = 65536"),
                            (ProcessSettings(low=72, crop="bucket"), "settings.low (bucket"),
                            (ProcessSettings(quality=0), "settings.quality = 0")):
        with pytest.raises(UserError, match=field.replace("(", r"\(")):
            settings.validate()
    for settings, field in ((ExtractSettings(clamp=1.5), "clamp = 1.5"),
                            (ExtractSettings(rule=RankRule(rank=0)), "rank = 0"),
                            (ExtractSettings(rule=RankRule(mode="energy", threshold=2.0)),
                             "threshold = 2.0")):
        with pytest.raises(UserError, match=field):
            settings.validate()
    with pytest.raises(UserError, match="best.seed"):
        check_value("best.seed", 2**40)
    assert all(r.low <= r.high for r in RANGES.values())


def test_the_cli_refuses_processing_65536_before_allocating(tmp_path, capsys):
    from lora_for_dummies.cli import main
    from lora_for_dummies.dataset.layout import create_dataset

    create_dataset(tmp_path / "datasets", "d")
    assert main(["dataset", "--datasets-dir", str(tmp_path / "datasets"), "process", "d",
                 "--high", "65536"]) == 2
    assert "high = 65536 is out of range: 64–4096" in capsys.readouterr().err


@pytest.mark.parametrize("header,reason", [
    ({"__metadata__": ["a", "b"]}, "__metadata__ must map text to text"),
    ({"__metadata__": {"a": 1}}, "__metadata__ must map text to text"),
    ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}, "offsets must be"),
    ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0.5, 4.5]}}, "offsets must be"),
    ({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, "shape must be"),
    ({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}, "shape must be"),
    ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}, "offsets must be"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, "overlap"),
])
def test_the_reader_refuses_bad_headers(tmp_path, header, reason):
    import struct

    from lora_for_dummies.checkpoints.reader import CheckpointFile

    raw = json.dumps(header).encode()
    path = tmp_path / "crafted.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(16))
    with pytest.raises(CheckpointError, match=reason):
        CheckpointFile(path)


def _quiet(tiny_models, tmp_path, **changes):
    changes["save"] = {"every": 2, **changes.get("save", {})}
    changes["training"] = {"steps": 4, **changes.get("training", {})}
    return tiny_job(tiny_models["sd1"], tmp_path, samples={"enabled": False}, **changes)


class Killed(Exception):
    """The process dies: nothing after this point is saved."""


def _stopped_at_two(tiny_models, tmp_path):
    job = _quiet(tiny_models, tmp_path)
    trainer = Trainer(job, tmp_path / "Lora")
    real_step = trainer.reporter.step

    def killed_after_three(done, text=""):
        real_step(done, text)
        if done == 3:  # step 3 is logged, then lost with the killed process
            raise Killed
    trainer.reporter.step = killed_after_three
    with pytest.raises(Killed):
        trainer.run()
    return job  # the state on disk is the save of step 2


@pytest.mark.parametrize("changes,field", [
    ({"network": {"rank": 8}}, "network.rank: 16 → 8"),
    ({"network": {"train_text_encoder": False}}, "network.train_text_encoder: True → False"),
    ({"training": {"seed": 8}}, "training.seed: 7 → 8"),
    ({"training": {"resolution": 128}}, "training.resolution: 64 → 128"),
    ({"optimizer": {"name": "adafactor"}}, "optimizer.name: 'adamw' → 'adafactor'"),
    ({"model": {"v_prediction": True}}, "model.v_prediction: None → True"),
    ({"model": {"zero_terminal_snr": True}}, "model.zero_terminal_snr: None → True"),
])
def test_resume_refuses_changes_that_make_another_lora(tiny_models, tmp_path, changes, field):
    _stopped_at_two(tiny_models, tmp_path)
    changed = _quiet(tiny_models, tmp_path, **changes)
    with pytest.raises(UserError, match="cannot resume") as err:
        Trainer(changed, tmp_path / "Lora").run(resume=True)
    assert field in str(err.value)


def test_resume_refuses_another_base_and_accepts_safe_changes(tiny_models, tmp_path):
    from lora_for_dummies.checkpoints.reader import CheckpointFile

    _stopped_at_two(tiny_models, tmp_path)
    # The same file under another name is the same base; another file is not.
    moved = tmp_path / "moved.safetensors"
    moved.write_bytes(tiny_models["sd1"].read_bytes())
    other = tmp_path / "other.safetensors"
    with CheckpointFile(tiny_models["sd1"]) as file:
        state = {k: file.get(k).clone() for k in file.keys()}
        metadata = dict(file.metadata)
    key = next(iter(state))
    state[key] = state[key] + 1
    save_file(state, str(other), metadata=metadata)
    with pytest.raises(UserError, match="trained on a base with sha256"):
        Trainer(_quiet(tiny_models, tmp_path, model={"base": str(other)}),
                tmp_path / "Lora").run(resume=True)
    job = _quiet(tiny_models, tmp_path, model={"base": str(moved)},
                 training={"steps": 5}, save={"every": 1})
    trainer = Trainer(job, tmp_path / "Lora")
    result = trainer.run(resume=True)
    assert result.step == 5 and not result.stopped
    assert any("resuming with changes" in line and "training.steps: 4 → 5" in line
               for line in trainer.reporter.state.log)
    log = [json.loads(line) for line in (tmp_path / "runs" / "tiny" / "log.jsonl").open()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5]  # one line per step
    [event] = [r for r in log if r.get("event") == "resumed"]
    assert "save.every: 2 → 1" in event["changes"]


def test_best_step_checks_its_run_name_and_numbers(tmp_path):
    from lora_for_dummies.train.bestgrid import grid_for_run

    for name, strengths, cfgs, seed, match in (
            ("../x", [1.0], [7.0], None, "may not contain path separators"),
            ("run", [float("nan")], [7.0], None, "strength = nan: must be a finite number"),
            ("run", [1.0], [500.0], None, "CFG = 500.0 is out of range"),
            ("run", [1.0], [7.0], 2**40, f"seed = {2**40} is out of range")):
        with pytest.raises(UserError, match=match.replace("(", r"\(")):
            grid_for_run(tmp_path, tmp_path, name, "", seed, strengths, cfgs)
