"""Caption reading/writing, bulk operations with preview and undo, frequencies, token counts."""

from __future__ import annotations

import pytest
from imagegen import photo, save

from lora_for_dummies.dataset import captions as cap
from lora_for_dummies.errors import UserError
from lora_for_dummies.tokenizer import token_report


def test_encodings(tmp_path):
    (tmp_path / "bom.txt").write_bytes("\ufeffsks, café".encode())
    (tmp_path / "latin.txt").write_bytes("crème brûlée".encode("cp1252"))
    assert cap.read_caption(tmp_path / "bom.txt").text == "sks, café"
    latin = cap.read_caption(tmp_path / "latin.txt")
    assert latin.text == "crème brûlée" and "not UTF-8" in latin.warning
    cap.write_caption(tmp_path / "out.txt", "日本語, ok")
    assert (tmp_path / "out.txt").read_bytes() == "日本語, ok".encode()


def test_tag_operations():
    text = "1girl,  solo , smile, solo, blue eyes"
    assert cap.add_tags(text, ["sks"]) == "sks, 1girl, solo, smile, solo, blue eyes"
    assert cap.add_tags("a, sks, b", ["sks"], front=True) == "sks, a, b"
    assert cap.add_tags("a, b", ["z"], front=False) == "a, b, z"
    assert cap.remove_tags(text, ["solo"]) == "1girl, smile, blue eyes"
    assert cap.dedupe_tags(text) == "1girl, solo, smile, blue eyes"
    assert cap.sort_tags("sks, b, a, C", keep_first=1) == "sks, a, b, C"
    assert cap.strip_whitespace("a  b ,c ,, d") == "a b, c, d"
    assert cap.replace_text("red hair, red eyes", r"red (\w+)", r"blue \1", regex=True) == \
        "blue hair, blue eyes"
    with pytest.raises(UserError, match="regular expression"):
        cap.replace_text("x", "(", "", regex=True)


def _concept(tmp_path):
    high, low = tmp_path / "HIGHRES_CONCEPT", tmp_path / "LOWRES_CONCEPT"
    for folder in (high, low):
        for i, text in enumerate(["dog, grass", "dog, sofa", "sks, dog"]):
            save(photo(16, 16, i), folder / f"{i}.png")
            (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    return high, low


def test_preview_apply_mirror_and_undo(tmp_path):
    high, low = _concept(tmp_path)
    files = cap.caption_files(high)
    preview = cap.plan(files, "add_front", tags="sks")
    assert [(c.path.name, c.old, c.new) for c in preview] == [
        ("0.txt", "dog, grass", "sks, dog, grass"), ("1.txt", "dog, sofa", "sks, dog, sofa")]
    assert (high / "0.txt").read_text() == "dog, grass"  # a preview writes nothing
    assert cap.apply_plan(preview, mirrors=[low]) == 2
    assert (high / "0.txt").read_text() == "sks, dog, grass"
    assert (low / "0.txt").read_text() == "sks, dog, grass"
    assert cap.undo_last(high) == 2 and cap.undo_last(low) == 2
    assert (high / "0.txt").read_text() == "dog, grass" and (low / "1.txt").read_text() == \
        "dog, sofa"
    assert cap.undo_last(high) == 0


def test_selection_and_frequency(tmp_path):
    high, _ = _concept(tmp_path)
    chosen = cap.caption_files(high, stems=["1"])
    assert [p.name for p in chosen] == ["1.txt"]
    assert [c.new for c in cap.plan(chosen, "remove", tags="sofa")] == ["dog"]
    frequency = cap.tag_frequency(cap.caption_files(high))
    assert frequency["dog"] == 3 and frequency["sks"] == 1


def test_token_counts_and_chunk_boundaries():
    short = token_report("a photo of sks dog")
    assert short["count"] == 5 and short["label"] == "5/75" and not short["over"]
    long_caption = ", ".join(f"tag{i} word{i}" for i in range(40))
    report = token_report(long_caption)
    assert report["over"] and report["chunks"] >= 2 and report["straddling"]
    assert report["label"].endswith(f"/{75 * report['chunks']}")
    five_hundred = " ".join(["dog"] * 500)
    assert token_report(five_hundred)["count"] == 500


def test_rename_a_tag_touches_the_whole_tag_only():
    from lora_for_dummies.dataset.captions import rename_tag

    assert rename_tag("sks, red hair, red hair ribbon", "red hair", "crimson hair") == \
        "sks, crimson hair, red hair ribbon"
    assert rename_tag("sks, smile, ^_^", "^_^", "smile") == "sks, smile"  # no duplicate
    assert rename_tag("sks,  red   hair", "red hair", "crimson hair") == "sks, crimson hair"
