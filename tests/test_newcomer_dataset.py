"""What a newcomer hit on the Dataset side (issue 23): the advice for an empty dataset, the
upscaling Process did without a word, and an empty model list without a hint."""

from __future__ import annotations

from pathlib import Path

from imagegen import photo, save

from lora_for_dummies.dataset.layout import create_dataset, import_images, open_dataset
from lora_for_dummies.dataset.preflight import run_preflight
from lora_for_dummies.dataset.process import ProcessSettings, process_concept
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.train_controller import TrainController


def test_an_empty_dataset_is_told_to_import_images_first(tmp_path):
    host = StandaloneHost(tmp_path / "data")
    create_dataset(host.datasets_dir(), "new one")
    train = TrainController(host)
    line = train.images_line("new one", "main")
    assert "has no images yet: import some first" in line and "Process" not in line
    report = run_preflight(open_dataset(host.datasets_dir() / "new one"), 512, 1, 10)
    assert any("import some first" in f.detail for c in report.concepts for f in c.findings)
    source = tmp_path / "photos"
    source.mkdir()
    save(photo(300, 300, 1), source / "a.png")
    import_images(open_dataset(host.datasets_dir() / "new one"), [source])
    assert "press Process in the Dataset tab" in train.images_line("new one", "main")


def test_process_says_how_many_were_upscaled_and_which_resolution_needs_none(tmp_path):
    dataset = create_dataset(tmp_path, "small")
    originals = dataset.folder(dataset.concept(""), "originals")
    for i, (w, h) in enumerate([(300, 420), (640, 480), (1024, 1024)]):
        save(photo(w, h, i), originals / f"{i}.png")
    report = process_concept(dataset, "", ProcessSettings(high=768, low=512))
    line = report.lines()[1]
    assert line.startswith("enlarged 2 of 3 images"), report.lines()
    assert "set the high resolution to 256 px or less" in line  # 300 → 256
    buckets = process_concept(dataset, "", ProcessSettings(high=768, low=512, crop="bucket"))
    assert "to 320 px or less" in buckets.lines()[1]  # √(300·420) ≈ 354


def test_an_empty_model_list_says_where_models_go_and_offers_the_demo(tmp_path):
    host = StandaloneHost(tmp_path / "data")
    line = TrainController(host).base_line(None)
    assert str(host.models_dir) in line and "lfd serve --demo" in line


def test_the_datasets_repeats_is_what_every_path_trains_with(tiny_models, tmp_path):
    """Issue 23: both runs trained with repeats 1 while the datasets said 2 and 10. The
    Dataset tab's value is read by the guided path (UI), by a job file (CLI) and a job sent to
    the API that leave repeats out, is shown beside the dataset and lands in the metadata."""
    import shutil

    from lora_for_dummies.lora.format import load_lora
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    host = StandaloneHost(tmp_path / "data")
    shutil.copy(tiny_models["sd1"], host.models_dir / "base.safetensors")
    host.refresh_checkpoints()
    dataset = create_dataset(host.datasets_dir(), "pets")
    dataset.concepts[""].token, dataset.concepts[""].repeats = "sks", 3
    dataset.save()
    originals = dataset.folder(dataset.concept(""), "originals")
    for i in range(2):
        save(photo(96, 96, i), originals / f"{i}.png")
    process_concept(dataset, "", ProcessSettings(high=64, low=64))
    train = TrainController(host)
    assert "3 repeats (the Dataset tab's setting)" in train.images_line("pets", "main")
    guided, _ = train.guided("base.safetensors", "A character or person", "pets", "main", "")
    assert guided.concepts[0].repeats == 3
    job = TrainJob.from_dict({  # a CLI / API job that leaves repeats out
        "model": {"base": str(host.models_dir / "base.safetensors")},
        "concepts": [{"folder": str(dataset.folder(dataset.concept(""), "high")), "token": "sks"}],
        "training": {"steps": 1, "resolution": 64, "precision": "fp32"},
        "samples": {"enabled": False}, "save": {"name": "pets"},
        "runs_dir": str(host.runs_dir())})
    job.validate()
    assert job.concepts[0].repeats == 0  # "the dataset's", until the run reads it
    Trainer(job, host.lora_dir(), device="cpu").run()
    _, metadata = load_lora(host.lora_dir() / "pets.safetensors")
    assert '"3_sks"' in metadata["ss_dataset_dirs"] and '"n_repeats": 3' in \
        metadata["ss_dataset_dirs"]
    outside = TrainJob.from_dict({"concepts": [{"folder": str(tmp_path / "loose")}]})
    outside.resolve_repeats()
    assert outside.concepts[0].repeats == 10  # kohya's usual, for a folder outside a dataset


