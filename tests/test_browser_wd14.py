"""Issue 26 in a real browser (headless Chromium) on `serve --demo`: the WD14 tagger chosen on
the Dataset tab shows its settings, a Preview writes nothing, an Auto-caption run with a local
tiny tagger (tiny_wd14.py) writes tag captions, trigger word first, with its progress shown,
and the tag table and the caption editor show the new tags. A screenshot of the tagger's
settings to LFD_SCREENSHOTS when that is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import demo_page
from tiny_wd14 import write_tiny_wd14

from lora_for_dummies.dataset.layout import open_dataset

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ["LFD_SCREENSHOTS"]) if os.environ.get("LFD_SCREENSHOTS") else None


@pytest.fixture()
def demo(tmp_path):
    with demo_page(tmp_path, ROOT) as opened:
        yield opened


def test_tag_the_demo_dataset_with_wd14(demo, tmp_path):
    ui, data = demo
    tagger = write_tiny_wd14(tmp_path / "wd-tiny-tagger-v3")
    dataset = open_dataset(data / "datasets" / "demo dog")
    concept = dataset.concept()
    high = dataset.folder(concept, "high")
    before = {p.name: p.read_text(encoding="utf-8") for p in high.glob("*.txt")}
    ui.tab("Dataset")
    ui.choose("lfd_dataset_name", "demo dog")
    ui.choose("lfd_autocaption_model", "WD14 tagger (v3)")
    ui.page.locator("#lfd_tagger_settings").wait_for()  # shown for WD14 only
    ui.expand("Tagger settings (WD14 only)", "lfd_tagger_general")
    assert "Usual 0.35" in ui.text("lfd_tagger_general")
    ui.fill("lfd_tagger_blacklist", "simple background")
    ui.fill("lfd_autocaption_option", str(tagger))
    ui.radio("lfd_autocaption_mode", "overwrite")
    if SHOTS is not None:
        ui.screenshot(SHOTS / "wd14_settings.png", "lfd_tagger_settings")
    ui.click("lfd_autocaption_preview")
    preview = ui.wait_value("lfd_autocaption_message", "nothing written yet")
    assert "1girl" in preview and "simple background" not in preview, preview
    assert {p.name: p.read_text(encoding="utf-8") for p in high.glob("*.txt")} == before
    ui.click("lfd_autocaption_run")
    done = ui.wait_progress("lfd_autocaption_message", "Captioned")
    images = sorted(p for p in high.iterdir() if p.suffix.lower() in (".png", ".jpg", ".webp"))
    assert f"Captioned {len(images)} images, kept 0" in done, done
    for image in images:
        text = image.with_suffix(".txt").read_text(encoding="utf-8")
        tags = [t.strip() for t in text.split(",")]
        assert tags[0] == concept.token and "1girl" in tags, text  # trigger first
        assert "simple background" not in tags and not any("_" in t for t in tags if t != "^_^")
        assert not {"general", "sensitive", "questionable", "explicit"} & set(tags)
    table = ui.wait_text("lfd_tag_frequency", "1girl")
    assert "^_^" in table, table
    ui.page.locator("#lfd_dataset_gallery img").first.click()
    ui.wait_value("lfd_caption_text", "1girl")
    # The tag table: a click picks the tag's images for the bulk operations.
    ui.page.locator("#lfd_tag_frequency").get_by_text("^_^", exact=True).first.click()
    picked = ui.wait_value("lfd_bulk_message", "now chosen below")
    assert f"'^_^' is in {len(images)} images" in picked, picked
    assert ui.value("lfd_bulk_text") == "^_^"
    ui.choose("lfd_bulk_operation", "Rename a tag")
    ui.fill("lfd_bulk_replacement", "smile")
    ui.click("lfd_bulk_apply")
    ui.wait_value("lfd_bulk_message", f"Changed {len(images)} captions")
    text = images[0].with_suffix(".txt").read_text(encoding="utf-8")
    assert "smile" in text and "^_^" not in text, text
    # After a refresh: the caption choices are kept, the tag table shows the files as they are
    # now, and a click picks the tag of the row clicked.
    ui.reload("Dataset")
    ui.choose("lfd_dataset_name", "demo dog")
    assert ui.value("lfd_autocaption_option") == str(tagger)
    assert ui.value("lfd_autocaption_model") == "WD14 tagger (v3)"
    ui.expand("Tagger settings (WD14 only)", "lfd_tagger_blacklist")
    assert ui.value("lfd_tagger_blacklist") == "simple background"
    table = ui.wait_text("lfd_tag_frequency", "smile")
    assert "^_^" not in table, table
    ui.page.locator("#lfd_tag_frequency").get_by_text("smile", exact=True).first.click()
    picked = ui.wait_value("lfd_bulk_message", "now chosen below")
    assert picked.startswith("'smile' is in"), picked
