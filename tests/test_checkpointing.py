"""Gradient checkpointing off / partial / full: which blocks recompute, and the same LoRA."""

from __future__ import annotations

import pytest
import torch
from train_fixtures import tiny_job

from lora_for_dummies.errors import UserError
from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.loop import Trainer


class CountingForwards(Trainer):
    """Counts forward calls of the first resnet of the outermost and of the inner up block
    during the steps: a checkpointed block runs once more, in the backward pass (up blocks:
    the gradient flows through them to the LoRA layers before them)."""

    def _setup(self) -> None:
        super()._setup()
        self.calls = {"outermost": 0, "inner": 0}
        for where, block in (("outermost", self.unet.up_blocks[-1]),
                             ("inner", self.unet.up_blocks[-2])):
            # A pre-hook: the recomputation stops early, once it has what the backward needs.
            block.resnets[0].register_forward_pre_hook(
                lambda *args, where=where: self.calls.__setitem__(where, self.calls[where] + 1))


@pytest.mark.parametrize("mode,outermost,inner", [("off", 1, 1), ("partial", 2, 1),
                                                   ("full", 2, 2)])
def test_checkpointing_recomputes_the_chosen_blocks_and_trains_the_same_lora(
        tiny_models, tmp_path, mode, outermost, inner):
    quiet = {"samples": {"enabled": False}, "save": {"every": 0}}
    trainer = CountingForwards(tiny_job(tiny_models["sd1"], tmp_path / mode, steps=2, **quiet,
                                        training={"gradient_checkpointing": mode}),
                               tmp_path / mode)
    trainer.run()
    assert trainer.calls == {"outermost": 2 * outermost, "inner": 2 * inner}  # two steps
    if mode == "off":
        return
    reference = Trainer(tiny_job(tiny_models["sd1"], tmp_path / "off", steps=2, **quiet),
                        tmp_path / "off")
    reference.run()
    a, _ = load_lora(tmp_path / mode / "Lora" / "tiny.safetensors")
    b, _ = load_lora(tmp_path / "off" / "Lora" / "tiny.safetensors")
    assert set(a) == set(b)
    for name in a:  # recomputing changes the memory, not the result
        torch.testing.assert_close(a[name].up, b[name].up, rtol=0, atol=1e-6)
        torch.testing.assert_close(a[name].down, b[name].down, rtol=0, atol=1e-6)


def test_jobs_saved_with_a_yes_or_no_still_load(tiny_models, tmp_path):
    base = {"model": {"base": "m.safetensors"}, "concepts": [{"folder": "x"}]}
    for old, new in ((True, "full"), (False, "off")):
        job = TrainJob.from_dict({**base, "training": {"gradient_checkpointing": old}})
        assert job.training.gradient_checkpointing == new
    job = TrainJob.from_dict({**base, "training": {"gradient_checkpointing": "some"}})
    with pytest.raises(UserError, match="gradient checkpointing must be one of off, partial"):
        job.validate()
