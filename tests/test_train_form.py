"""The Train tab's form survives a page load: while a run goes on it shows that run's
settings, afterwards the ones last started, and on a fresh install defaults that fit the
machine (fp32 on a CPU). Each build of the app stands for a page load here (gradio evaluates
the same value functions then); the browser test reloads a real page."""

from __future__ import annotations

import shutil

from test_train_ui import _values
from train_fixtures import instance_folder

from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.app import standalone_app
from lora_for_dummies.ui.train_session import SESSION
from uitools import UNCHOSEN, find_block, handler_for


def _field(demo, path: str):
    return find_block(demo, "lfd_train_" + path.replace(".", "_")).value


def test_the_form_comes_back(tiny_models, tmp_path):
    host = StandaloneHost(tmp_path / "data")
    host.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_models["sd1"], host.models_dir / "tiny.safetensors")
    host.refresh_checkpoints()
    fresh = standalone_app(host)
    assert _field(fresh, "training.precision") == "fp32"  # no GPU here
    assert _field(fresh, "save.name") == "my_lora"
    rows = [[str(instance_folder(host.datasets_dir() / "inst")), "sks", 2, "", ""]]
    start = handler_for(fresh, find_block(fresh, "lfd_train_message"), "on_start")
    message = start("", 1, False, *UNCHOSEN, "tiny.safetensors", rows, "auto",
                    *_values(training__steps=400, save__name="kept run", samples__every=0,
                             samples__enabled=False))
    assert message.startswith("Started kept run")
    try:
        during = standalone_app(host)  # a page loaded while the run goes on
        assert _field(during, "save.name") == "kept run"
        assert _field(during, "training.steps") == 400
        assert find_block(during, "lfd_train_base").value == "tiny.safetensors"
    finally:
        SESSION.stop(save=False)
        SESSION.wait(300)
    after = standalone_app(host)  # the last settings started from the tab
    assert _field(after, "save.name") == "kept run"
    assert _field(after, "model.zero_terminal_snr") == "auto"


def test_a_refresh_mid_run_brings_back_the_plot_the_tick_and_the_why(tiny_models, tmp_path):
    """Issue 23: after a refresh mid-run the LR plot was an empty placeholder, the Replace
    tick was cleared and the guided path's "why" bullets were gone."""
    from test_train_shown import CHARACTER, _host

    host = _host(tmp_path, tiny_models)
    first = standalone_app(host)
    assert find_block(first, "lfd_train_overwrite").value is False
    guided = handler_for(first, find_block(first, "lfd_train_choices"), "on_guided")
    why, _, rows, *_ = guided("tiny.safetensors", CHARACTER, "dog", "main", "", False)
    assert "rank 16 / alpha 8" in why
    start = handler_for(first, find_block(first, "lfd_train_message"), "on_start")
    message = start("", 1, True, CHARACTER, "dog", "main", "tiny.safetensors", rows, "auto",
                    *_values(training__steps=400, save__name="dog", samples__every=0,
                             samples__enabled=False))
    assert message.startswith("Started dog"), message
    try:
        during = standalone_app(host)  # the page reloaded while the run goes on
        assert find_block(during, "lfd_train_lr_plot").value  # a drawn curve, not empty
        assert find_block(during, "lfd_train_overwrite").value is True
        assert "rank 16 / alpha 8" in find_block(during, "lfd_train_choices").value
    finally:
        SESSION.stop(save=False)
        SESSION.wait(300)


def test_the_section_summaries_follow_the_form_at_a_page_load(tmp_path):
    """Issue 23: after a reload (or Load settings) an accordion said "checkpointing off" while
    its field and the run said partial: the labels were those of when the app was built."""
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.ui import train_form as form
    from lora_for_dummies.ui.train_sections import section_id

    host = StandaloneHost(tmp_path / "data")
    demo = standalone_app(host)  # built on a fresh install: the defaults
    memory = find_block(demo, section_id("Memory and speed"))
    assert "checkpointing partial" not in memory.label
    job = TrainJob()
    job.training.gradient_checkpointing, job.save.keep_last = "partial", 0
    form.remember(host, job)  # a run started with these since
    labels = [u["label"] for u in handler_for(demo, memory, "on_page_summaries")()]
    assert any(label.startswith("Memory and speed — ") and "checkpointing partial" in label
               for label in labels), labels
    assert any(label.endswith("keep every step file") for label in labels), labels
