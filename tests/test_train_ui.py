"""The Train tab's handlers: start, live progress, stop, resume, presets, wizard, LR plot —
standalone and in the webui stand-in (queue lock, model unloaded, Interrupt, Lora re-scan)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import torch
from train_fixtures import instance_folder

from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.app import standalone_app
from lora_for_dummies.ui.train_session import SESSION
from lora_for_dummies.ui.train_tab import SETTINGS, poll_view
from uitools import UNCHOSEN, choices_of, find_block, handler_for, handlers


def _values(**changes):
    from lora_for_dummies.config import to_dict
    from lora_for_dummies.train.config import TrainJob

    data = to_dict(TrainJob())
    data["training"].update(steps=4, resolution=64, precision="fp32")
    data["samples"].update(every=2, steps=2, width=64, height=64, prompts=["sks dog"])
    data["save"].update(name="ui run", every=2)
    for path, value in changes.items():
        section, key = path.split("__")
        data[section][key] = value
    values = []
    for path, _, kind, _ in SETTINGS:
        section, key = path.split(".")
        value = data[section][key]
        values.append("\n".join(value) if kind == "lines" else value)
    return values


def _wait_for_run(timeout=300):
    SESSION.wait(timeout)
    assert not SESSION.running


def _walk(demo, models_dir: Path, lora_dir: Path, tiny_models, tmp_path, host=None):
    shutil.copy(tiny_models["sd1"], models_dir / "tiny.safetensors")
    refresh = handler_for(demo, find_block(demo, "lfd_train_base"), None)
    assert "tiny.safetensors" in [c if isinstance(c, str) else c[1]
                                  for c in refresh()["choices"]]
    rows = [[str(instance_folder(tmp_path / "inst")), "sks", 2, "", ""]]
    status = find_block(demo, "lfd_train_message")  # button answers; the poll owns the progress
    start = handler_for(demo, status, "on_start")
    assert start("", 1, False, *UNCHOSEN, "tiny.safetensors", rows, "auto",
                 *_values()).startswith(
        "Started ui run")
    assert "already going" in start("", 1, False, *UNCHOSEN, "tiny.safetensors", rows, "auto",
                                    *_values())
    _wait_for_run()
    poll = poll_view
    text, chart, gallery, finished = poll()
    assert "done: 4 steps" in text and chart.size == (560, 220)
    # Issue 23: the end is said once, and one final block says which file, how to use it,
    # and where to compare the saved steps.
    assert text.count("done: 4 steps") == 1 and text.count("self-check passed") == 1, text
    assert "**Your LoRA is ready: `ui run.safetensors`**" in finished
    assert "`<lora:ui run:0.8> sks, …`" in finished and "<lora:NAME:weight>" in finished
    assert "2 step files were saved (`ui run-000002.safetensors` … " \
        "`ui run-000004.safetensors`)" in finished and "“Which step is best?”" in finished
    assert [Path(p).name for p, _ in gallery] == ["000000-0.png", "000002-0.png",
                                                  "000004-0.png"]
    # labelled for a person, not with the file's name
    assert [label for _, label in gallery] == ["step 0 · prompt 1", "step 2 · prompt 1",
                                               "step 4 · prompt 1"]
    assert (lora_dir / "ui run.safetensors").exists()
    _best_step(demo, lora_dir, host, start, rows)
    # A new run of the same name is refused unless the tab's "replace" box is ticked.
    refused = start("", 1, False, *UNCHOSEN, "tiny.safetensors", rows, "auto",
                    *_values(training__steps=6))
    assert refused.startswith("⚠ ui run.safetensors") and "Resume" in refused
    # Stop, then resume to the end.
    assert start("", 1, True, *UNCHOSEN, "tiny.safetensors", rows, "auto",
                 *_values(training__steps=6)).startswith("Started")
    deadline = time.time() + 120
    while SESSION.trainer.reporter.state.done < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert SESSION.stop(save=True).startswith("Stopping")
    _wait_for_run()
    assert "stopped at step" in poll()[0] and poll()[3] == ""  # no final block for a stop
    resumed = handler_for(demo, status, "on_resume")("", 1, *UNCHOSEN, "tiny.safetensors",
                                                     rows, "auto", *_values(training__steps=6))
    assert resumed.startswith("Resumed")
    _wait_for_run()
    assert "done: 6 steps" in poll()[0]
    # Presets round-trip; the wizard and the LR plot answer.
    fields = [find_block(demo, "lfd_train_" + path.replace(".", "_")) for path, *_ in SETTINGS]
    saved = handler_for(demo, status, "on_save_preset")("mine", "tiny.safetensors", rows,
                                                        "auto", *_values())
    assert saved.startswith("Saved preset")
    loaded = handler_for(demo, status, "on_load_preset")("mine")
    assert loaded[0] == "Loaded the settings of preset mine" and loaded[4][0][1] == "sks"
    assert loaded[1]["value"] == "tiny.safetensors"
    assert "value" not in loaded[2]  # set up by hand: no what-you're-teaching preset to show
    assert loaded[5 + [p for p, *_ in SETTINGS].index("training.steps")]["value"] == 4
    wizard = handler_for(demo, find_block(demo, "lfd_wizard_text"), "on_wizard")(12, "sdxl")
    assert "estimate" in wizard[0] and len(wizard) == 1 + len(fields)
    plot = handler_for(demo, find_block(demo, "lfd_train_lr_plot"), "on_plot")(*_values())
    assert plot.size == (560, 220)
    bad = start("", 1, False, *UNCHOSEN, "", rows, "auto", *_values())
    assert bad.startswith("⚠ choose a base model")
    # Several GPUs: a separate `accelerate launch` process, followed through its log.
    launched = start("", 2, False, *UNCHOSEN, "tiny.safetensors", rows, "auto",
                     *_values(save__name="multi"))
    assert launched.startswith("Started on 2 GPUs:") and "--multi_gpu" in launched
    SESSION.wait(600)
    assert "ended" in poll()[0]


def _best_step(demo, lora_dir: Path, host, start, rows):
    """Render the grid of the run's saved steps, click a cell, use it."""
    import gradio as gr

    from lora_for_dummies.gate import GATE

    status = find_block(demo, "lfd_best_status")
    render = handler_for(demo, status, "on_render")
    rendering = render("ui run", "", -1, "0, 1", "3")
    first = next(rendering)
    # Issue 23: the busy line names what runs, not an internal job id.
    assert GATE.busy() == "the best-step grid of ui run"
    busy = start("", 1, False, *UNCHOSEN, "tiny.safetensors", rows, "auto", *_values())
    assert busy.startswith("⚠ the best-step grid of ui run is still running"), busy
    *_, (text, grid, cells) = [first, *rendering]
    assert "4 images" in text and Path(grid).name == "grid.png"
    if not torch.cuda.is_available():
        _cpu_grid_warning(host, first[0])
    assert [label for _, label in cells] == [
        "step 2 · strength 0 · CFG 3", "step 2 · strength 1 · CFG 3",
        "step 4 · strength 0 · CFG 3", "step 4 · strength 1 · CFG 3"]
    bad = list(render("ui run", "", -1, "0, x", "3"))[-1][0]
    assert bad.startswith("⚠ strengths")
    chosen = handler_for(demo, find_block(demo, "lfd_best_chosen"), "on_select")(
        "ui run", gr.SelectData(None, {"index": 1, "value": None, "selected": True}))
    assert chosen == "step 2 · strength 1 · CFG 3"
    use = handler_for(demo, find_block(demo, "lfd_best_used"), "on_use")
    assert use("ui run", "").startswith("⚠ click a cell")
    message = use("ui run", chosen)
    assert "preferred weight 1" in message and "<lora:ui run:1>" in message
    assert (lora_dir / "ui run.safetensors").read_bytes() == \
        (lora_dir / "ui run-000002.safetensors").read_bytes()
    # Issue 23: a page load shows the grid and its cells again, from their files on disk.
    reloaded = standalone_app(host)
    assert find_block(reloaded, "lfd_best_grid").value  # the grid image, not empty
    assert len(find_block(reloaded, "lfd_best_cells").value) == 4


