"""Zero terminal SNR next to v-prediction (NoobAI-XL V-Pred): detected from the file, trained
on diffusers' rescaled schedule with a finite min-SNR weight at the last step, sampled on the
same schedule with CFG rescale, and recorded in the LoRA's metadata."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from imagegen import photo, save
from PIL import Image
from safetensors import safe_open

from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.checkpoints.synthetic import write_random_checkpoint
from lora_for_dummies.errors import UserError
from lora_for_dummies.train import training_utils
from lora_for_dummies.train.config import SampleConfig, TrainingConfig
from lora_for_dummies.train.objective import diffusion_loss, min_snr_weights
from lora_for_dummies.train.prediction import Prediction
from lora_for_dummies.train.sampling import SAMPLER_NAMES, make_scheduler

ROOT = Path(__file__).resolve().parent.parent
VPRED_ZTSNR = Prediction(v=True, zero_terminal_snr=True)


@pytest.fixture(scope="module")
def noobai_vpred(tmp_path_factory) -> Path:
    """A tiny SDXL file carrying the `v_pred` and `ztsnr` markers, as NoobAI-XL V-Pred does."""
    folder = tmp_path_factory.mktemp("vpred")
    return write_random_checkpoint(folder / "tiny-noobai-vpred.safetensors", "sdxl", seed=11,
                                   markers=("v_pred", "ztsnr"))


def test_markers_are_detected_and_a_plain_sdxl_is_neither(noobai_vpred, tiny_models):
    info = inspect_checkpoint(noobai_vpred, compute_hash=False)
    assert (info.prediction, info.zero_terminal_snr) == ("v", True)
    assert "v_pred marker" in info.prediction_source
    assert "ztsnr marker" in info.zero_terminal_snr_source
    assert info.variant == "SDXL base v-prediction zero terminal SNR"
    assert ("Zero terminal SNR", "yes (the file has a ztsnr marker)") in info.rows()
    plain = inspect_checkpoint(tiny_models["sdxl"], compute_hash=False)
    assert (plain.prediction, plain.zero_terminal_snr) == ("epsilon", False)
    assert ("Zero terminal SNR", "no (no ztsnr marker, metadata or .yaml says so)") in \
        plain.rows()
    overridden = inspect_checkpoint(noobai_vpred, compute_hash=False,
                                    zero_terminal_snr_override=False)
    assert not overridden.zero_terminal_snr and overridden.zero_terminal_snr_source == \
        "set by you"


def test_yaml_and_metadata_say_so_too(tiny_models, tmp_path):
    beside = tmp_path / "vpred-yaml.safetensors"
    shutil.copy(tiny_models["sdxl"], beside)
    beside.with_suffix(".yaml").write_text(
        "model:\n  params:\n    parameterization: \"v\"\n    zero_terminal_snr: true\n")
    info = inspect_checkpoint(beside, compute_hash=False)
    assert (info.prediction, info.zero_terminal_snr) == ("v", True)
    assert info.zero_terminal_snr_source == "from vpred-yaml.yaml"
    # An ε file that claims zero terminal SNR is flagged: that pair cannot train.
    claimed = tmp_path / "claimed.safetensors"
    write_random_checkpoint(claimed, "sd1", seed=3, markers=("ztsnr",))
    info = inspect_checkpoint(claimed, compute_hash=False)
    assert info.zero_terminal_snr and info.prediction == "epsilon"
    assert any("set v-prediction" in w for w in info.warnings)


def test_inspect_cli_shows_it_and_takes_an_override(noobai_vpred):
    def run(*extra: str) -> str:
        out = subprocess.run([sys.executable, "-m", "lora_for_dummies", "inspect", "--no-hash",
                              str(noobai_vpred), *extra], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "Zero terminal SNR    yes (the file has a ztsnr marker)" in run()
    assert "Zero terminal SNR    no (set by you)" in run("--zero-terminal-snr", "no")


def test_training_schedule_is_diffusers_rescaled_one():
    from diffusers import DDPMScheduler

    ours = make_scheduler("ddpm", VPRED_ZTSNR)
    reference = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              prediction_type="v_prediction", rescale_betas_zero_snr=True)
    torch.testing.assert_close(ours.alphas_cumprod, reference.alphas_cumprod)
    assert ours.alphas_cumprod[-1] == 0  # α_T = 0: the last step is pure noise
    last = torch.tensor([999, 500, 0])
    snr = training_utils.compute_snr(ours, last)
    assert snr[0] == 0 and snr[1] > 0
    weights = min_snr_weights(ours, last, 5.0, v_prediction=True)
    assert torch.isfinite(weights).all() and weights[0] == 0
    assert torch.isfinite(min_snr_weights(ours, last, 5.0, v_prediction=False)).all()
    # without zero terminal SNR the schedule is the usual one (α_T > 0)
    assert make_scheduler("ddpm", Prediction(v=True)).alphas_cumprod[-1] > 1e-3


def test_loss_at_the_last_timestep_is_finite_with_min_snr():
    scheduler = make_scheduler("ddpm", VPRED_ZTSNR)
    latents, noise = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    timesteps = torch.tensor([999, 999])
    prediction = torch.randn(2, 4, 8, 8)
    loss = diffusion_loss(prediction, latents, noise, timesteps, scheduler, True,
                          TrainingConfig(min_snr_gamma=5.0), 2)
    assert torch.isfinite(loss)


@pytest.mark.parametrize("sampler", sorted(SAMPLER_NAMES))
def test_every_sampler_starts_from_pure_noise(sampler):
    scheduler = make_scheduler(sampler, VPRED_ZTSNR)
    assert scheduler.config.rescale_betas_zero_snr  # an option the scheduler really took
    assert float(scheduler.alphas_cumprod[-1]) < 1e-6
    scheduler.set_timesteps(10)
    assert int(scheduler.timesteps[0]) == 999  # trailing spacing: the first step is t = T


def test_stand_ins_equal_diffusers_helpers(monkeypatch):
    """The formulas used where diffusers.training_utils cannot import (the webui set) give
    what diffusers' own functions give where it can."""
    scheduler = make_scheduler("ddpm", VPRED_ZTSNR)
    timesteps = torch.tensor([0, 10, 500, 998, 999])
    utils = training_utils._diffusers_training_utils()
    monkeypatch.setattr(training_utils, "_diffusers_training_utils", lambda: None)
    fallback = training_utils.compute_snr(scheduler, timesteps)
    layer = torch.nn.Linear(2, 2).half()
    layer.bias.requires_grad_(False)
    training_utils.cast_training_params([layer])
    assert layer.weight.dtype == torch.float32 and layer.bias.dtype == torch.float16
    if utils is None:
        pytest.skip("diffusers.training_utils does not import on this set: the formulas are "
                    "checked against it on the others")
    torch.testing.assert_close(fallback, utils.compute_snr(scheduler, timesteps))


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_train_step",
                                                  ROOT / "bench" / "train_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vpred_ztsnr_run_equals_the_reference_and_says_so(noobai_vpred, tmp_path):
    bench = _bench_module()
    images = tmp_path / "one"
    save(photo(96, 80, 3), images / "0.png")
    (images / "0.txt").write_text("sks, dog, photo", encoding="utf-8")
    _, ours = bench.ours(noobai_vpred, images, 64, 6, tmp_path / "run", seed=5, lr=1e-2, rank=4)
    _, reference = bench.reference(noobai_vpred, images, 64, 6, seed=5, lr=1e-2, rank=4,
                                   v_prediction=True, zero_terminal_snr=True)
    _, plain = bench.reference(noobai_vpred, images, 64, 6, seed=5, lr=1e-2, rank=4)
    assert len(set(round(x, 6) for x in reference)) > 1
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(reference), rtol=1e-4,
                               atol=1e-6)
    assert not torch.allclose(torch.tensor(ours), torch.tensor(plain))  # the schedule matters
    with safe_open(str(tmp_path / "run" / "Lora" / "bench-64.safetensors"), "pt") as lora:
        metadata = lora.metadata()
    assert metadata["ss_v_parameterization"] == "True"
    assert metadata["ss_zero_terminal_snr"] == "True"
    assert metadata["modelspec.prediction_type"] == "v"
    assert metadata["ss_base_model_version"].startswith("sdxl_")
    log = (tmp_path / "run" / "bench-64" / "log.jsonl").read_text(encoding="utf-8")
    assert all(json.loads(line) for line in log.splitlines())


