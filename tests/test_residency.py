"""The VAE and text encoders leave the training device once everything is cached: on a GPU
all is encoded before step 1; on a CPU latents are encoded as steps first need them."""

from __future__ import annotations

import weakref

import pytest
import torch
from imagegen import photo, save
from train_fixtures import tiny_job

from lora_for_dummies.lora.format import load_lora
from lora_for_dummies.progress import Reporter
from lora_for_dummies.train import residency
from lora_for_dummies.train.loop import Trainer
from lora_for_dummies.train.residency import precache, wanted_latents


class CountingEncodes(Trainer):
    """Counts VAE encodes from the moment the frozen models are parked."""

    def _park_frozen_models(self) -> None:
        super()._park_frozen_models()
        self.encodes = 0

        def count(*args):
            self.encodes += 1

        self.vae.encoder.register_forward_hook(count)


class WatchingLoads(Trainer):
    """Counts, when the UNet loads, how many of the VAE and text encoders still exist."""

    def _park_frozen_models(self) -> None:
        self.frozen_refs = [weakref.ref(m) for m in [self.vae, *self.text_encoders]]
        super()._park_frozen_models()

    def _load_unet(self, dtype):
        self.alive_at_unet_load = sum(ref() is not None for ref in self.frozen_refs)
        return super()._load_unet(dtype)


def test_precache_covers_every_image_bucket_and_caption(tiny_models, tmp_path, fill_first):
    classes = tmp_path / "class"
    for i in range(2):
        save(photo(64, 64, 10 + i), classes / f"{i}.png")
    save(photo(256, 128, 5), tmp_path / "inst" / "wide.png")  # a second bucket at 192 px
    job = tiny_job(tiny_models["sd1"], tmp_path, network={"train_text_encoder": False},
                   training={"resolution": 192},
                   concepts=[{"folder": str(tmp_path / "inst"), "token": "sks",
                              "class_folder": str(classes), "class_prompt": "dog"}])
    trainer = Trainer(job, tmp_path / "Lora")
    trainer._setup()
    data = trainer.data
    buckets = {item.bucket for item in data.items}
    assert len(buckets) == 2 and len(data.class_items) == 2
    expected = {(str(i.path), i.bucket) for i in data.items} | {
        (str(i.path), b) for i in data.class_items for b in buckets}
    assert set(trainer.latents.memory) == expected
    assert len(data.items) > len({i.path for i in data.items})  # repeats: listed 10 times…
    assert precache(data, trainer.latents, None) == len(expected)  # …encoded once
    assert set(trainer.text_cache) == {i.caption for i in data.items + data.class_items}
    assert set(wanted_latents(data)) == expected


def test_training_steps_never_run_the_vae_once_cached(tiny_models, tmp_path, fill_first):
    job = tiny_job(tiny_models["sd1"], tmp_path / "cached", network={"train_text_encoder": False})
    trainer = CountingEncodes(job, tmp_path / "cached" / "Lora")
    result = trainer.run()
    assert trainer.encodes == 0 and result.step == 4
    assert "self-check passed" in result.message  # samples and self-check had the models back
    assert (tmp_path / "cached" / "runs" / "tiny" / "samples" / "000004-0.png").exists()

    # Without a latent cache the VAE is kept and runs every step (the hook does count).
    job = tiny_job(tiny_models["sd1"], tmp_path / "off", training={"cache_latents": "off"})
    trainer = CountingEncodes(job, tmp_path / "off" / "Lora")
    trainer.run()
    assert trainer.encodes == 4 and not trainer.frozen.parked


def test_released_models_change_nothing(tiny_models, tmp_path, fill_first):
    """Without samples on a CPU the VAE and text encoders are released after caching; the
    LoRA is the one a run that kept them and encoded every step trains."""
    quiet = {"network": {"train_text_encoder": False}, "samples": {"enabled": False}}
    released = WatchingLoads(tiny_job(tiny_models["sd1"], tmp_path / "a", **quiet),
                             tmp_path / "a")
    released.run()
    assert released.frozen.released and released.vae is None
    assert released.text_encoders == []
    # …and freed before the UNet loads: the two never share memory.
    assert released.alive_at_unet_load == 0
    kept = WatchingLoads(tiny_job(tiny_models["sd1"], tmp_path / "b", **quiet,
                            training={"cache_latents": "off", "cache_text_encoder": False}),
                   tmp_path / "b")
    kept.run()
    assert not kept.frozen.released and kept.vae is not None
    assert kept.alive_at_unet_load == 2  # the VAE and the text encoder, needed every step
    a, _ = load_lora(tmp_path / "a" / "Lora" / "tiny.safetensors")
    b, _ = load_lora(tmp_path / "b" / "Lora" / "tiny.safetensors")
    assert set(a) == set(b)
    for name in a:
        torch.testing.assert_close(a[name].up, b[name].up, rtol=0, atol=1e-6)
        torch.testing.assert_close(a[name].down, b[name].down, rtol=0, atol=1e-6)


class LatentsAtFirstStep(Reporter):
    def __init__(self, trainer_box: list) -> None:
        super().__init__()
        self.box, self.cached_at_first_step = trainer_box, None

    def step(self, done: int, text: str = "") -> None:
        if done == 1:
            self.cached_at_first_step = len(self.box[0].latents.memory)
        super().step(done, text)


def test_on_a_cpu_training_starts_while_the_cache_fills(tiny_models, tmp_path):
    """Step 1 waits for its own latent only; each picture is still encoded once, the VAE
    goes when the cache is full (no samples), and the LoRA is the one filling first gives."""
    quiet = {"network": {"train_text_encoder": False}, "samples": {"enabled": False}}
    box: list = []
    reporter = LatentsAtFirstStep(box)
    job = tiny_job(tiny_models["sd1"], tmp_path / "a", steps=8, **quiet)
    trainer = WatchingLoads(job, tmp_path / "a" / "Lora", reporter=reporter)
    box.append(trainer)
    encodes = []
    original = trainer._park_frozen_models

    def park_and_count() -> None:
        original()
        trainer.vae.encoder.register_forward_hook(lambda *args: encodes.append(1))

    trainer._park_frozen_models = park_and_count
    trainer.run()
    wanted = wanted_latents(trainer.data)
    assert len(wanted) == 3 and reporter.cached_at_first_step == 1  # batch 1: its own
    assert len(encodes) == len(wanted)  # once each, during the first steps
    assert trainer.alive_at_unet_load == 1  # the VAE, still needed; the text encoder is gone
    assert trainer.vae is None and trainer.filling is None
    assert any("every latent is cached: VAE released" in line for line in reporter.state.log)

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(residency, "fills_during_training", lambda device: False)
    try:
        first = Trainer(tiny_job(tiny_models["sd1"], tmp_path / "b", steps=8, **quiet),
                        tmp_path / "b" / "Lora")
        first.run()
    finally:
        monkeypatch.undo()
    a, _ = load_lora(tmp_path / "a" / "Lora" / "tiny.safetensors")
    b, _ = load_lora(tmp_path / "b" / "Lora" / "tiny.safetensors")
    for name in a:
        assert torch.equal(a[name].up, b[name].up) and torch.equal(a[name].down, b[name].down)
