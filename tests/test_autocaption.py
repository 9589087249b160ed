"""Auto-captioning: the standalone BLIP path on a real (tiny) model, modes, and refusals."""

from __future__ import annotations

import pytest
from imagegen import photo, save
from tiny_blip import WORDS, write_tiny_blip

from lora_for_dummies.dataset.autocaption import BlipFolderCaptioner, merge_caption, run_autocaption
from lora_for_dummies.errors import UserError


@pytest.fixture(scope="module")
def blip_folder(tmp_path_factory):
    return write_tiny_blip(tmp_path_factory.mktemp("blip"))


def test_blip_from_a_local_folder_captions_images(blip_folder, tmp_path):
    high, low = tmp_path / "HIGHRES_CONCEPT", tmp_path / "LOWRES_CONCEPT"
    images = [save(photo(64, 64, i), high / f"{i}.png") for i in range(3)]
    for i in range(3):
        save(photo(32, 32, i), low / f"{i}.png")
    (high / "1.txt").write_text("kept caption")
    report = run_autocaption(images, BlipFolderCaptioner(blip_folder), mode="skip",
                             mirrors=[low])
    assert report.written == ["0.png", "2.png"] and report.skipped == ["1.png"]
    caption = (high / "0.txt").read_text(encoding="utf-8")
    assert caption and all(word in WORDS or word.startswith("##") for word in caption.split())
    assert (low / "0.txt").read_text(encoding="utf-8") == caption
    assert (high / "1.txt").read_text() == "kept caption"


def test_modes():
    assert merge_caption("sks, dog", "a dog on grass", "skip") is None
    assert merge_caption("", "a dog", "skip") == "a dog"
    assert merge_caption("sks, dog", "a dog on grass", "append") == "sks, dog, a dog on grass"
    assert merge_caption("sks, dog", "a dog on grass", "overwrite") == "a dog on grass"
    with pytest.raises(UserError):
        run_autocaption([], None, mode="replace")  # type: ignore[arg-type]


def test_no_model_folder_says_so(tmp_path):
    with pytest.raises(UserError, match="no BLIP model"):
        BlipFolderCaptioner("")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="not a BLIP captioning model"):
        BlipFolderCaptioner(tmp_path)