def test_epsilon_with_zero_terminal_snr_is_refused(noobai_vpred, tmp_path):
    from train_fixtures import tiny_job

    from lora_for_dummies.train.loop import Trainer

    job = tiny_job(noobai_vpred, tmp_path, steps=1, model={"v_prediction": False})
    with pytest.raises(UserError, match="zero terminal SNR needs v-prediction"):
        Trainer(job, tmp_path / "Lora", device="cpu").run()


def _render(base: Path, prediction: Prediction, rescale: float) -> tuple[np.ndarray, str]:
    from lora_for_dummies.checkpoints.models import load_models
    from lora_for_dummies.train.sampling import SampleContext, infotext, render

    loaded = load_models(base, dtype=torch.float32, device="cpu")
    models = loaded.models
    context = SampleContext("sdxl", models["unet"], models["vae"],
                            [models["text_encoder"], models["text_encoder_2"]], 1, prediction,
                            "m", "", "tiny")
    config = SampleConfig(steps=3, width=64, height=64, cfg=7.0, guidance_rescale=rescale)
    image = render(context, "sks dog", config, 42)
    return np.asarray(image, dtype=np.int16), infotext("sks dog", config, 42, context)


def test_samples_use_the_schedule_and_cfg_rescale(noobai_vpred):
    rescaled, text = _render(noobai_vpred, VPRED_ZTSNR, 0.7)
    plain, plain_text = _render(noobai_vpred, VPRED_ZTSNR, 0.0)
    assert "Noise Schedule: Zero Terminal SNR" in text and "CFG Rescale: 0.7" in text
    assert "CFG Rescale" not in plain_text
    assert np.abs(rescaled - plain).mean() > 0.1  # the rescale changed the picture
    # On a model without zero terminal SNR the field has no effect, as in the webui.
    a, a_text = _render(noobai_vpred, Prediction(v=True), 0.7)
    b, _ = _render(noobai_vpred, Prediction(v=True), 0.0)
    assert np.array_equal(a, b) and "Noise Schedule" not in a_text


def test_best_step_grid_renders_on_the_runs_schedule(noobai_vpred, tmp_path):
    from train_fixtures import tiny_job

    from lora_for_dummies.train.bestgrid import grid_for_run
    from lora_for_dummies.train.loop import Trainer

    job = tiny_job(noobai_vpred, tmp_path, steps=2, samples={"enabled": False},
                   save={"dtype": "fp32"})
    Trainer(job, tmp_path / "Lora", device="cpu").run()
    grid = grid_for_run(tmp_path / "runs", tmp_path / "Lora", "tiny", "sks dog", 1, [1.0], [5.0])
    with Image.open(grid.cells[0].image) as cell:
        parameters = cell.text["parameters"]
    assert "Noise Schedule: Zero Terminal SNR" in parameters and "CFG Rescale: 0.7" in parameters
