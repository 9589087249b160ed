"""An fp32 run on an fp16 file keeps the frozen UNet as stored (half the memory) and computes
the same numbers as a UNet widened at load: layer by layer, and over a whole training run
against the diffusers-example-style reference loop (which widens at load)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch
from imagegen import photo, save
from torch import nn
from train_fixtures import tiny_job

from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint
from lora_for_dummies.progress import Reporter
from lora_for_dummies.train.loop import Trainer
from lora_for_dummies.train.stored_precision import compute_dtype, compute_in

BENCH = Path(__file__).resolve().parent.parent / "bench" / "train_step.py"


@pytest.fixture(scope="module")
def fp16_sd1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_checkpoint(tmp_path_factory.mktemp("fp16") / "tiny-sd1-fp16.safetensors",
                                   "sd1", seed=11, dtype=torch.float16)


def test_layers_compute_the_widened_numbers_and_keep_no_widened_copy():
    torch.manual_seed(0)
    stored = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.GroupNorm(2, 8),
                           nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2), nn.Flatten(),
                           nn.Linear(128, 5)).half().requires_grad_(False)
    widened = copy.deepcopy(stored).float()
    assert compute_in(stored, torch.float32) == 3
    assert compute_dtype(stored) == torch.float32
    assert [p.dtype for p in stored[0].parameters()] == [torch.float16] * 2
    assert [p.dtype for p in stored[1].parameters()] == [torch.float32] * 2  # the norm
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    x_widened = x.detach().clone().requires_grad_(True)
    y, y_widened = stored(x), widened(x_widened)
    assert torch.equal(y, y_widened)
    y.square().sum().backward()
    y_widened.square().sum().backward()
    assert torch.equal(x.grad, x_widened.grad)
    assert all(p.grad is None for p in stored.parameters())

    # what the backward pass holds on to is the stored fp16 weight, not a widened copy
    saved: list[torch.Tensor] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        stored(torch.randn(2, 4, 8, 8, requires_grad=True))
    weights = [t for t in saved if t.shape in {m.weight.shape for m in stored if
                                               isinstance(m, (nn.Linear, nn.Conv2d))}]
    assert weights and all(t.dtype == torch.float16 for t in weights)


def test_on_a_cpu_every_layer_widens_into_one_reused_buffer():
    """A fresh widened tensor per layer and pass is memory the kernel faults in each time; the
    layers share one buffer the size of the largest weight, and a step allocates no other."""
    stored = nn.Sequential(nn.Linear(16, 64), nn.Linear(64, 8)).half().requires_grad_(False)
    compute_in(stored, torch.float32)
    widening = stored[0].lfd_widening
    assert stored[1].lfd_widening is widening and widening.largest == 64 * 16
    x = torch.randn(3, 16, requires_grad=True)
    stored(x).sum().backward()
    buffer = widening._buffer
    assert buffer is not None and buffer.dtype == torch.float32 and buffer.numel() == 64 * 16
    stored(torch.randn(3, 16, requires_grad=True)).sum().backward()
    assert widening._buffer is buffer  # reused, not reallocated
    expected = torch.nn.functional.linear(x.detach(), stored[0].weight.float(),
                                          stored[0].bias.float())
    assert torch.equal(stored[0](x.detach()), expected)


@pytest.mark.parametrize("checkpointing", ["off", "full"])
def test_training_on_an_fp16_file_equals_the_reference_loop(fp16_sd1, tmp_path, checkpointing):
    spec = importlib.util.spec_from_file_location("bench_train_step", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    images = tmp_path / "one"
    save(photo(80, 64, 3), images / "0.png")
    (images / "0.txt").write_text("sks, dog, photo", encoding="utf-8")
    _, ours = bench.ours(fp16_sd1, images, 64, 5, tmp_path / "run", seed=5, lr=1e-2, rank=4,
                         checkpointing=checkpointing)
    _, reference = bench.reference(fp16_sd1, images, 64, 5, seed=5, lr=1e-2, rank=4)
    assert len(set(round(x, 6) for x in reference)) > 1  # the loss moves: a real comparison
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(reference), rtol=1e-5,
                               atol=1e-7)


def test_a_run_keeps_the_unet_as_stored_and_renders_samples(fp16_sd1, tmp_path):
    job = tiny_job(fp16_sd1, tmp_path, steps=2, save={"every": 0})
    reporter = Reporter()
    trainer = Trainer(job, tmp_path / "Lora", reporter=reporter, device="cpu")
    result = trainer.run()
    assert result.lora is not None and "self-check passed" in result.message
    for name in ("unet", "vae", "text_encoder"):
        assert any(f"{name} kept in the file's float16" in line for line in reporter.state.log)
    unet = trainer.accelerator.unwrap_model(trainer.unet)
    frozen = {p.dtype for n, p in unet.named_parameters() if "lora_" not in n and p.dim() > 1}
    trained = {p.dtype for n, p in unet.named_parameters() if "lora_" in n}
    assert frozen == {torch.float16} and trained == {torch.float32}
    assert sorted((job.run_dir / "samples").glob("*.png")), "samples rendered through them"
    vae_weights = {p.dtype for p in trainer.vae.parameters() if p.dim() > 1}
    assert vae_weights == {torch.float16}  # computing in fp32 all the same (no NaN: passed)


def test_a_wider_file_is_widened_at_load_as_before(tiny_models, tmp_path):
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=1, samples={"enabled": False},
                   save={"every": 0})
    reporter = Reporter()
    trainer = Trainer(job, tmp_path / "Lora", reporter=reporter, device="cpu")
    trainer.run()
    assert not any(" kept in the file" in line for line in reporter.state.log)
    unet = trainer.accelerator.unwrap_model(trainer.unet)
    assert {p.dtype for p in unet.parameters()} == {torch.float32}
