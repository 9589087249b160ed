"""SDXL first: the Performance Wizard's 8 / 12 / 16 / 24 GB tiers (one table, the training
guide's copy kept equal to it), and the model-line hints (clip skip, caption style) with reasons."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from train_fixtures import tiny_job

from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.train.loop import Trainer
from lora_for_dummies.train.vram_tiers import SDXL_TIERS, markdown_table, tier_for
from lora_for_dummies.train.wizard import choose_sdxl

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("reported", "tier"), [(6.0, 8), (7.6, 8), (11.0, 12), (11.9, 12),
                                                (15.7, 16), (23.6, 24), (80.0, 24)])
def test_a_card_gets_the_tier_it_holds(reported, tier):
    assert tier_for(reported).gigabytes == tier


def test_tiers_spend_memory_in_order_and_stay_inside_their_card():
    estimates = [t.estimated_gb for t in SDXL_TIERS]
    assert estimates == sorted(estimates)
    for tier in SDXL_TIERS:
        assert tier.estimated_gb < tier.gigabytes * 0.98, tier.name
    eight = SDXL_TIERS[0]
    assert (eight.train_text_encoder, eight.gradient_checkpointing, eight.optimizer,
            eight.batch_size, eight.resolution) == (False, "full", "adamw8bit", 1, 1024)


def test_the_training_guide_shows_the_table_in_the_code():
    guide = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    assert markdown_table() in guide
    assert "(estimate)" in markdown_table()  # nothing measured yet: every figure says so


def test_wizard_explains_each_choice_and_falls_back_without_bitsandbytes():
    choice = choose_sdxl(8.0, bf16=False, eight_bit=True)
    assert choice.settings["training.precision"] == "fp16"
    assert choice.settings["optimizer.name"] == "adamw8bit"
    assert choice.settings["training.cache_text_encoder"] is True
    assert "estimate" in choice.label and "8 GB tier" in choice.label
    assert any("bf16 needs an RTX 30xx" in r for r in choice.reasons)
    fallback = choose_sdxl(8.0, bf16=True, eight_bit=False)
    assert fallback.settings["optimizer.name"] == "adafactor"
    assert fallback.settings["training.precision"] == "bf16"
    assert any("bitsandbytes" in r for r in fallback.reasons)
    small = choose_sdxl(6.0, bf16=True, eight_bit=True)
    assert "below what SDXL LoRA training needs" in small.reasons[0]


@pytest.mark.parametrize("gigabytes", [8, 16, 24])
def test_a_tier_trains_on_the_tiny_sdxl(tiny_models, tmp_path, gigabytes):
    """Each combination a tier sets is one the loop runs (on a CPU: fp32, no 8-bit Adam)."""
    choice = choose_sdxl(gigabytes, bf16=False, eight_bit=False)
    job = tiny_job(tiny_models["sdxl"], tmp_path, steps=2, samples={"enabled": False})
    for path, value in choice.settings.items():
        section, key = path.split(".")
        setattr(getattr(job, section), key, value)
    job.training.precision, job.training.resolution = "fp32", 64
    result = Trainer(job, tmp_path / "Lora", device="cpu").run()
    assert result.step == 2 and result.lora.exists()


def test_model_lines_are_hints_with_reasons(tiny_models, tmp_path):
    pony = tmp_path / "ponyDiffusionV6XL.safetensors"
    shutil.copy(tiny_models["sdxl"], pony)
    info = inspect_checkpoint(pony, compute_hash=False)
    assert info.model_line == "Pony" and info.clip_skip == 2
    assert "Pony Diffusion's card" in info.clip_skip_reason
    assert "score_9" in info.caption_hint
    noob = tmp_path / "noobaiXLVpred10.safetensors"
    shutil.copy(tiny_models["sdxl"], noob)
    info = inspect_checkpoint(noob, compute_hash=False)
    assert info.model_line == "NoobAI" and "booru" in info.caption_hint
    assert ("Model line", "NoobAI (from the name)") in info.rows()
    plain = inspect_checkpoint(tiny_models["sdxl"], compute_hash=False)
    assert plain.model_line == "" and "trigger word" in plain.caption_hint


def test_dataset_tab_shows_the_caption_hint(tiny_models, tmp_path):
    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.ui.caption_hints import caption_hint, captioner_for

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_models["sdxl"], models / "illustriousXL_v01.safetensors")
    host = StandaloneHost(tmp_path / "data", models, tmp_path / "Lora")
    text = caption_hint(host, "illustriousXL_v01.safetensors")
    assert "Illustrious" in text and "booru-style tags" in text and "Clip skip 2" in text
    assert "Choose the model" in caption_hint(host, None)
    # Issue 26: the captioner follows the model line, and the hint says why.
    assert "Auto-caption with the WD14 tagger (v3): Illustrious was trained on booru tags" in text
    assert captioner_for(host, "illustriousXL_v01.safetensors") == "WD14 tagger (v3)"
    from lora_for_dummies.ui.app import standalone_app

    demo = standalone_app(host)  # the only model: the tab opens with WD14 chosen
    chosen = next(b for b in demo.blocks.values()
                  if getattr(b, "elem_id", None) == "lfd_autocaption_model")
    assert chosen.value == "WD14 tagger (v3)"
    shutil.copy(tiny_models["sdxl"], models / "realistic photo.safetensors")
    host = StandaloneHost(tmp_path / "data", models, tmp_path / "Lora")  # lists the new file
    from lora_for_dummies.dataset.florence2 import florence2_missing

    prose = "BLIP" if florence2_missing() else "Florence-2"
    assert captioner_for(host, "realistic photo.safetensors") == prose  # the better one here
    assert f"Auto-caption with the {prose}: no anime model line recognised" in \
        caption_hint(host, "realistic photo.safetensors")
