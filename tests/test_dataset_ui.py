"""The Dataset tab's own event handlers, standalone and in the webui stand-in."""

from __future__ import annotations

import runpy
import types
from pathlib import Path

import pytest
from imagegen import photo, save

from lora_for_dummies.dataset.autocaption import CaptionOptions
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.app import standalone_app
from uitools import find_block, handler_for

ROOT = Path(__file__).resolve().parent.parent



def _handler(demo, elem_id, name):
    return handler_for(demo, find_block(demo, elem_id), name)


def _last(generator):
    items = list(generator)
    return items[-1]


def _walk_the_tab(demo, incoming: Path, blip_folder: Path | None):
    create = _handler(demo, "lfd_dataset_status", "on_create")
    message, update = create("my dog", "")
    assert message.startswith("Created") and update["value"] == "my dog"
    assert create("../bad", "")[0].startswith("⚠")
    message, _ = _handler(demo, "lfd_dataset_status", "on_import")("my dog", "main", None,
                                                                  str(incoming), False)
    assert message.startswith("Imported 3 images and 1 captions")

    process = _handler(demo, "lfd_dataset_process_log", "on_process")
    progress, report = _last(process("my dog", "main", 256, 128, "focal", False, True, "png", 95,
                                     "#000000"))
    assert "processed 3" in str(report) or "processed 3" in progress, (progress, report)

    views = _handler(demo, "lfd_dataset_gallery", "on_concept")("my dog", "main")
    gallery, selection, frequency = views[:3]
    on_concept = _handler(demo, "lfd_dataset_gallery", "on_concept")
    # an image that is not in the new concept: the editor shows no stale caption …
    assert on_concept("my dog", "main", "elsewhere")[3:] == ("", "", None)
    # … one that is: its file's text; none shown: the editor is left alone (a page load's
    # late change event must not empty an image chosen meanwhile)
    assert on_concept("my dog", "main", "a")[3:5] == ("a", "sks, dog")
    assert all(isinstance(u, dict) for u in on_concept("my dog", "main", "")[3:])
    assert len(gallery) == 6  # 3 images + mirrored copies
    assert ["sks", 2] in frequency

    select = _handler(demo, "lfd_caption_stem", "select_handler")
    stem, text, image = select("my dog", "main", "", types.SimpleNamespace(index=0))
    assert stem == "a" and text == "sks, dog" and Path(image).stem == "a"
    # The image already open (clicked again, or highlighted after a finding): what was typed
    # since stays in the editor (issue 23: the highlight's click reloaded the file over it)
    again = select("my dog", "main", "a", types.SimpleNamespace(index=0))
    assert all(isinstance(u, dict) and "value" not in u for u in again), again
    label = handler_for(demo, find_block(demo, "lfd_caption_tokens"))("sks, dog, " * 30)
    assert "over 75" in label
    saved = _handler(demo, "lfd_caption_message", "on_save")("my dog", "main", "b", "sks, cat")
    assert saved.startswith("Saved b.txt")

    bulk = ["my dog", "main", "Add tags at the front (trigger word)", [], "mytoken", "", False, 1]
    rows, message = _handler(demo, "lfd_bulk_changes", "on_preview")(*bulk)
    assert len(rows) == 6 and message.startswith("6 captions would change")
    assert _handler(demo, "lfd_bulk_message", "apply_bulk")(*bulk).startswith("Changed 6")
    # the editor shows the file as it is now, after the change and after the undo
    after = _handler(demo, "lfd_caption_text", "after_change")
    assert after("my dog", "main", "b")[:2] == ("b", "mytoken, sks, cat")
    assert "Restored 6" in _handler(demo, "lfd_bulk_message", "on_undo")("my dog", "main")
    assert after("my dog", "main", "b")[:2] == ("b", "sks, cat")

    saved = _handler(demo, "lfd_dataset_status", "on_save_concept")("my dog", "main", "sks", 7, "")
    assert saved == "Saved the concept settings of my dog / main: trigger word 'sks', 7 repeats"
    token, repeats, _ = _handler(demo, "lfd_concept_token", "on_concept_settings")("my dog", "main")
    assert (token, repeats) == ("sks", 7)
    export_dir = incoming.parent / "kohya" / "img"
    exported = _handler(demo, "lfd_dataset_status", "export_kohya")("my dog", str(export_dir),
                                                                    "low")
    assert exported.startswith("Exported") and (export_dir / "7_sks" / "a.png").exists()
    message, update = _handler(demo, "lfd_dataset_status", "on_kohya_import")(
        str(export_dir), "from kohya")
    assert "7× sks" in message and update["value"] == "from kohya"

    findings, summary = _handler(demo, "lfd_preflight_findings", "on_check")(
        "my dog", 256, "sd1")
    assert any(row[1] == "smaller than the resolution" for row in findings)
    # Issue 23: in the Train tab's terms, the run its guided path makes here (total steps on
    # this device), never epochs and steps per epoch.
    from lora_for_dummies.train.estimate import estimate_run

    guided = estimate_run(6, "sd1", 0.0)  # the 6 processed images
    assert f"as the Train tab's guided path would: about {guided.steps} steps on this " \
        "computer's CPU" in summary, summary
    assert "epoch" not in summary.lower(), summary
    assert "main</b>: 3 originals, 6 processed, repeats 7" in summary, summary
    index = next(i for i, row in enumerate(findings) if row[2] == "c.png")
    on_finding = _handler(demo, "lfd_caption_stem", "on_finding")
    concept_name, stem_name, _, _ = on_finding("my dog", findings, "other",
                                               types.SimpleNamespace(index=[index, 2]))
    assert (concept_name, stem_name) == ("main", "c")
    # already on that concept: it is left as it is (setting it again fires its change event)
    same, stem_name, _, _ = on_finding("my dog", findings, "main",
                                       types.SimpleNamespace(index=[index, 2]))
    assert stem_name == "c" and not isinstance(same, str)

    if blip_folder is not None:
        caption = _handler(demo, "lfd_autocaption_message", "on_autocaption")
        final = _last(caption("my dog", "main", "BLIP", str(blip_folder),
                              "overwrite", 0.35, 0.85, False, False, ""))
        assert "Captioned 6 images" in final


