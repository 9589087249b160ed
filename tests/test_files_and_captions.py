"""Captions in any editor's encoding, and kohya imports that check every folder first."""

from __future__ import annotations

import codecs

import pytest
from imagegen import photo, save

from lora_for_dummies.dataset.captions import read_caption
from lora_for_dummies.errors import UserError

TEXT = "sks, crème brûlée, 猫"


@pytest.mark.parametrize("data,note", [
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), ""),
    (TEXT.encode("utf-8"), ""),
    (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "UTF-16 (with a byte-order mark)"),
    (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "UTF-16 (with a byte-order mark)"),
    (codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), "UTF-32 (with a byte-order mark)"),
    (TEXT.encode("utf-16-le"), "UTF-16-LE (no byte-order mark)"),
])
def test_captions_decode_by_their_byte_order_mark(tmp_path, data, note):
    path = tmp_path / "c.txt"
    path.write_bytes(data)
    caption = read_caption(path)
    assert caption.text == TEXT and "\x00" not in caption.text
    assert note in caption.warning if note else caption.warning == ""


def test_nul_bytes_are_removed_and_reported(tmp_path):
    path = tmp_path / "n.txt"
    path.write_bytes(b"sks,\x00 dog\x00")
    caption = read_caption(path)
    assert caption.text == "sks, dog" and "removed 2 NUL" in caption.warning


def test_processing_saves_a_utf16_caption_as_utf8(tmp_path):
    from lora_for_dummies.dataset.layout import create_dataset
    from lora_for_dummies.dataset.process import ProcessSettings, process_concept

    dataset = create_dataset(tmp_path, "enc")
    originals = dataset.folder(dataset.concept(""), "originals")
    save(photo(200, 150, 0), originals / "0.png")
    (originals / "0.txt").write_bytes(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"))
    import os

    high = dataset.folder(dataset.concept(""), "high")
    leftover = high / ".lfd-0.png.x1y2.tmp"
    leftover.write_bytes(b"half an image")
    os.utime(leftover, (1, 1))  # left by a killed job long ago
    report = process_concept(dataset, dataset.concept(""), ProcessSettings(high=128, low=64))
    assert not leftover.exists()
    written = high / "0.txt"
    assert written.read_bytes() == TEXT.encode("utf-8")
    assert "UTF-16" in "\n".join(report.lines())


def _kohya(root, names):
    for index, name in enumerate(names):
        save(photo(64, 64, index), root / name / f"{index}.png")
    return root


def test_import_kohya_checks_every_folder_before_importing(tmp_path, capsys):
    from lora_for_dummies.cli import main
    from lora_for_dummies.dataset.kohya import import_kohya

    bad = _kohya(tmp_path / "bad", ["10_sks dog", "5_CON", "0_zero", "3_a b", "3_a_b"])
    with pytest.raises(UserError) as err:
        import_kohya(bad, tmp_path / "datasets", "mine")
    message = str(err.value)
    assert message.startswith("nothing imported") and "CON" in message
    assert "0_zero: repeats = 0 is out of range" in message and "same concept name" in message
    assert not (tmp_path / "datasets" / "mine").exists()
    good = _kohya(tmp_path / "good", ["10_sks dog", "2_cat"])
    (good / "notes").mkdir()
    assert main(["dataset", "--datasets-dir", str(tmp_path / "datasets"), "import-kohya",
                 str(good), "mine"]) == 0
    out = capsys.readouterr().out
    assert "skipped notes: not a repeat folder" in out and "token 'sks', repeats 10" in out
