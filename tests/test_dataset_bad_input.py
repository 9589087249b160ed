"""Bad input: the run continues, the report names the file and the reason, IMGS never changes."""

from __future__ import annotations

import hashlib
import stat

import pytest
from imagegen import photo, save
from PIL import Image

from lora_for_dummies.dataset.layout import check_name, create_dataset, import_images
from lora_for_dummies.dataset.process import ProcessSettings, process_concept
from lora_for_dummies.errors import UserError


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture()
def broken(tmp_path):
    ds = create_dataset(tmp_path, "broken")
    originals = ds.folder(ds.concept(""), "originals")
    (originals / "zero.png").touch()
    good = save(photo(300, 300, 1), originals / "good.jpg", quality=90)
    (originals / "truncated.jpg").write_bytes(good.read_bytes()[:400])
    png = save(photo(300, 300, 2), originals / "full.png")
    (originals / "truncated.png").write_bytes(png.read_bytes()[: len(png.read_bytes()) // 3])
    (originals / "text.png").write_text("I am not an image")
    save(photo(100, 100, 3), originals / "same stem.png")
    save(photo(100, 100, 4), originals / "same stem.jpg")
    return ds


def test_broken_files_are_reported_and_the_rest_processed(broken, monkeypatch):
    originals = broken.folder(broken.concept(""), "originals")
    before = _digests(originals)
    report = process_concept(broken, "", ProcessSettings(high=128, low=64))
    errors = {item.source: item.error for item in report.failed}
    assert set(errors) == {"zero.png", "truncated.jpg", "truncated.png", "text.png"}
    assert errors["zero.png"] == ("zero.png: empty file (an upload that had not finished? drop "
                                  "it again)")
    assert all(error.startswith(name + ": ") for name, error in errors.items())
    high = broken.folder(broken.concept(""), "high")
    assert {"good.png", "full.png", "same stem.png", "same stem_png.png"} <= {
        p.name for p in high.iterdir()}
    assert _digests(originals) == before


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    ds = create_dataset(tmp_path, "bomb")
    originals = ds.folder(ds.concept(""), "originals")
    save(photo(400, 300, 1), originals / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)  # 400×300 is above this limit
    report = process_concept(ds, "", ProcessSettings(high=128, low=64))
    assert "too large to open safely" in report.failed[0].error


def test_read_only_output_folder(tmp_path, monkeypatch):
    ds = create_dataset(tmp_path, "readonly")
    originals = ds.folder(ds.concept(""), "originals")
    save(photo(200, 200, 1), originals / "a.png")
    high = ds.folder(ds.concept(""), "high")
    import lora_for_dummies.atomic as atomic

    real_mkstemp = atomic.tempfile.mkstemp

    def refuse(*args, dir=None, **kwargs):  # what a read-only folder does, even for root
        if dir is not None and str(dir).startswith(str(high)):
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    high.chmod(stat.S_IREAD | stat.S_IEXEC)
    try:
        report = process_concept(ds, "", ProcessSettings(high=128, low=64))
    finally:
        high.chmod(stat.S_IRWXU)
    assert any("cannot write" in item.error and "a.png" in item.error for item in report.done)


@pytest.mark.parametrize("name", ["../escape", "a/b", "a\\b", "..", "", "CON", "trailing."])
def test_bad_dataset_names_are_refused(tmp_path, name):
    with pytest.raises(UserError):
        create_dataset(tmp_path / "datasets", name)
    assert not (tmp_path / "escape").exists()
    with pytest.raises(UserError):
        check_name(name)


def test_unicode_long_names_and_import_clashes(tmp_path):
    source = tmp_path / "src"
    long_name = "ünïcödé ✓ " + "y" * 150 + ".png"
    save(photo(64, 64, 1), source / long_name)
    save(photo(64, 64, 2), source / "other" / "cat.png")
    ds = create_dataset(tmp_path / "datasets", "ünïcödé set")
    save(photo(64, 64, 3), ds.folder(ds.concept(""), "originals") / "cat.jpg")
    report = import_images(ds, [source, source / "notes.doc"])
    assert long_name in report.copied and "cat_1.png" in report.copied
    assert report.skipped == ["notes.doc: not an image file"]
    again = import_images(ds, [source])
    assert again.copied == [] and len(again.skipped) == 2
    process = process_concept(ds, "", ProcessSettings(high=64, low=64))
    assert not process.failed


def test_empty_and_unreadable_images_are_not_imported(tmp_path):
    """An upload that had not finished (0 bytes) or a file that only looks like an image is
    reported by name and never lands among the originals."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "empty.png").write_bytes(b"")
    (source / "fake.jpg").write_text("not a picture", encoding="utf-8")
    save(photo(64, 64, 4), source / "good.png")
    ds = create_dataset(tmp_path / "datasets", "checked")
    report = import_images(ds, [source])
    assert report.copied == ["good.png"]
    assert sorted(report.skipped) == [
        "empty.png: empty file (an upload that had not finished? drop it again)",
        "fake.jpg: not a readable image (UnidentifiedImageError)"]
    originals = ds.folder(ds.concept(""), "originals")
    assert sorted(p.name for p in originals.iterdir()) == ["good.png"]


def _png_bomb(path, side=30000):
    """A PNG whose header says side×side pixels (as the 133 KB 30000×30000 bomb does): Pillow
    judges the size from the header alone, so the pixel data need not be there."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    body = zlib.compress(b"\0" * (side + 1) * 4)  # a few rows; decoding would need them all
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_skipped_at_import_and_the_rest_imported(tmp_path):
    """Issue 22, finding 8: a 30000×30000 PNG stopped the import with a traceback."""
    source = tmp_path / "src"
    source.mkdir()
    _png_bomb(source / "bomb.png")
    save(photo(64, 64, 4), source / "good.png")
    ds = create_dataset(tmp_path / "datasets", "bombed")
    report = import_images(ds, [source])
    assert report.copied == ["good.png"]
    assert report.skipped == ["bomb.png: too large to open safely (over Pillow's 89 MP limit)"]
    # processing uses the same rule (and says the same thing) for a bomb put there by hand
    originals = ds.folder(ds.concept(""), "originals")
    _png_bomb(originals / "later.png")
    result = process_concept(ds, "", ProcessSettings(high=64, low=64))
    assert any("later.png: too large to open safely" in line for line in result.lines())


def test_a_duplicates_different_caption_is_never_dropped_without_a_word(tmp_path):
    """Issue 23: `chelsea.jpg` = `cat.jpg` byte for byte, its .txt said something else, and the
    import dropped that caption silently."""
    source = tmp_path / "src"
    source.mkdir()
    save(photo(64, 64, 1), source / "cat.png")
    (source / "cat.txt").write_text("sks, cat, sofa", encoding="utf-8")
    ds = create_dataset(tmp_path / "datasets", "cats")
    import_images(ds, [source])
    again = tmp_path / "again"
    again.mkdir()
    (again / "chelsea.png").write_bytes((source / "cat.png").read_bytes())
    (again / "chelsea.txt").write_text("sks, cat, garden, sunlight", encoding="utf-8")
    originals = ds.folder(ds.concept(""), "originals")
    report = import_images(ds, [again])
    assert report.copied == [] and len(report.skipped) == 1
    assert "chelsea.txt differs from cat.txt" in report.skipped[0]
    assert "Join the captions of duplicates" in report.skipped[0]
    assert (originals / "cat.txt").read_text(encoding="utf-8") == "sks, cat, sofa"
    joined = import_images(ds, [again], join_duplicate_captions=True)
    assert "joined into cat.txt" in joined.skipped[0]
    assert (originals / "cat.txt").read_text(encoding="utf-8") == \
        "sks, cat, sofa, garden, sunlight"
    # a kept picture without a caption takes the duplicate's, and says so
    (originals / "cat.txt").unlink()
    taken = import_images(ds, [again])
    assert "was kept as cat.txt" in taken.skipped[0]
    assert (originals / "cat.txt").read_text(encoding="utf-8") == "sks, cat, garden, sunlight"
