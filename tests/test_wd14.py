"""WD14 v3 tagging through onnxruntime on a tiny tagger built with `onnx` (tiny_wd14.py): the
preprocessing the model card states, thresholds, ratings, emoticons, escaping, the blacklist,
the caption run (trigger first, LOWRES mirrored, batches, stop, undo, preview) and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_wd14 import probability, write_tiny_wd14

from lora_for_dummies.dataset.autocaption import caption_concept, run_autocaption
from lora_for_dummies.dataset.captions import undo_last
from lora_for_dummies.dataset.layout import create_dataset, open_dataset
from lora_for_dummies.dataset.wd14 import TagSettings, Wd14Tagger, prepare
from lora_for_dummies.errors import UserError
from lora_for_dummies.progress import Reporter

ROOT = Path(__file__).resolve().parent.parent
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


@pytest.fixture(scope="module")
def tagger_folder(tmp_path_factory):
    return write_tiny_wd14(tmp_path_factory.mktemp("wd14"))


def test_preprocessing_is_what_the_model_card_states():
    """448 px, padded to a white square, BGR, float32 0–255, transparency on white."""
    row = prepare(Image.new("RGB", (200, 100), RED), 448)
    assert row.shape == (448, 448, 3) and row.dtype == np.float32
    assert row[224, 224].tolist() == [0.0, 0.0, 255.0]  # red, in BGR order
    assert row[5, 224].tolist() == [255.0, 255.0, 255.0]  # the padding above is white
    assert row[224, 5].tolist() == [0.0, 0.0, 255.0]  # no padding at the sides of a wide image
    clear = Image.new("RGBA", (448, 448), (0, 0, 255, 0))
    assert prepare(clear, 448)[100, 100].tolist() == [255.0, 255.0, 255.0]
    half = Image.new("RGBA", (448, 448), (0, 0, 255, 255))
    assert prepare(half, 448)[100, 100].tolist() == [255.0, 0.0, 0.0]  # opaque blue: B first


def test_the_tiny_tagger_answers_as_its_weights_say(tagger_folder):
    tagger = Wd14Tagger(tagger_folder)
    assert tagger.size == 448 and len(tagger.tags.rows) == 12
    caption = tagger.caption(Image.new("RGB", (64, 64), RED))
    # characters first (none here), then general tags, surest first; no rating; spaces
    assert caption == "red hair, 1girl, ^_^, hat (object), simple background"
    assert probability("red_hair", (0, 0, 255)) > probability("1girl", (0, 0, 255))
    green = tagger.caption(Image.new("RGB", (64, 64), GREEN))
    assert green.startswith("hatsune miku, 1girl") and "some character" not in green
    assert "blue sky" in tagger.caption(Image.new("RGB", (64, 64), BLUE))


def test_thresholds_ratings_escaping_and_blacklist(tagger_folder):
    red = Image.new("RGB", (64, 64), RED)
    sure = Wd14Tagger(tagger_folder, TagSettings(general_threshold=0.6))
    assert sure.caption(red) == "red hair, 1girl, ^_^, hat (object)"  # 0.5 < 0.6 < 0.62
    loose = Wd14Tagger(tagger_folder, TagSettings(character_threshold=0.7, keep_rating=True,
                                                  escape_parentheses=True,
                                                  blacklist=("simple_background", "^_^")))
    assert loose.caption(red) == "some character, red hair, 1girl, hat \\(object\\), general"


def test_refusals_are_one_clear_line(tagger_folder, tmp_path):
    with pytest.raises(UserError, match="no WD14 tagger"):
        Wd14Tagger("")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="model.onnx not found"):
        Wd14Tagger(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not a graph")
    (broken / "selected_tags.csv").write_text((tagger_folder / "selected_tags.csv").read_text())
    with pytest.raises(UserError, match="not a model onnxruntime can run"):
        Wd14Tagger(broken)
    short = tmp_path / "short"
    short.mkdir()
    (short / "model.onnx").write_bytes((tagger_folder / "model.onnx").read_bytes())
    lines = (tagger_folder / "selected_tags.csv").read_text().splitlines()
    (short / "selected_tags.csv").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(UserError, match="from different taggers"):
        Wd14Tagger(short / "model.onnx")  # the .onnx file itself may be named
    (short / "selected_tags.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="not a WD14 tag list"):
        Wd14Tagger(short)
    for wrong in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(UserError, match="out of range"):
            Wd14Tagger(tagger_folder, TagSettings(general_threshold=wrong))


def _dataset(tmp_path: Path, colours: list[tuple[int, int, int]]):
    dataset = create_dataset(tmp_path / "datasets", "demo dog")
    concept = dataset.concept()
    concept.token = "sks"
    dataset.save()
    for number, colour in enumerate(colours):
        for which, side in (("high", 64), ("low", 32)):
            Image.new("RGB", (side, side), colour).save(
                dataset.folder(concept, which) / f"{number}.png")
    return open_dataset(dataset.root)


def test_a_caption_run_writes_tags_trigger_first_and_undo_restores(tagger_folder, tmp_path):
    dataset = _dataset(tmp_path, [RED, GREEN, BLUE, RED, GREEN, BLUE])
    concept = dataset.concept()
    high, low = dataset.folder(concept, "high"), dataset.folder(concept, "low")
    (high / "2.txt").write_text("my own caption", encoding="utf-8")
    (low / "2.txt").write_text("my own caption", encoding="utf-8")

    preview = caption_concept(dataset, concept, Wd14Tagger(tagger_folder), "skip", preview=2)
    assert [name for name, _ in preview.previews] == ["0.png", "1.png"]
    assert not (high / "0.txt").exists()  # a preview writes nothing

    report = caption_concept(dataset, concept, Wd14Tagger(tagger_folder), "skip")
    assert report.written == ["0.png", "1.png", "3.png", "4.png", "5.png"]
    assert report.skipped == ["2.png"]
    first = (high / "0.txt").read_text(encoding="utf-8")
    assert first == "sks, red hair, 1girl, ^_^, hat (object), simple background"
    assert (low / "0.txt").read_text(encoding="utf-8") == first  # LOWRES gets the same
    assert (high / "1.txt").read_text(encoding="utf-8").startswith("sks, hatsune miku, ")
    assert (high / "2.txt").read_text(encoding="utf-8") == "my own caption"
    # Written batch by batch (4 + 1), the whole run is one step of Undo.
    assert undo_last(high) == 5 and not (high / "0.txt").exists()
    assert (high / "2.txt").read_text(encoding="utf-8") == "my own caption"


class _StopAfterOneBatch(Reporter):
    def step(self, done: int, text: str = "") -> None:
        super().step(done, text)
        self.request_stop()


def test_a_stop_keeps_the_finished_batch(tagger_folder, tmp_path):
    dataset = _dataset(tmp_path, [RED] * 6)
    high = dataset.folder(dataset.concept(), "high")
    images = sorted(high.glob("*.png"))
    report = run_autocaption(images, Wd14Tagger(tagger_folder), "overwrite",
                             _StopAfterOneBatch(), trigger="sks")
    assert report.stopped and report.written == ["0.png", "1.png", "2.png", "3.png"]
    assert sorted(p.name for p in high.glob("*.txt")) == ["0.txt", "1.txt", "2.txt", "3.txt"]


def _lfd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lora_for_dummies", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_the_cli_captions_with_a_local_tagger_and_prints_the_tag_table(tagger_folder, tmp_path):
    dataset = _dataset(tmp_path, [RED, GREEN])
    datasets = str(tmp_path / "datasets")
    out = _lfd("dataset", "--datasets-dir", datasets, "caption", "demo dog", "--captioner",
               "wd14", "--model", str(tagger_folder), "--threshold", "0.6")
    assert out.returncode == 0, out.stderr
    assert "Captioned 2 images, kept 0" in out.stdout
    high = dataset.folder(dataset.concept(), "high")
    assert (high / "0.txt").read_text(encoding="utf-8") == "sks, red hair, 1girl, ^_^, hat (object)"
    table = _lfd("dataset", "--datasets-dir", datasets, "tags", "demo dog")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "6 tags in the captions of 2 images (HIGHRES_CONCEPT)"
    assert lines[1].split() == ["2", "1girl"] and "hatsune miku" in table.stdout
    for bad in (["--threshold", "2"], ["--model", str(tmp_path)], ["--preview", "500"]):
        args = ["dataset", "--datasets-dir", datasets, "caption", "demo dog", "--model",
                str(tagger_folder)]
        out = _lfd(*(args + bad))
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) <= 3


def test_every_host_offers_wd14_and_forge_neo_none_of_the_removed_interrogators(
        webui_standin, tmp_path, monkeypatch):
    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.hosts.webui import WebuiHost

    local = ["WD14 tagger (v3)", "Florence-2", "BLIP"]
    assert list(StandaloneHost(tmp_path).captioners()) == local
    assert list(WebuiHost().captioners()) == local + ["BLIP (webui)", "deepbooru (webui)"]
    for removed in ("modules.interrogate", "modules.deepbooru"):  # as forge_neo_standin does
        monkeypatch.setitem(sys.modules, removed, None)
    assert list(WebuiHost().captioners()) == local


def test_the_characters_own_look_is_left_out_when_asked_and_listed(tagger_folder, tmp_path):
    from lora_for_dummies.dataset.autocaption import summary
    from lora_for_dummies.dataset.traits import is_trait

    for trait in ("red hair", "long_hair", "blue eyes", "cat ears", "twintails", "fox tail",
                  "ahoge", "heterochromia", "dark skin", "large breasts", "demon horns"):
        assert is_trait(trait), trait
    for kept in ("closed eyes", "hair ornament", "holding", "1girl", "smile", "hat (object)",
                 "looking at viewer", "eyes visible through hair", "tail wagging"):
        assert not is_trait(kept), kept
    dataset = _dataset(tmp_path, [RED, RED, GREEN])
    tagger = Wd14Tagger(tagger_folder, TagSettings(drop_traits=True))
    preview = caption_concept(dataset, dataset.concept(), tagger, "overwrite", preview=3)
    said = summary(preview)  # listed before anything is written
    assert "Left out as the character's own look (the trigger word carries it): red hair (2)" \
        in said, said
    assert all("red hair" not in text for _, text in preview.previews)
    assert not list(dataset.folder(dataset.concept(), "high").glob("*.txt"))


def test_a_run_with_nothing_to_do_says_why_and_what_to_choose(tagger_folder, tmp_path):
    from lora_for_dummies.dataset.autocaption import summary

    dataset = _dataset(tmp_path, [RED, GREEN])
    high = dataset.folder(dataset.concept(), "high")
    for name in ("0.txt", "1.txt"):
        (high / name).write_text("sks, mine", encoding="utf-8")
    for preview, done in ((4, "previewed"), (0, "written")):
        report = caption_concept(dataset, dataset.concept(), Wd14Tagger(tagger_folder), "skip",
                                 preview=preview)
        assert summary(report) == (f"All 2 images already have captions, so nothing was {done} "
                                   "(Existing captions: skip). Choose append or overwrite to "
                                   "caption them anyway.")