def _cpu_grid_warning(host, first_line: str) -> None:
    """Issue 23: on the CPU a long grid is announced before its first cell, with the time the
    run's own samples took. The tiny model's samples are quick: no warning. The same run's log
    as a slow machine writes it (each sample 40 s longer) gets one."""
    import json
    import re

    from lora_for_dummies.train.bestgrid import cpu_grid_warning

    assert not first_line.startswith("⚠"), first_line
    log = host.runs_dir() / "ui run" / "log.jsonl"
    kept = log.read_text(encoding="utf-8")
    records = [json.loads(line) for line in kept.splitlines()]
    assert [r["step"] for r in records if r.get("samples")] == [2]  # plain steps 1, 3 and 4
    slow = [dict(r, seconds=r["seconds"] + 40 * len(r["samples"])) if "seconds" in r else r
            for r in records]
    log.write_text("".join(json.dumps(r) + "\n" for r in slow), encoding="utf-8")
    try:
        warning = cpu_grid_warning(host.runs_dir(), host.lora_dir(), "ui run", [0, 1], [3])
    finally:
        log.write_text(kept, encoding="utf-8")
    shape = (r"⚠ On the CPU: 4 cells, each a full sample \(2 sampler steps at 64×64\); about "
             r"4[01]s each as this run's samples took, so about 2m4\ds in all")
    assert re.match(shape, warning or ""), warning


