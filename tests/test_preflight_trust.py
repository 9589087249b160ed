"""A pre-flight check you can trust: near duplicates only where images really look alike, sizes
that name the side, and a concept without a trigger word reported."""

from __future__ import annotations

from imagegen import photo, save
from PIL import Image, ImageDraw

from lora_for_dummies.dataset.layout import create_dataset, open_dataset
from lora_for_dummies.dataset.preflight import run_preflight
from lora_for_dummies.dataset.process import ProcessSettings, process_concept


def _text_page(lines: int = 4) -> Image.Image:
    page = Image.new("RGB", (600, 800), (236, 236, 236))
    draw = ImageDraw.Draw(page)
    for i in range(lines):
        draw.text((40, 40 + i * 14), "Chapter one: the dog", fill=(120, 120, 120))
    return page


def _gradient(channel: int) -> Image.Image:
    zero = Image.new("L", (256, 256), 0)
    bands = [zero, zero, zero]
    bands[channel] = Image.linear_gradient("L")
    return Image.merge("RGB", bands)


def _findings(tmp_path, images: dict[str, Image.Image], token: str = "sks"):
    ds = create_dataset(tmp_path / "datasets", "check")
    originals = ds.folder(ds.concept(""), "originals")
    for name, image in images.items():
        save(image, originals / name)
    ds.concepts[""].token = token
    ds.save()
    return run_preflight(open_dataset(ds.root), resolution=64).concepts[0].findings


def test_images_without_detail_are_not_near_duplicates_of_each_other(tmp_path):
    findings = _findings(tmp_path, {
        "green.png": Image.new("RGB", (200, 150), (40, 160, 60)),  # flat colour
        "page.png": _text_page(),  # a grey text page: almost all paper
        "grey.png": Image.linear_gradient("L").convert("RGB"),  # a grey ramp
        "red.png": _gradient(0), "blue.png": _gradient(2),  # the same ramp in two colours
    })
    assert [f for f in findings if f.kind == "near_duplicate"] == []


def test_real_near_duplicates_are_still_found(tmp_path):
    findings = _findings(tmp_path, {
        "dog.png": photo(320, 240, 3), "dog smaller.png": photo(320, 240, 3).resize((200, 150)),
        "flat.png": Image.new("RGB", (200, 150), (40, 160, 60)),
        "flat big.png": Image.new("RGB", (400, 300), (42, 158, 61)),  # the same flat colour
        "other.png": photo(320, 240, 9),
    })
    pairs = {frozenset((f.file, f.detail.removeprefix("looks almost the same as ")))
             for f in findings if f.kind == "near_duplicate"}
    assert pairs == {frozenset(("dog.png", "dog smaller.png")),
                     frozenset(("flat.png", "flat big.png"))}


def test_sizes_name_the_side_they_mean(tmp_path):
    findings = _findings(tmp_path, {"wide.png": photo(600, 40, 1), "square.png": photo(50, 50, 2)})
    small = {f.file: f.detail for f in findings if f.kind == "too_small"}
    assert small["wide.png"].startswith("short side 40 px < 64 px (600×40)")
    assert small["square.png"].startswith("side 50 px < 64 px (50×50)")


def test_a_concept_without_a_trigger_word_is_a_finding(tmp_path):
    ds = create_dataset(tmp_path / "datasets", "no token")
    originals = ds.folder(ds.concept(""), "originals")
    save(photo(128, 128, 1), originals / "a.png")
    (originals / "a.txt").write_text("dog, grass", encoding="utf-8")
    process_concept(ds, "", ProcessSettings(high=128, low=64))
    findings = run_preflight(open_dataset(ds.root), resolution=64).concepts[0].findings
    assert [(f.kind, f.file) for f in findings if f.kind.startswith("trigger")] == [
        ("trigger_unset", "main")]
    # With the word set, a caption that lacks it is the finding.
    ds = open_dataset(ds.root)
    ds.concepts[""].token = "sks"
    ds.save()
    findings = run_preflight(open_dataset(ds.root), resolution=64).concepts[0].findings
    assert [(f.kind, f.file) for f in findings if f.kind.startswith("trigger")] == [
        ("trigger_missing", "a.txt")]
