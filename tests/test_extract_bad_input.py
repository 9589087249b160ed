"""Extraction refuses what it cannot do, with one clear line, and never half-writes a file."""

from __future__ import annotations

import pickle
import shutil

import pytest
from lora_fixtures import write_tuned

from lora_for_dummies.errors import UserError
from lora_for_dummies.extract.run import ExtractSettings, extract_lora
from lora_for_dummies.lora.lowrank import RankRule


@pytest.fixture(scope="module")
def tuned_sd1(tiny_models, tmp_path_factory):
    path = tmp_path_factory.mktemp("t") / "tuned.safetensors"
    write_tuned(tiny_models["sd1"], path)
    return path


def _refused(base, tuned, out, match, **settings):
    with pytest.raises(UserError, match=match) as err:
        extract_lora(base, tuned, out.parent, out.stem,
                     ExtractSettings(**settings) if settings else None)
    assert "\n" not in str(err.value)
    assert not out.exists()


def test_two_families(tiny_models, tmp_path):
    _refused(tiny_models["sd1"], tiny_models["sdxl"], tmp_path / "x.safetensors", "same family")


def test_inpainting_against_normal(tiny_models, tmp_path):
    _refused(tiny_models["sd1"], tiny_models["sd1_inpaint"], tmp_path / "x.safetensors",
             "inpainting")


def test_lora_given_as_checkpoint(tiny_models, tuned_sd1, tmp_path):
    extract_lora(tiny_models["sd1"], tuned_sd1, tmp_path, "lora")
    _refused(tiny_models["sd1"], tmp_path / "lora.safetensors", tmp_path / "y.safetensors",
             "this is a LoRA")


def test_identical_files_and_no_difference(tiny_models, tmp_path):
    _refused(tiny_models["sd1"], tiny_models["sd1"], tmp_path / "x.safetensors", "same file")
    copy = tmp_path / "copy.safetensors"
    shutil.copy(tiny_models["sd1"], copy)
    _refused(tiny_models["sd1"], copy, tmp_path / "x.safetensors", "no difference")


def test_truncated_and_malicious_files(tiny_models, tmp_path):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(tiny_models["sd1"].read_bytes()[:2_000_000])
    _refused(tiny_models["sd1"], cut, tmp_path / "x.safetensors", "truncated")
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"state_dict": Evil()}))
    _refused(tiny_models["sd1"], evil, tmp_path / "x.safetensors", "refused")
    assert not marker.exists()


def test_rank_zero_and_too_large(tiny_models, tuned_sd1, tmp_path):
    _refused(tiny_models["sd1"], tuned_sd1, tmp_path / "x.safetensors", "rank = 0 is out of range",
             rule=RankRule(rank=0))
    _refused(tiny_models["sd1"], tuned_sd1, tmp_path / "x.safetensors", "larger than every layer",
             rule=RankRule(rank=100_000))


@pytest.mark.parametrize("name", ["../escape", "sub/dir", "a\\b", "..", ""])
def test_bad_output_names(tiny_models, tuned_sd1, tmp_path, name):
    lora_dir = tmp_path / "Lora"
    lora_dir.mkdir()
    with pytest.raises(UserError, match="LoRA name"):
        extract_lora(tiny_models["sd1"], tuned_sd1, lora_dir, name)
    assert list(tmp_path.rglob("*.safetensors")) == []


def test_existing_output_needs_overwrite(tiny_models, tuned_sd1, tmp_path):
    out = tmp_path / "mine.safetensors"
    out.write_bytes(b"precious")
    _refused_existing = pytest.raises(UserError, match="already exists")
    with _refused_existing:
        extract_lora(tiny_models["sd1"], tuned_sd1, out.parent, out.stem)
    assert out.read_bytes() == b"precious"
    extract_lora(tiny_models["sd1"], tuned_sd1, out.parent, out.stem, overwrite=True)
    assert out.read_bytes() != b"precious"
