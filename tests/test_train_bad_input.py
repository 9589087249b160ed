"""Training refuses bad jobs with one clear line, and never loses a good save."""

from __future__ import annotations

import pytest
from train_fixtures import tiny_job

from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.loop import Trainer


def _refused(job_or_dict, tmp_path, match):
    with pytest.raises(UserError, match=match):
        job = job_or_dict if isinstance(job_or_dict, TrainJob) else TrainJob.from_dict(
            job_or_dict)
        Trainer(job, tmp_path / "Lora").run()


def test_empty_concept_folder(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    job.concepts[0].folder = str(empty)
    _refused(job, tmp_path, "has no images")


def test_images_without_captions_use_the_instance_prompt(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=1)
    trainer = Trainer(job, tmp_path / "Lora")
    trainer.run()
    assert any("1 images without a caption use 'sks'" in line
               for line in trainer.reporter.state.log)


def test_unknown_model_and_lora_as_base(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path)
    job.model.base = str(tmp_path / "missing.safetensors")
    _refused(job, tmp_path, "file not found")
    lora = tmp_path / "a_lora.safetensors"
    first = tiny_job(tiny_models["sd1"], tmp_path / "first", steps=1)
    Trainer(first, tmp_path / "first" / "Lora").run()
    lora.write_bytes((tmp_path / "first" / "Lora" / "tiny.safetensors").read_bytes())
    job.model.base = str(lora)
    _refused(job, tmp_path, "this is a LoRA")


def test_sd2_without_v_flag_is_asked(tiny_models, tmp_path):
    from safetensors.torch import save_file

    from lora_for_dummies.checkpoints.reader import CheckpointFile

    with CheckpointFile(tiny_models["sd2v"]) as file:
        state = {k: file.get(k) for k in file.keys()}
        metadata = {k: v for k, v in file.metadata.items() if k.startswith("lfd.")}
    plain = tmp_path / "sd2.safetensors"
    save_file(state, str(plain), metadata=metadata)
    _refused(tiny_job(plain, tmp_path), tmp_path, "set model.v_prediction")
    job = tiny_job(plain, tmp_path, steps=1, model={"v_prediction": True})
    assert Trainer(job, tmp_path / "Lora").run().step == 1


@pytest.mark.parametrize("changes,match", [
    ({"training": {"resolution": 100}}, r"training.resolution = 100 is out of range: 64–4096"),
    ({"training": {"resolution": 72}}, r"training.resolution \(with buckets\) = 72 .*of 64"),
    ({"network": {"rank": 0}}, "network.rank = 0 is out of range"),
    ({"training": {"steps": 0}}, "training.steps = 0 is out of range"),
    ({"save": {"name": "../escape"}}, "may not contain path separators"),
    ({"samples": {"width": 100}}, "samples.width = 100 is out of range: 64–4096, a multiple of 8"),
    ({"optimizer": {"name": "sgd"}}, "optimizer must be one of"),
])
def test_invalid_settings(tiny_models, tmp_path, changes, match):
    _refused(tiny_job(tiny_models["sd1"], tmp_path, **changes), tmp_path, match)


def test_unknown_setting_is_an_error(tmp_path):
    with pytest.raises(UserError, match="unknown setting training.stpes"):
        TrainJob.from_dict({"training": {"stpes": 5}})
    with pytest.raises(UserError, match="expected int"):
        TrainJob.from_dict({"training": {"steps": "many"}})


def test_rank_larger_than_a_layer_is_capped_by_peft_or_refused(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=1, network={"rank": 4096})
    _refused(job, tmp_path, "rank 4096 is larger than")


def test_disk_full_while_saving_keeps_the_previous_lora(tiny_models, tmp_path, monkeypatch):
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=4)
    trainer = Trainer(job, tmp_path / "Lora")
    import safetensors.torch

    real_save = safetensors.torch.save_file
    calls = []

    def fail_second(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_save(tensors, filename, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", fail_second)
    with pytest.raises(UserError, match="no space left on the disk"):  # one line (os_errors)
        trainer.run()
    modules, metadata = load_lora(tmp_path / "Lora" / "tiny.safetensors")
    assert metadata["ss_steps"] == "2" and modules
    assert not [p for p in (tmp_path / "Lora").iterdir() if p.name.endswith(".tmp")]
