"""Processing IMGS → HIGHRES/LOWRES: sizes, crops, buckets, tiles, flips, idempotence, captions."""

from __future__ import annotations

import hashlib
import os

import pytest
from imagegen import awkward_files, photo, save
from PIL import Image

from lora_for_dummies.dataset.crop import bucket_size, focal_point, tile_boxes
from lora_for_dummies.dataset.layout import create_dataset, import_images
from lora_for_dummies.dataset.process import ProcessSettings, process_concept
from lora_for_dummies.progress import Reporter


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture()
def dataset(tmp_path):
    source = tmp_path / "incoming"
    save(photo(900, 600, 1), source / "wide.jpg", quality=92)
    save(photo(600, 1000, 2), source / "tall.png")
    (source / "wide.txt").write_text("sks dog, on grass", encoding="utf-8")
    ds = create_dataset(tmp_path / "datasets", "my dog")
    report = import_images(ds, [source])
    assert sorted(report.copied) == ["tall.png", "wide.jpg"] and report.captions == ["wide.txt"]
    return ds


def test_both_resolutions_with_captions_following(dataset):
    settings = ProcessSettings(high=512, low=256)
    report = process_concept(dataset, "", settings)
    assert not report.failed and len(report.done) == 2
    concept = dataset.concept("")
    high, low = dataset.folder(concept, "high"), dataset.folder(concept, "low")
    for folder, size in ((high, 512), (low, 256)):
        assert Image.open(folder / "wide.png").size == (size, size)
        assert Image.open(folder / "tall.png").size == (size, size)
        assert (folder / "wide.txt").read_text(encoding="utf-8") == "sks dog, on grass"
        assert (folder / "tall.txt").read_text(encoding="utf-8") == ""


def test_reprocessing_is_idempotent_and_redoes_changes(dataset):
    settings = ProcessSettings(high=256, low=128)
    process_concept(dataset, "", settings)
    concept = dataset.concept("")
    high = dataset.folder(concept, "high")
    before = _digests(high)
    again = process_concept(dataset, "", settings)
    assert again.unchanged == 2 and again.done == []
    assert _digests(high) == before
    # The user edits a caption: it must survive reprocessing.
    (high / "wide.txt").write_text("edited", encoding="utf-8")
    original = dataset.folder(concept, "originals") / "tall.png"
    save(photo(700, 700, 9), original)
    os.utime(original, ns=(1, 1))
    third = process_concept(dataset, "", settings)
    assert [r.source for r in third.done] == ["tall.png"] and third.unchanged == 1
    assert (high / "wide.txt").read_text(encoding="utf-8") == "edited"
    # Changed settings redo everything; a removed original is reported, not deleted.
    original.unlink()
    fourth = process_concept(dataset, "", ProcessSettings(high=256, low=128, crop="focal"))
    assert [r.source for r in fourth.done] == ["wide.jpg"]
    assert fourth.orphans == ["tall.png", "tall.png"] and (high / "tall.png").exists()


def test_buckets_tiles_flips_and_formats(tmp_path):
    ds = create_dataset(tmp_path, "shapes")
    originals = ds.folder(ds.concept(""), "originals")
    save(photo(1200, 300, 1), originals / "panorama.jpg")
    save(photo(800, 600, 2), originals / "landscape.jpg")
    settings = ProcessSettings(high=512, low=256, crop="bucket", tiles=True, tile_ratio=2.5,
                               flip=True, format="webp", quality=80)
    report = process_concept(ds, "", settings)
    high = ds.folder(ds.concept(""), "high")
    names = sorted(p.name for p in high.glob("*.webp"))
    tiles = [n for n in names if n.startswith("panorama_tile")]
    assert len(tiles) == 2 * 5  # 5 overlapping tiles of a 4:1 strip, each also flipped
    width, height = Image.open(high / "landscape.webp").size
    assert (width, height) == bucket_size(800, 600, 512) and width % 64 == 0 and height % 64 == 0
    assert width * height <= 512 * 512
    assert Image.open(high / "landscape_flip.webp").format == "WEBP"
    assert any("tiles" in note for item in report.done for note in item.notes)


