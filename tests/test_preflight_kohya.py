"""Pre-flight report and the kohya repeat-folder layout, both ways, plus the dataset CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from imagegen import photo, save

from lora_for_dummies.dataset.kohya import export_kohya, import_kohya
from lora_for_dummies.dataset.layout import create_dataset, open_dataset
from lora_for_dummies.dataset.preflight import run_preflight
from lora_for_dummies.dataset.process import ProcessSettings, process_concept

ROOT = Path(__file__).resolve().parent.parent


def _dataset(tmp_path):
    ds = create_dataset(tmp_path / "datasets", "dog")
    originals = ds.folder(ds.concept(""), "originals")
    for i in range(4):
        save(photo(600, 600, i), originals / f"dog{i}.jpg", quality=95)
    save(photo(600, 600, 0), originals / "copy.png")  # near duplicate of dog0
    (originals / "exact.jpg").write_bytes((originals / "dog1.jpg").read_bytes())
    save(photo(200, 150, 7), originals / "small.png")
    save(photo(1500, 400, 8), originals / "strip.png")
    (originals / "dog0.txt").write_text("sks dog, grass")
    (originals / "dog1.txt").write_text(", ".join(f"tag{i} word{i}" for i in range(40)))
    (originals / "dog2.txt").write_text("a dog on a sofa")
    ds.concepts[""].token, ds.concepts[""].repeats = "sks", 5
    ds.save()
    process_concept(ds, "", ProcessSettings(high=512, low=256))
    high = ds.folder(ds.concept(""), "high")
    (high / "dog3.txt").unlink()
    (high / "ghost.txt").write_text("no image")
    (high / "small.txt").write_text("   ")
    return open_dataset(ds.root)


def test_preflight_finds_every_problem(tmp_path):
    report = run_preflight(_dataset(tmp_path), resolution=512, batch_size=2, epochs=10)
    kinds = {(f.kind, f.file) for f in report.concepts[0].findings}
    assert ("duplicate", "exact.jpg") in kinds
    assert ("near_duplicate", "dog0.jpg") in kinds or ("near_duplicate", "copy.png") in kinds
    assert ("too_small", "small.png") in kinds and ("aspect", "strip.png") in kinds
    assert ("caption_missing", "dog3.png") in kinds and ("caption_orphan", "ghost.txt") in kinds
    assert ("caption_empty", "small.txt") in kinds and ("caption_long", "dog1.txt") in kinds
    assert ("trigger_missing", "dog2.txt") in kinds
    concept = report.concepts[0]
    assert concept.processed == 8 and concept.steps_per_epoch == 20  # 8 images × 5 / batch 2
    assert report.estimate["epoch_steps"] == 20 and "steps on" in report.estimate["line"]
    assert ["main", "the same file twice", "exact.jpg", "same bytes as dog1.jpg"] in \
        report.rows()


def test_kohya_export_then_import_round_trip(tmp_path):
    ds = _dataset(tmp_path)
    [folder] = export_kohya(ds, tmp_path / "kohya" / "img")
    assert folder.name == "5_sks" and (folder / "dog0.png").exists()
    assert (folder / "dog0.txt").read_text() == "sks dog, grass"
    extra = tmp_path / "kohya" / "img" / "3_style2 painting"
    save(photo(64, 64, 1), extra / "p.png")
    back = import_kohya(tmp_path / "kohya", tmp_path / "datasets", "from kohya")
    assert back.concepts[""].repeats == 5 and back.concepts[""].token == "sks"
    style = back.concepts["style2_painting"]
    assert style.repeats == 3 and style.token == "style2"
    assert (back.root / "IMGS_style2_painting" / "p.png").exists()
    assert (back.root / "IMGS" / "dog0.txt").read_text() == "sks dog, grass"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "lora_for_dummies", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_dataset_cli(tmp_path):
    root = str(tmp_path / "ds")
    source = tmp_path / "in"
    save(photo(300, 200, 1), source / "a.jpg")
    (source / "a.txt").write_text("sks, cat")
    assert _cli("dataset", "--datasets-dir", root, "create", "cats").returncode == 0
    out = _cli("dataset", "--datasets-dir", root, "import", "cats", str(source))
    assert "copied 1 images and 1 captions" in out.stdout
    out = _cli("dataset", "--datasets-dir", root, "process", "cats", "--high", "128", "--low",
               "64", "--crop", "focal")
    assert out.returncode == 0 and "processed 1" in out.stdout, out.stderr
    out = _cli("dataset", "--datasets-dir", root, "check", "cats", "--resolution", "128")
    report = json.loads(out.stdout)
    assert report["concepts"][0]["processed"] == 1
    out = _cli("dataset", "--datasets-dir", root, "export-kohya", "cats", str(tmp_path / "k"))
    assert (tmp_path / "k" / "10_main" / "a.png").exists(), out.stderr
    bad = _cli("dataset", "--datasets-dir", root, "create", "../evil")
    assert bad.returncode == 2 and "may not contain path separators" in bad.stderr