def test_train_tab_standalone(tiny_models, tmp_path):
    host = StandaloneHost(tmp_path / "data")
    # concept folders inside the datasets folder: the tab's jobs name no other paths
    _walk(standalone_app(host), host.models_dir, host.lora_dir(), tiny_models,
          host.datasets_dir(), host)


def test_concept_list_refresh(tmp_path):
    from lora_for_dummies.dataset.layout import create_dataset

    host = StandaloneHost(tmp_path / "data")
    create_dataset(host.datasets_dir(), "dog")
    demo = standalone_app(host)
    concept = find_block(demo, "lfd_train_concept")
    listing = handler_for(demo, concept, "on_concept_list")
    assert listing("dog", "main")["choices"] in (["main"], [("main", "main")])
    create_dataset(host.datasets_dir(), "dog", "cat")  # a second concept, made meanwhile
    update = listing("dog", "main")
    assert choices_of(update) == ["main", "cat"] and update["value"] == "main"


def test_train_tab_in_webui(webui_tab, tiny_models, tmp_path, monkeypatch):
    from modules import call_queue, paths, sd_models, shared

    tab, scans = webui_tab
    status = find_block(tab, "lfd_train_message")
    shutil.copy(tiny_models["sd1"], Path(paths.models_path) / "Stable-diffusion" / "t.safetensors")
    handler_for(tab, find_block(tab, "lfd_train_base"), None)()
    from lora_for_dummies.hosts.webui import WebuiHost

    rows = [[str(instance_folder(WebuiHost().datasets_dir() / "inst")), "sks", 1, "", ""]]
    sd_models.events.clear()
    lock_seen = []
    real_render = __import__("lora_for_dummies.train.sampling", fromlist=["render"]).render

    def render_and_check(*args, **kwargs):
        lock_seen.append(call_queue.queue_lock.locked())
        return real_render(*args, **kwargs)

    monkeypatch.setattr("lora_for_dummies.train.sampling.render", render_and_check)
    from modules import progress

    progress.history.clear()
    handler_for(tab, status, "on_start")("task(lfd1)", 1, False, *UNCHOSEN, "t.safetensors",
                                         rows, "auto",
                                         *_values(training__steps=40, samples__every=1,
                                                  save__every=1))
    deadline = time.time() + 120
    while shared.state.job_no < 2 and time.time() < deadline:
        time.sleep(0.05)
    shared.state.interrupt()  # the webui's Interrupt button
    _wait_for_run()
    assert all(lock_seen) and lock_seen  # txt2img waited while training ran
    assert sd_models.events == ["unload", "reload"]
    # the webui's progress bar followed the run: our script's task id, queued → current → done
    assert progress.history == [("queued", "task(lfd1)"), ("start", "task(lfd1)"),
                                ("finish", "task(lfd1)")]
    scripts = [d.get("js") or d.get("_js") for d in tab.config["dependencies"]]
    assert scripts.count("lfd_start_training") == 2  # Start and Resume
    assert shared.state.job == "" and ("begin", "Training ui run") in shared.state.history
    view = SESSION.view()
    assert "stopped at step" in view.text and view.losses
    assert len(scans) >= 2  # the Lora list was re-scanned after each save
    assert not call_queue.queue_lock.locked()
    # The best-step grid renders on the GPU too: with the webui's model moved off and the lock.
    lock_seen.clear()
    sd_models.events.clear()
    monkeypatch.setattr("lora_for_dummies.train.sampling.render", render_and_check)
    *_, (text, grid, cells) = handler_for(tab, find_block(tab, "lfd_best_status"), "on_render")(
        "ui run", "", -1, "1", "2")
    assert grid and cells and all(lock_seen) and lock_seen
    assert sd_models.events == ["unload", "reload"]


