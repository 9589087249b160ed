"""The guide's whole path in a real browser (headless Chromium) on the demo workspace.

Starts `python -m lora_for_dummies serve --demo` as a real server and clicks through: create a
dataset, import images, process them, edit a caption and watch its token count, pre-flight,
train with samples every step (the gallery and loss chart update while it runs), Stop and
Resume, find the LoRA in the Lora folder, pick the best step, extract a LoRA from two
checkpoints, and refresh every dropdown after adding files on disk. Screenshots of each tab go
to LFD_SCREENSHOTS (the docs' pictures) when that is set.

CI (`.ci/run`) installs Chromium and sets LFD_REQUIRE_BROWSER=1, so there the test cannot skip.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from browser import (
    CHROMIUM_FLAGS,
    GradioPage,
    add_concept,
    browser_or_skip,
    make_dataset,
    start_server,
)
from imagegen import photo, save

from lora_for_dummies.tokenizer import token_report

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ["LFD_SCREENSHOTS"]) if os.environ.get("LFD_SCREENSHOTS") else None


@pytest.fixture()
def app(tmp_path):
    data = tmp_path / "workspace"
    process, url = start_server(["--demo", "--data-dir", str(data)], ROOT, tmp_path / "app.log")
    try:
        yield url, data
    finally:
        process.terminate()
        try:
            process.wait(30)
        except Exception:  # noqa: BLE001 - a hung server must not hang the suite
            process.kill()


@pytest.fixture()
def ui(app, tmp_path):
    from playwright.sync_api import sync_playwright

    executable = browser_or_skip()
    url, _ = app
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(url)
        page.locator("#lfd_tabs").wait_for()
        try:
            yield GradioPage(page, tmp_path / "failure.png")
        finally:
            browser.close()


def shot(ui: GradioPage, name: str, elem_id: str | None = None) -> None:
    """The docs' picture `name` (of the element `elem_id` alone, when given)."""
    if SHOTS is not None:
        ui.screenshot(SHOTS / f"{name}.png", elem_id)


