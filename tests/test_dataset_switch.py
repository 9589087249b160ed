"""Datasets that can't be silently changed: switching dataset reloads every concept field from
disk, saving names what it saved, and uploaded captions find their images wherever gradio put
each file."""

from __future__ import annotations

import json

from imagegen import photo, save

from lora_for_dummies.dataset.layout import create_dataset, import_images, open_dataset
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.app import standalone_app
from lora_for_dummies.ui.dataset_controller import DatasetController
from uitools import find_block, handler_for


def _concept_file(root, name: str) -> dict:
    return json.loads((root / "datasets" / name / "dataset.json").read_text(encoding="utf-8"))


def test_switching_datasets_back_and_forth_reloads_and_saves_the_right_one(tmp_path):
    for name, token, repeats, prompt in (("cat", "ohwx", 3, "cat"), ("dog", "sks", 7, "dog")):
        ds = create_dataset(tmp_path / "datasets", name)
        concept = ds.concept("")
        concept.token, concept.repeats, concept.class_prompt = token, repeats, prompt
        ds.save()
    before = {name: _concept_file(tmp_path, name) for name in ("cat", "dog")}
    demo = standalone_app(StandaloneHost(tmp_path))
    token_box = find_block(demo, "lfd_concept_token")
    on_dataset = handler_for(demo, token_box, "on_dataset")
    save_concept = handler_for(demo, find_block(demo, "lfd_dataset_status"), "on_save_concept")

    # The concept stays "main" on every switch, so only the dataset's own event can reload.
    for name, token, repeats, prompt in (("dog", "sks", 7, "dog"), ("cat", "ohwx", 3, "cat"),
                                         ("dog", "sks", 7, "dog")):
        *_, shown_token, shown_repeats, shown_prompt, stem, caption, image = on_dataset(
            name, "only-in-the-other")
        assert (shown_token, shown_repeats, shown_prompt) == (token, repeats, prompt), name
        assert (stem, caption, image) == ("", "", None)  # no caption of the other dataset

    # Saving what the fields now hold (dog's) writes dog's file only, and says so.
    message = save_concept("dog", "main", "sks", 8, "dog")
    assert message == "Saved the concept settings of dog / main: trigger word 'sks', 8 " \
                      "repeats, class prompt 'dog'"
    assert _concept_file(tmp_path, "cat") == before["cat"]
    assert _concept_file(tmp_path, "dog") != before["dog"]
    assert open_dataset(tmp_path / "datasets" / "dog").concept("").repeats == 8
    *_, shown_token, shown_repeats, _, _, _, _ = on_dataset("cat")
    assert (shown_token, shown_repeats) == ("ohwx", 3)
    save_concept("cat", "main", shown_token, shown_repeats, "cat")
    assert open_dataset(tmp_path / "datasets" / "cat").concept("").token == "ohwx"
    assert open_dataset(tmp_path / "datasets" / "dog").concept("").token == "sks"


def test_uploaded_captions_are_paired_by_name_wherever_each_upload_landed(tmp_path):
    # gradio 5 stores every uploaded file in a temporary folder of its own.
    uploads = []
    for index, name in enumerate(["a.png", "b.png", "a.txt", "b.TXT", "ghost.txt"]):
        folder = tmp_path / "gradio" / f"{index:040x}"
        folder.mkdir(parents=True)
        path = folder / name
        if name.endswith(".png"):
            save(photo(64, 64, index), path)
        else:
            path.write_text(f"sks, caption of {path.stem}", encoding="utf-8")
        uploads.append(str(path))
    create_dataset(tmp_path / "datasets", "dog")
    message = DatasetController(StandaloneHost(tmp_path)).import_files("dog", "main", uploads)
    assert message.splitlines()[0] == "Imported 2 images and 2 captions into IMGS."
    assert "Skipped ghost.txt: a caption without an image of the same name" in message
    originals = tmp_path / "datasets" / "dog" / "IMGS"
    assert (originals / "a.txt").read_text(encoding="utf-8") == "sks, caption of a"
    assert (originals / "b.txt").read_text(encoding="utf-8") == "sks, caption of b"
    assert not (originals / "ghost.txt").exists()


def test_a_caption_beside_its_image_still_wins(tmp_path):
    source = tmp_path / "photos"
    save(photo(64, 64, 1), source / "a.png")
    (source / "a.txt").write_text("beside", encoding="utf-8")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "a.txt").write_text("elsewhere", encoding="utf-8")
    ds = create_dataset(tmp_path / "datasets", "dog")
    report = import_images(ds, [source / "a.png", other / "a.txt"])
    assert report.captions == ["a.txt"] and report.skipped == []
    assert (ds.folder(ds.concept(""), "originals") / "a.txt").read_text() == "beside"


def test_previous_next_and_save_and_next_walk_the_captions(tmp_path):
    from lora_for_dummies.dataset.process import ProcessSettings, process_concept

    ds = create_dataset(tmp_path / "datasets", "dog")
    originals = ds.folder(ds.concept(""), "originals")
    for index, name in enumerate(["a", "b", "c"]):
        save(photo(64, 64, index), originals / f"{name}.png")
        (originals / f"{name}.txt").write_text(f"sks, {name}", encoding="utf-8")
    process_concept(ds, "", ProcessSettings(high=64, low=64))
    demo = standalone_app(StandaloneHost(tmp_path))
    preview = find_block(demo, "lfd_caption_preview")
    on_next = handler_for(demo, preview, "on_next")
    on_previous = handler_for(demo, preview, "on_previous")
    save_next = handler_for(demo, preview, "on_save_next")

    stem, text, image = on_next("dog", "main", "")  # nothing chosen yet: the first image
    assert (stem, text) == ("a", "sks, a") and image.endswith("a.png")
    assert on_next("dog", "main", "a")[:2] == ("b", "sks, b")
    assert on_previous("dog", "main", "a")[:2] == ("c", "sks, c")  # wraps around
    message, stem, text, image = save_next("dog", "main", "b", "sks, b, edited")
    assert message.startswith("Saved b.txt") and (stem, text) == ("c", "sks, c")
    high = ds.folder(ds.concept(""), "high")
    assert (high / "b.txt").read_text(encoding="utf-8") == "sks, b, edited"
    assert save_next("dog", "main", "", "text")[0].startswith("⚠")  # nothing chosen


def test_a_reloaded_page_shows_the_dataset_as_it_is_on_disk_now(tmp_path):
    from lora_for_dummies.dataset.process import ProcessSettings, process_concept

    ds = create_dataset(tmp_path / "datasets", "dog")
    demo = standalone_app(StandaloneHost(tmp_path))  # the app starts with an empty dataset…
    originals = ds.folder(ds.concept(""), "originals")
    save(photo(64, 64, 1), originals / "a.png")
    process_concept(ds, "", ProcessSettings(high=64, low=64))  # …then it is processed
    ds.concepts[""].token = "ohwx"
    ds.save()
    gallery = handler_for(demo, find_block(demo, "lfd_dataset_gallery"), "gallery_now")
    token = handler_for(demo, find_block(demo, "lfd_concept_token"), "token_now")
    assert [stem for _, stem in gallery()] == ["a"] and token() == "ohwx"  # at page load