@pytest.fixture(autouse=True)
def _no_run_left():
    yield
    if SESSION.running:
        SESSION.stop(save=False)
        SESSION.wait(120)


BAD_CONFIGS = {
    "wrong type": ('[training]\nsteps = "many"\n', "training.steps"),
    "unknown key": ("[training]\nstepz = 100\n", "unknown setting training.stepz"),
    "deep": ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    "out of range": ("[model]\nbase = \"m.safetensors\"\n[[concepts]]\nfolder = \"x\"\n"
                     "[training]\nsteps = 0\n", "training.steps = 0 is out of range"),
}


@pytest.mark.parametrize("case", [*BAD_CONFIGS, "utf-16", "not utf-8"])
def test_load_settings_from_a_bad_config_says_which_setting(tmp_path, case):
    """Issue 22, finding 7: a hand-edited config.toml showed a bare "Error" or nothing, and the
    handler returned 42 of its 44 outputs. Now: every output, one line naming the setting."""
    host = StandaloneHost(tmp_path / "data")
    run = host.runs_dir() / "edited"
    run.mkdir(parents=True)
    if case == "utf-16":  # what Notepad's "Unicode" writes: read, then checked like any other
        (run / "config.toml").write_bytes(BAD_CONFIGS["wrong type"][0].encode("utf-16"))
        want = "training.steps"
    elif case == "not utf-8":
        (run / "config.toml").write_bytes(b"[training]\nsteps = 1\nname = \"\xff\xfe\xfa\"\n")
        want = "is not UTF-8 text"
    else:
        text, want = BAD_CONFIGS[case]
        (run / "config.toml").write_text(text, encoding="utf-8")
    demo = standalone_app(host)
    message = find_block(demo, "lfd_train_message")
    block_fn = next(f for f in handlers(demo) if getattr(f.fn, "__name__", "") == "on_load_run")
    answer = block_fn.fn("edited")
    assert len(answer) == len(block_fn.outputs)  # every output, on every path
    assert block_fn.outputs[0] is message
    assert answer[0].startswith("⚠ ") and want in answer[0] and "\n" not in answer[0], answer[0]