def test_the_guides_path_in_a_browser(app, ui, tmp_path):
    _, data = app
    # -- Dataset: create, import, process, caption, pre-flight --------------------------------
    uploads = [save(photo(160 + 32 * i, 128, i), tmp_path / f"up{i}.png") for i in range(3)]
    make_dataset(ui, "my dog", uploads)
    originals = data / "datasets" / "my dog" / "IMGS"
    assert sorted(p.name for p in originals.glob("*.png")) == ["up0.png", "up1.png", "up2.png"]
    report = ui.value("lfd_dataset_process_log")
    assert "3" in report, report
    assert len(list((data / "datasets" / "my dog" / "LOWRES_CONCEPT").glob("*.png"))) == 3
    # Click an image, type a caption, see its token count, save it.
    ui.page.locator("#lfd_dataset_gallery img").first.click()
    ui.wait_for(lambda: ui.value("lfd_caption_stem"), "the clicked image's name")
    stem = ui.value("lfd_caption_stem")
    text = "sks, dog, a very good dog sitting on green grass"
    ui.fill("lfd_caption_text", text)
    ui.wait_text("lfd_caption_tokens", f"Tokens: {token_report(text)['label']}")
    ui.click("lfd_caption_save")
    ui.wait_value("lfd_caption_message", f"Saved {stem}.txt")  # next to the button
    caption = data / "datasets" / "my dog" / "LOWRES_CONCEPT" / f"{stem}.txt"
    assert caption.read_text(encoding="utf-8").startswith("sks, dog, a very good dog")
    # A bulk change, then its undo: the editor follows the file both ways (a stale box saved
    # once more would write the undone text back), and the result shows beside Apply.
    ui.fill("lfd_bulk_text", "bulktag")
    ui.click("lfd_bulk_apply")
    ui.wait_value("lfd_bulk_message", "Changed 3 captions")
    ui.wait_value("lfd_caption_text", "bulktag, sks, dog, a very good dog")
    ui.click("lfd_bulk_undo")
    ui.wait_value("lfd_bulk_message", "Restored 3 captions")
    ui.wait_for(lambda: ui.value("lfd_caption_text") == text, "the undone caption in the editor")
    assert caption.read_text(encoding="utf-8") == text
    # The caption hints name the one model of the workspace and how to caption for it.
    hint = ui.wait_text("lfd_dataset_caption_hint", "trigger word")
    assert "Stable Diffusion 1.x" in hint and "Clip skip 1" in hint, hint
    ui.fill("lfd_preflight_resolution", 64)
    ui.click("lfd_preflight_run")
    ui.wait_for(lambda: ui.text("lfd_preflight_summary").strip(), "the pre-flight summary")
    shot(ui, "dataset")

    # -- Train: base model, concept from the dataset, settings, start / stop / resume ----------
    ui.tab("Train")
    demo_model = next(o for o in ui.options("lfd_train_base") if o.startswith("demo-tiny-sd1"))
    # made on the Dataset tab a moment ago: the Train tab's list follows without its 🔄
    assert "my dog" in ui.options("lfd_train_dataset")
    # A button's message stays until the next action, though the progress poll runs every 2 s.
    ui.open_section("lfd_train_section_concepts")
    ui.click("lfd_train_add_concept")  # no dataset chosen yet
    ui.wait_text("lfd_train_message", "choose a dataset first")
    time.sleep(5)
    assert "choose a dataset first" in ui.text("lfd_train_message")
    add_concept(ui, demo_model, "my dog", {
        "save_name": "e2e dog", "training_steps": 30, "training_resolution": 64,
        "samples_every": 1, "samples_steps": 2, "samples_width": 64, "samples_height": 64,
        "save_every": 10, "optimizer_unet_lr": 0.01})
    # The guided lines follow the settings changed by hand, and time that run (issue 23)
    choices = ui.wait_text("lfd_train_choices", "UNet learning rate 0.01 (guided: 0.0001)")
    assert "Steps 30 (guided: 100)" in choices, choices
    assert "about 30 steps on this computer's CPU" in choices, choices
    ui.click("lfd_train_plot")
    ui.wait_for(lambda: ui.images("lfd_train_lr_plot"), "the LR plot")
    ui.click("lfd_train_start")
    ui.wait_value("lfd_train_status", "Training e2e dog")
    # While it runs, the gallery fills and the loss chart is redrawn.
    ui.wait_for(lambda: len(ui.images("lfd_train_samples")) >= 3, "samples in the gallery")
    first_chart = ui.wait_for(lambda: ui.images("lfd_train_loss_plot"), "the loss chart")
    ui.wait_for(lambda: ui.images("lfd_train_loss_plot") != first_chart, "a new loss chart")
    assert "done:" not in ui.value("lfd_train_status")  # still running when it updated
    shot(ui, "train")
    ui.click("lfd_train_stop")
    ui.wait_value("lfd_train_status", "stopped at step", timeout=120)
    stopped_at = len(ui.images("lfd_train_samples"))
    ui.click("lfd_train_resume")
    ui.wait_progress("lfd_train_status", "done: 30 steps")
    ui.wait_for(lambda: len(ui.images("lfd_train_samples")) > stopped_at, "samples after resume")
    lora_dir = data / "Lora"
    assert (lora_dir / "e2e dog.safetensors").is_file()
    assert [p.name for p in sorted(lora_dir.glob("e2e dog-*.safetensors"))] == [
        "e2e dog-000010.safetensors", "e2e dog-000020.safetensors",
        "e2e dog-000030.safetensors"]
    assert "self-check passed" in ui.value("lfd_train_status")
    samples_before = len(ui.images("lfd_train_samples"))
    # A browser refresh brings the form and every sample of the run back.
    ui.reload("Train")
    ui.wait_value("lfd_train_save_name", "e2e dog")
    assert ui.value("lfd_train_training_steps") == "30"
    ui.open_section("lfd_train_section_concepts")  # gradio 4 draws no rows of a hidden table
    ui.wait_text("lfd_train_concepts", "LOWRES_CONCEPT")
    ui.wait_for(lambda: len(ui.images("lfd_train_samples")) == samples_before,
                "every sample after the refresh")
    # …and the closed sections' summaries say the form's values, not the app's start (#23)
    ui.wait_text("lfd_train_section_steps_and_images", "30 steps")
    ui.wait_text("lfd_train_section_saving", "e2e dog, every 10, keep every step file")

    # -- Which step is best? ---------------------------------------------------------------
    ui.expand("Which step is best?", "lfd_best_strengths")
    ui.fill("lfd_best_strengths", "0.5, 1")
    ui.fill("lfd_best_cfgs", "7")
    ui.click("lfd_best_render")
    ui.wait_for(lambda: len(ui.images("lfd_best_cells")) == 6, "6 grid cells", timeout=180)
    ui.page.locator("#lfd_best_cells img").nth(2).click()  # step 20, strength 0.5
    ui.wait_value("lfd_best_chosen", "step 20 · strength 0.5")
    ui.click("lfd_best_use")
    ui.wait_value("lfd_best_used", "preferred weight 0.5")  # beside the button
    assert (lora_dir / "e2e dog.safetensors").read_bytes() == \
        (lora_dir / "e2e dog-000020.safetensors").read_bytes()
    shot(ui, "best_step", "lfd_best")  # the grid itself, not the whole tab above it
    # A refresh keeps the grid: its files are on disk (issue 23)
    ui.reload("Train")
    ui.expand("Which step is best?", "lfd_best_strengths")
    ui.wait_for(lambda: len(ui.images("lfd_best_cells")) == 6, "the 6 cells after a refresh")
    ui.wait_for(lambda: ui.images("lfd_best_grid"), "the grid after a refresh")

    # -- Extract: a fine-tune appears after 🔄, its difference becomes a LoRA ------------------
    from lora_fixtures import write_tuned

    models = data / "models"
    write_tuned(models / demo_model, models / "my finetune.safetensors")
    ui.tab("Extract")
    assert "my finetune.safetensors" not in ui.options("lfd_extract_tuned")
    for refresh in ("lfd_extract_base_refresh", "lfd_extract_tuned_refresh"):
        ui.click(refresh)
    ui.wait_option("lfd_extract_tuned", "my finetune.safetensors")
    ui.choose("lfd_extract_base", demo_model)
    ui.choose("lfd_extract_tuned", "my finetune.safetensors")
    ui.fill("lfd_extract_name", "from finetune")
    ui.fill("lfd_extract_rank", 4)
    ui.click("lfd_extract_run")
    # The progress line ends "— saved <file>" a moment before the report replaces it.
    status = ui.wait_value("lfd_extract_status", "text_encoder", timeout=180)
    assert "saved" in status and "SKIPPED" not in status, status
    assert (lora_dir / "from finetune.safetensors").is_file()
    ui.click("lfd_tools_lora_refresh")
    ui.wait_option("lfd_tools_lora", "from finetune.safetensors")
    ui.click("lfd_tools_merge_list_refresh")
    ui.wait_option("lfd_tools_merge_list", "from finetune.safetensors")
    ui.choose("lfd_tools_lora", "from finetune.safetensors")
    ui.click("lfd_tools_info")
    ui.wait_value("lfd_tools_status", "\"text_encoder\": 12")
    shot(ui, "extract")

    # -- Every other list: a file added on disk appears after 🔄, no restart ------------------
    from lora_for_dummies.dataset.layout import create_dataset

    create_dataset(data / "datasets", "made on disk")
    ui.tab("Dataset")
    ui.click("lfd_dataset_name_refresh")
    ui.wait_option("lfd_dataset_name", "made on disk")
    ui.tab("Train")
    ui.click("lfd_train_base_refresh")
    ui.wait_option("lfd_train_base", "my finetune.safetensors")
    ui.tab("Models")
    ui.click("lfd_models_checkpoint_refresh")
    ui.wait_option("lfd_models_checkpoint", "my finetune.safetensors")
    ui.choose("lfd_models_checkpoint", "my finetune.safetensors")
    ui.wait_text("lfd_models_details", "Stable Diffusion 1.x")
    shot(ui, "models")