def test_bucket_and_tile_geometry():
    assert bucket_size(1000, 1000, 512) == (512, 512)
    w, h = bucket_size(1920, 1080, 1024)
    assert (w, h) == (1344, 768) and w * h <= 1024 * 1024
    assert bucket_size(100, 20000, 512)[1] / bucket_size(100, 20000, 512)[0] <= 2.0
    assert tile_boxes((1000, 900), 2.5) == []
    boxes = tile_boxes((3000, 1000), 2.5, overlap=0.25)
    assert boxes[0][0] == 0 and boxes[-1][2] == 3000 and all(b[2] - b[0] == 1000 for b in boxes)
    assert all(boxes[i + 1][0] < boxes[i][2] for i in range(len(boxes) - 1))  # they overlap


def test_focal_point_finds_the_subject():
    image = Image.new("RGB", (400, 200), (120, 120, 120))
    subject = photo(60, 60, 3)
    image.paste(subject, (300, 120))
    x, y = focal_point(image)
    assert x > 0.65 and y > 0.55


def test_awkward_formats_all_process_and_originals_never_change(tmp_path):
    ds = create_dataset(tmp_path, "awkward")
    originals = ds.folder(ds.concept(""), "originals")
    files = awkward_files(originals)
    (originals / "latin1.txt").write_bytes("café, naïve, crème brûlée".encode("latin-1"))
    save(photo(64, 64, 8), originals / "latin1.png")
    before = _digests(originals)
    report = process_concept(ds, "", ProcessSettings(high=128, low=64), Reporter())
    assert _digests(originals) == before
    assert not report.failed, report.lines()
    notes = {item.source: " ".join(item.notes) for item in report.done}
    assert "CMYK" in notes[files["cmyk"].name]
    assert "8-bit" in notes[files["png16"].name]
    assert "transparency" in notes[files["palette"].name]
    assert "first frame" in notes[files["gif"].name] and "first frame" in notes[
        files["webp_anim"].name]
    assert "EXIF" in notes[files["exif"].name]
    assert "upscaled" in notes[files["tiny"].name]
    assert "not UTF-8" in notes["latin1.png"]
    high = ds.folder(ds.concept(""), "high")
    assert (high / "latin1.txt").read_text(encoding="utf-8") == "café, naïve, crème brûlée"
    # EXIF rotation applied: the 200×100 landscape is displayed as portrait, so the centre crop
    # of the rotated image differs from the centre crop of the raw pixels.
    assert Image.open(high / "rotated.png").size == (128, 128)
    assert all(Image.open(p).mode == "RGB" for p in high.glob("*.png"))


def test_stop_request_stops_early(tmp_path):
    ds = create_dataset(tmp_path, "many")
    originals = ds.folder(ds.concept(""), "originals")
    for i in range(12):
        save(photo(200, 200, i), originals / f"img{i:02d}.png")
    reporter = Reporter()
    original_step = reporter.step

    def step_then_stop(done, text=""):
        original_step(done, text)
        reporter.request_stop()

    reporter.step = step_then_stop
    report = process_concept(ds, "", ProcessSettings(high=128, low=64), reporter, workers=1)
    assert report.stopped and len(report.done) < 12
    rest = process_concept(ds, "", ProcessSettings(high=128, low=64), workers=1)
    assert rest.unchanged == len(report.done) and len(rest.done) == 12 - len(report.done)


def test_colour_profiles_are_converted_to_srgb(tmp_path):
    from pathlib import Path

    from lora_for_dummies.dataset.imageio import load_image

    adobe = (Path(__file__).parent / "data" / "compatibleWithAdobeRGB1998.icc").read_bytes()
    raw = Image.new("RGB", (32, 32), (60, 170, 60))
    tagged = save(raw, tmp_path / "adobe.png", icc_profile=adobe)
    loaded = load_image(tagged)
    assert any("converted to sRGB" in note for note in loaded.notes)
    r, g, b = loaded.image.getpixel((5, 5))
    assert g > 170 and r < 60  # Adobe RGB's green is wider: it becomes a stronger sRGB green
    plain = load_image(save(raw, tmp_path / "plain.png"))
    assert plain.image.getpixel((5, 5)) == (60, 170, 60) and not plain.notes