def test_preflight_and_the_train_tab_say_the_same_time_for_this_device(tmp_path):
    """Issue 23: the pre-flight said "about 6.0 min, 800 steps" on no named hardware while
    the Train tab sized a 100-step CPU run. Both now say the guided path's run on this device,
    in one line from one rule."""
    from lora_for_dummies.demo import prepare_demo
    from lora_for_dummies.ui.dataset_controller import DatasetController

    prepare_demo(tmp_path)
    host = StandaloneHost(tmp_path)
    rows, summary = DatasetController(host).preflight("demo dog", 512, "sd1")
    train = TrainController(host)
    base = [e.title for e in host.checkpoints()][0]
    _, why = train.guided(base, "A character or person", "demo dog", "main", "")
    time_line = next(line for line in why if line.startswith("time: "))[len("time: "):]
    assert time_line in summary, (time_line, summary)
    assert "100 steps on this computer's CPU" in time_line  # the CPU-sized demo run
    assert "epoch" not in summary.lower()  # the Train tab's terms: total steps
    assert "from measured steps" in time_line
    assert not any(row[1] in ("too_small", "duplicate") for row in rows)  # plain words only


def test_a_clean_preflight_says_so_and_the_demo_opens_on_its_base_from_a_relative_folder(
        tmp_path, monkeypatch):
    """The beginner trial: `lfd serve --demo` (data folder `lfd_data`, relative) showed an
    empty Base model list, so the README's "press Start, nothing else" was refused; and a
    pre-flight with nothing to report showed an empty table and no word."""
    from lora_for_dummies.demo import prepare_demo
    from lora_for_dummies.ui import train_form
    from lora_for_dummies.ui.dataset_controller import DatasetController

    monkeypatch.chdir(tmp_path)
    prepare_demo(Path("lfd_data"))
    host = StandaloneHost(Path("lfd_data"))
    assert train_form.base_title(host) == host.checkpoints()[0].title
    rows, summary = DatasetController(host).preflight("demo dog", 256, "sd1")
    assert rows == [] and "No problems found." in summary
    rows, summary = DatasetController(host).preflight("demo dog", 512, "sd1")
    assert len(rows) == 1 and "1 thing to look at" in summary  # one photo is 480 px high


def test_step_3_counts_blank_caption_files_as_no_caption(tmp_path):
    """The beginner trial: 6 images, 4 of them with an empty .txt, and step 3 said "6 with a
    caption (100 %)" beside a pre-flight check that listed 4 empty captions."""
    host = StandaloneHost(tmp_path / "data")
    dataset = create_dataset(host.datasets_dir(), "shapes")
    originals = dataset.folder(dataset.concept(""), "originals")
    for i in range(3):
        save(photo(96, 96, i), originals / f"{i}.png")
    (originals / "0.txt").write_text("zqshp, a red square", encoding="utf-8")
    (originals / "1.txt").write_text("  \n", encoding="utf-8")
    process_concept(dataset, "", ProcessSettings(high=64, low=64))
    line = TrainController(host).images_line("shapes", "main")
    assert "3 images, 1 with a caption (33 %)" in line, line
    report = run_preflight(open_dataset(host.datasets_dir() / "shapes"), 64, 1, 10)
    empty = {f.file for c in report.concepts for f in c.findings if f.kind == "caption_empty"}
    assert "1.txt" in empty, empty  # the check and the line agree on the blank one