def test_webui_progress_bar_script_in_a_browser():
    """javascript/lora_for_dummies.js with the webui's progressbar.js functions on the page:
    Start's first input becomes a fresh task id and the bar is requested above our element;
    without them (standalone) the inputs pass through unchanged."""
    from playwright.sync_api import sync_playwright

    executable = browser_or_skip()
    script = (ROOT / "javascript" / "lora_for_dummies.js").read_text(encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.set_content("<div><div id='lfd_train_progressbar'></div></div>")
        page.add_script_tag(content=script)
        assert page.evaluate("lfd_start_training('', 1, 'model')") == ["", 1, "model"]
        page.add_script_tag(content="""
            var requested = [];
            function gradioApp() { return document; }
            function randomId() { return "task(abc123)"; }
            function requestProgress(id, anchor, gallery, atEnd) {
                requested.push([id, anchor.id, gallery]);
            }""")
        assert page.evaluate("lfd_start_training('', 1, 'model')") == ["task(abc123)", 1, "model"]
        assert page.evaluate("requested") == [["task(abc123)", "lfd_train_progressbar", None]]
        browser.close()


def test_the_guided_path_from_an_empty_form_on_the_demo(app, ui):
    """The five top choices alone, on `serve --demo` at its defaults: base model (the only one,
    preselected), what you're teaching, images, the GPU (detected: none here, so a CPU-sized
    run), Start. Mid-run a refresh brings every setting, choice and sample back; after Stop,
    the run's settings are loaded back over other choices and Resume finishes it, self-checked."""
    _, data = app
    ui.tab("Train")
    assert ui.value("lfd_train_base").startswith("demo-tiny-sd1")  # 1. the only model
    ui.wait_text("lfd_train_base_line", "Detected: Stable Diffusion 1.x")
    ui.radio("lfd_train_subject", "A character or person")  # 2.
    # Issue 23: an empty dataset picked after another is not trained in its place, and the
    # LoRA name follows the dataset.
    from lora_for_dummies.dataset.layout import create_dataset

    create_dataset(data / "datasets", "empty one")
    ui.choose("lfd_train_dataset", "demo dog")
    ui.wait_for(lambda: ui.value("lfd_train_save_name") == "demo dog", "the dataset's name")
    ui.click("lfd_train_dataset_refresh")
    ui.wait_option("lfd_train_dataset", "empty one")
    ui.choose("lfd_train_dataset", "empty one")
    ui.wait_text("lfd_train_images_line", "has no images yet: import some first")
    ui.wait_for(lambda: ui.value("lfd_train_save_name") == "empty one", "the name following")
    ui.click("lfd_train_start")
    ui.wait_text("lfd_train_message", "empty one / main has no images yet")
    assert not (data / "runs" / "demo dog").exists() and not (data / "runs" / "empty one") \
        .exists()
    ui.choose("lfd_train_dataset", "demo dog")  # 3.
    line = ui.wait_text("lfd_train_images_line", "6 images, 6 with a caption")
    assert "trigger word sks" in line, line
    ui.wait_for(lambda: ui.value("lfd_train_trigger") == "sks", "step 3's trigger word")
    assert "No CUDA GPU" in ui.text("lfd_train_gpu_line")  # 4. nothing to choose
    choices = ui.wait_text("lfd_train_choices", "CPU-sized run of 100 steps")
    assert "rank 16 / alpha 8" in choices, choices
    assert ui.value("lfd_train_save_name") == "demo dog"
    ui.check("lfd_train_overwrite")
    ui.click("lfd_train_start")  # 5.
    ui.wait_value("lfd_train_status", "Training demo dog")
    ui.wait_for(lambda: len(ui.images("lfd_train_samples")) >= 2, "the step-0 samples",
                timeout=240)
    seen = len(ui.images("lfd_train_samples"))
    # -- a refresh mid-run: every setting, choice and sample comes back -----------------------
    ui.reload("Train")
    # each field's value comes back by its own page-load event: they arrive one by one
    for elem_id, value in [("lfd_train_save_name", "demo dog"), ("lfd_train_dataset", "demo dog"),
                           ("lfd_train_training_steps", "100"), ("lfd_train_network_rank", "16")]:
        ui.wait_for(lambda e=elem_id, v=value: ui.value(e) == v, f"{value!r} in #{elem_id}",
                    shows=lambda e=elem_id: ui.value(e))
    assert ui.page.locator("#lfd_train_subject").get_by_label("A character or person") \
        .is_checked()
    # …the Replace tick, the LR curve and the "why" bullets too (issue 23)
    ui.wait_for(lambda: ui.page.locator("#lfd_train_overwrite input[type=checkbox]")
                .is_checked(), "the Replace tick after the refresh")
    ui.wait_for(lambda: ui.images("lfd_train_lr_plot"), "the LR plot after the refresh")
    ui.wait_text("lfd_train_choices", "rank 16 / alpha 8")
    ui.open_section("lfd_train_section_concepts")
    ui.wait_text("lfd_train_concepts", "HIGHRES_CONCEPT")
    ui.wait_for(lambda: len(ui.images("lfd_train_samples")) >= seen, "the samples so far")
    assert "done:" not in ui.value("lfd_train_status")
    ui.click("lfd_train_stop")
    ui.wait_value("lfd_train_status", "stopped at step", timeout=180)
    # -- load the run's settings over other choices, then Resume it to the end -----------------
    ui.radio("lfd_train_subject", "A style")  # refills the form: rank 32
    ui.wait_for(lambda: ui.value("lfd_train_network_rank") == "32", "the style preset")
    ui.open_section("lfd_train_section_presets")
    ui.click("lfd_train_run_refresh")
    ui.wait_option("lfd_train_run", "demo dog")
    ui.choose("lfd_train_run", "demo dog")
    ui.click("lfd_train_load_run")
    ui.wait_text("lfd_train_message", "Loaded the settings of run demo dog")
    assert ui.value("lfd_train_network_rank") == "16"
    assert ui.page.locator("#lfd_train_subject").get_by_label("A character or person") \
        .is_checked()  # the preset the run was made with
    ui.click("lfd_train_resume")
    status = ui.wait_progress("lfd_train_status", "done: 100 steps")
    assert "self-check passed" in status and status.count("done: 100 steps") == 1, status
    assert (data / "Lora" / "demo dog.safetensors").is_file()
    # One final block: the file, how to use it, the best-step grid (issue 23)
    final = ui.wait_text("lfd_train_finished", "Your LoRA is ready")
    assert "demo dog.safetensors" in final and "<lora:demo dog:0.8>" in final, final
    assert "Which step is best?" in final, final
    assert "Starting" not in ui.text("lfd_train_message")
    shot(ui, "train_guided")