@pytest.fixture()
def incoming(tmp_path):
    folder = tmp_path / "incoming"
    save(photo(400, 300, 1), folder / "a.jpg")
    save(photo(300, 400, 2), folder / "b.png")
    save(photo(100, 100, 3), folder / "c.png")
    (folder / "a.txt").write_text("sks, dog")
    return folder


def test_dataset_tab_standalone(tmp_path, incoming):
    from tiny_blip import write_tiny_blip

    demo = standalone_app(StandaloneHost(tmp_path / "data"))
    _walk_the_tab(demo, incoming, write_tiny_blip(tmp_path / "blip"))


def test_dataset_tab_in_webui_standin(webui_standin, incoming):
    from modules import script_callbacks, shared

    runpy.run_path(str(ROOT / "scripts" / "lora_for_dummies.py"))
    [(tab, _, _)] = script_callbacks.ui_tabs_callback()
    _walk_the_tab(tab, incoming, None)
    assert ("begin", "Processing my dog/main") in shared.state.history
    assert shared.state.history[-1][0] == "end"


def test_interrupt_stops_processing_in_the_webui(webui_standin, tmp_path):
    from modules import shared

    from lora_for_dummies.dataset.layout import create_dataset
    from lora_for_dummies.dataset.process import ProcessSettings, process_concept
    from lora_for_dummies.hosts.webui import WebuiHost

    ds = create_dataset(tmp_path / "ds", "many")
    for i in range(10):
        save(photo(120, 120, i), ds.folder(ds.concept(""), "originals") / f"{i}.png")
    reporter = WebuiHost().reporter()
    real_step = reporter.step

    def step(done, text=""):
        real_step(done, text)
        assert shared.state.job_count == 10 and shared.state.job_no == done
        shared.state.interrupt()  # the webui's Interrupt button

    reporter.step = step
    report = process_concept(ds, "", ProcessSettings(high=64, low=64), reporter, workers=1)
    assert report.stopped and len(report.done) < 10


def test_webui_blip_captioner_uses_the_webui_interrogator(webui_standin, tmp_path):
    from modules import shared
    from tiny_blip import write_tiny_blip

    from lora_for_dummies.dataset.autocaption import BlipFolderCaptioner, run_autocaption
    from lora_for_dummies.hosts.webui import WebuiHost

    class StandinInterrogator:  # modules/interrogate.py InterrogateModels: load/unload/generate
        def __init__(self, folder):
            self.model = BlipFolderCaptioner(folder)
            self.calls = []

        def load(self):
            self.calls.append("load")

        def generate_caption(self, image):
            return self.model.caption(image)

        def unload(self):
            self.calls.append("unload")

    shared.interrogator = StandinInterrogator(write_tiny_blip(tmp_path / "blip"))
    images = [save(photo(64, 64, i), tmp_path / "HIGH" / f"{i}.png") for i in range(2)]
    captioner = WebuiHost().captioners()["BLIP (webui)"](CaptionOptions())
    report = run_autocaption(images, captioner, "overwrite")
    assert report.written == ["0.png", "1.png"]
    assert shared.interrogator.calls == ["load", "unload"]
    assert shared.state.history == []  # the interrogator did not begin/end a job of its own
