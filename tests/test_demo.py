"""A first run with nothing installed: the demo workspace, and finding a webui's models."""

from __future__ import annotations

import torch

from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.config import load_toml
from lora_for_dummies.dataset.layout import open_dataset
from lora_for_dummies.demo import DEMO_MODEL, DEMO_PRESET, find_webui_models, prepare_demo
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.extract_controller import ExtractController


def test_demo_workspace_is_a_real_model_and_dataset(tmp_path):
    model = prepare_demo(tmp_path)
    assert model.name == DEMO_MODEL and inspect_checkpoint(model).family == "sd1"
    dataset = open_dataset(tmp_path / "datasets" / "demo dog")
    originals = dataset.folder(dataset.concept(""), "originals")
    assert len(list(originals.glob("*.jpg"))) == 6 and dataset.concept("").token == "sks"
    before = model.stat().st_mtime_ns
    prepare_demo(tmp_path)  # idempotent: nothing rewritten
    assert model.stat().st_mtime_ns == before
    host = StandaloneHost(tmp_path)
    from lora_for_dummies.demo import DEMO_FILES

    assert ExtractController(host).checkpoint_titles() == list(DEMO_FILES)


def test_demo_dataset_arrives_processed_captioned_and_with_its_trigger_word(tmp_path):
    prepare_demo(tmp_path)
    dataset = open_dataset(tmp_path / "datasets" / "demo dog")
    concept = dataset.concept("")
    for which, side in (("high", 768), ("low", 512)):
        folder = dataset.folder(concept, which)
        images = sorted(folder.glob("*.png"))
        assert len(images) == 6, which
        for image in images:
            caption = image.with_suffix(".txt").read_text(encoding="utf-8")
            assert caption.startswith("sks, dog, "), (image, caption)
        from PIL import Image

        with Image.open(images[0]) as first:
            assert first.size == (side, side)
    assert concept.token == "sks" and concept.repeats == 2


def test_demo_preset_trains_at_512_px_with_an_8x_latent(tmp_path):
    """The demo model has SD's VAE geometry: 512 px → 64×64 latents, so a step takes about a
    second on one CPU core (a 2× VAE gave 256×256 latents, and minutes per step)."""
    from lora_for_dummies.checkpoints.models import load_models
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    model = prepare_demo(tmp_path)
    vae = load_models(model, components=["vae"]).models["vae"]
    with torch.no_grad():
        latent = vae.encode(torch.zeros(1, 3, 512, 512)).latent_dist.mean
    assert latent.shape == (1, 4, 64, 64)
    job = load_toml(TrainJob, tmp_path / "runs" / "presets" / f"{DEMO_PRESET}.toml")
    assert job.training.resolution == 512 and job.model.base == str(model)
    assert job.concepts[0].token == "sks" and job.concepts[0].folder.endswith("HIGHRES_CONCEPT")
    job.training.steps, job.samples.enabled, job.save.every = 2, False, 0
    result = Trainer(job, tmp_path / "Lora", None).run()
    assert result.lora and (tmp_path / "Lora" / "demo_dog.safetensors").is_file()


def test_finds_the_models_of_a_webui_install(tmp_path):
    root = tmp_path / "stable-diffusion-webui"
    (root / "models" / "Stable-diffusion").mkdir(parents=True)
    inside = root / "extensions" / "lora-for-dummies"
    inside.mkdir(parents=True)
    models, loras = find_webui_models(inside)
    assert models == root / "models" / "Stable-diffusion" and loras == root / "models" / "Lora"


def test_the_demo_brings_a_pair_so_extract_can_be_tried(tmp_path):
    """Issue 23: nothing gave a beginner a second checkpoint. The demo has a fine-tune of its
    model; the Extract tab turns the pair into a LoRA that reproduces the change; the Train tab
    still opens on the demo's base (two models listed)."""
    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.lora.format import load_lora
    from lora_for_dummies.progress import Reporter
    from lora_for_dummies.ui import train_form
    from lora_for_dummies.ui.extract_controller import ExtractController

    prepare_demo(tmp_path)
    host = StandaloneHost(tmp_path)
    base, tuned = [entry.title for entry in host.checkpoints()][:2]
    assert base.startswith("demo-tiny-sd1 (") and tuned.startswith("demo-tiny-sd1-finetuned")
    assert train_form.base_title(host) == base
    rows, summary = ExtractController(host).extract(
        base, tuned, "demo diff", 8, "fixed", 0.9, 0, True, False, 0, "cpu", "fp16", False,
        Reporter())
    modules, _ = load_lora(host.lora_dir() / "demo diff.safetensors")
    written = [row for row in rows if not row[6]]
    assert modules and len(written) == len(modules)
    assert max(float(row[5]) for row in written) < 0.05  # the rank-8 change, reproduced
    assert "<lora:demo diff:1>" in summary  # and how to use it
    prepare_demo(tmp_path)  # a second start keeps everything as it is
    assert len(host.checkpoints()) == 4


def test_the_demo_brings_a_flux_pair_and_lists_no_part_as_a_model(tmp_path):
    """The tiny Flux pair sits in models/flux/ with T5's tokenizer; its CLIP-L, T5 and VAE in
    models/text_encoder and models/VAE, where Flux training finds them and no list offers
    them as base models. Extract turns the pair into a LoRA that reproduces the change."""
    from lora_for_dummies.demo import DEMO_FLUX_MODEL, DEMO_FLUX_TUNED
    from lora_for_dummies.families.flux import parts
    from lora_for_dummies.progress import Reporter
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.ui import train_form

    prepare_demo(tmp_path)
    models = tmp_path / "models"
    host = StandaloneHost(tmp_path)
    titles = [entry.title for entry in host.checkpoints()]
    assert titles[2:] == [DEMO_FLUX_MODEL, DEMO_FLUX_TUNED]
    assert not any(t.startswith(("text_encoder/", "VAE/")) for t in titles)
    assert train_form.base_title(host) == DEMO_MODEL  # the Train tab still opens on SD's
    job = TrainJob()
    job.model.base = str(models / DEMO_FLUX_MODEL)
    found = parts.find_parts(job.model)
    assert {k: v.relative_to(models).as_posix() for k, v in found.items()} == {
        "text_encoder": "text_encoder/clip_l.safetensors",
        "text_encoder_2": "text_encoder/t5xxl_demo.safetensors", "vae": "VAE/ae.safetensors"}
    assert parts.tokenizer_folder(job.model) == str(models / "flux" / "tokenizer_2")
    assert inspect_checkpoint(models / DEMO_FLUX_TUNED).family == "flux"
    rows, summary = ExtractController(host).extract(
        DEMO_FLUX_MODEL, DEMO_FLUX_TUNED, "demo flux diff", 8, "fixed", 0.9, 0, True, False, 0,
        "cpu", "fp16", False, Reporter())
    written = [row for row in rows if not row[6]]
    assert len(written) == 26 and max(float(row[5]) for row in written) < 0.01, summary
    assert (host.lora_dir() / "demo flux diff.safetensors").is_file()


def test_serve_demo_says_once_that_the_samples_are_noise(tmp_path, capsys):
    """Issue 23: the start-up lines said "samples are noise" twice (the model's file name says
    it, and the line said it again). Once, through the real `lfd serve --demo`."""
    import socket

    import gradio as gr

    from lora_for_dummies.cli import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        assert main(["serve", "--demo", "--data-dir", str(tmp_path), "--port", str(port),
                     "--no-block"]) == 0
    finally:
        gr.close_all()
    out = capsys.readouterr().out
    assert out.count("samples are noise") == 1, out
    assert f"demo workspace ready: {DEMO_MODEL} and the dataset 'demo dog'\n" in out, out
