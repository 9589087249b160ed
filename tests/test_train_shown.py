"""Issue 23: the Train tab trains what it shows. Start never trains a dataset picked before
the one step 3 shows now (an empty one, or the box cleared); the LoRA name follows the dataset
until the user types one; a refused name is not what a page reload brings back. Through the
real gradio app's handlers; each build of the app stands for a page load."""

from __future__ import annotations

import shutil

from test_train_ui import _values
from train_fixtures import instance_folder

from lora_for_dummies import messages as msg
from lora_for_dummies.dataset.layout import create_dataset, open_dataset
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui import compat
from lora_for_dummies.ui.app import standalone_app
from lora_for_dummies.ui.train_session import SESSION
from lora_for_dummies.ui.train_tab import PATHS
from uitools import find_block, handler_for, handlers

CHARACTER = "A character or person"


def _host(tmp_path, tiny_models) -> StandaloneHost:
    host = StandaloneHost(tmp_path / "data")
    host.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_models["sd1"], host.models_dir / "tiny.safetensors")
    host.refresh_checkpoints()
    dog = create_dataset(host.datasets_dir(), "dog")
    instance_folder(dog.folder(dog.concept("main"), "high"))
    dog.concept("main").token = "sks"
    dog.save()
    create_dataset(host.datasets_dir(), "empty")  # made, nothing processed yet
    return host


def _name(answer: list) -> str:
    return answer[3 + PATHS.index("save.name")]["value"]


def test_start_trains_only_the_dataset_step_3_shows(tiny_models, tmp_path):
    host = _host(tmp_path, tiny_models)
    demo = standalone_app(host)
    guided = handler_for(demo, find_block(demo, "lfd_train_choices"), "on_guided")
    chosen = guided("tiny.safetensors", CHARACTER, "dog", "main", "my_lora", False)
    dog_rows = chosen[2]
    assert dog_rows[0][0].endswith("HIGHRES_CONCEPT") and "dog" in dog_rows[0][0]
    # An empty dataset picked: the table and the name let go of "dog".
    empty = guided("tiny.safetensors", CHARACTER, "empty", "main", "dog", False)
    assert empty[0].startswith("⚠ empty / main has no images yet: import some first")
    assert empty[2] is None and _name(empty) == "empty"
    start = handler_for(demo, find_block(demo, "lfd_train_message"), "on_start")
    # Even with the table still holding dog's images (the page missed the update), Start
    # trains nothing it does not show: it says why.
    refused = start("", 1, False, CHARACTER, "empty", "main", "tiny.safetensors", dog_rows,
                    "auto", *_values(save__name="empty"))
    assert refused.startswith("⚠ empty / main has no images yet: import some first"), refused
    cleared = start("", 1, False, CHARACTER, "", "main", "tiny.safetensors", dog_rows, "auto",
                    *_values(save__name="dog"))
    assert cleared.startswith("⚠ step 3 shows no dataset, but the Concepts table holds the "
                              "images of dog"), cleared
    assert not SESSION.running and not (host.runs_dir() / "dog").exists()


def test_the_name_follows_the_dataset_until_typed(tiny_models, tmp_path):
    host = _host(tmp_path, tiny_models)
    demo = standalone_app(host)
    guided = handler_for(demo, find_block(demo, "lfd_train_choices"), "on_guided")
    # A name that came from elsewhere (Load settings of another run) follows the dataset.
    assert _name(guided("tiny.safetensors", CHARACTER, "dog", "main", "ui run", False)) == "dog"
    typed = handler_for(demo, find_block(demo, "lfd_train_name_typed"))
    assert typed("my dog lora") is True and typed("  ") is False
    assert _name(guided("tiny.safetensors", CHARACTER, "dog", "main", "my dog lora",
                        True)) == "my dog lora"


def test_a_refused_name_is_not_restored_after_a_reload(tiny_models, tmp_path):
    host = _host(tmp_path, tiny_models)
    demo = standalone_app(host)
    start = handler_for(demo, find_block(demo, "lfd_train_message"), "on_start")
    rows = [[str(instance_folder(host.datasets_dir() / "inst")), "sks", 1, "", ""]]
    refused = start("", 1, False, "", "", "", "tiny.safetensors", rows, "auto",
                    *_values(save__name="bad/name"))
    assert refused.startswith("⚠") and "bad/name" in refused, refused
    reloaded = standalone_app(host)
    assert find_block(reloaded, "lfd_train_save_name").value != "bad/name"
    assert find_block(reloaded, "lfd_train_name_typed").value is False


def test_step_3_asks_for_a_trigger_word_with_why(tiny_models, tmp_path):
    """Issue 23, item 9: a new dataset has no trigger word and nothing asked for one before
    Start. Step 3 shows the dataset's word, asks for one when it is empty (saying what it is
    for), and Start refuses without one."""
    host = _host(tmp_path, tiny_models)
    cat = create_dataset(host.datasets_dir(), "cat")
    instance_folder(cat.folder(cat.concept("main"), "high"))  # processed, no trigger word
    demo = standalone_app(host)
    trigger = find_block(demo, "lfd_train_trigger")
    assert "what you type in the prompt to call the LoRA" in trigger.info
    guided = handler_for(demo, find_block(demo, "lfd_train_choices"), "on_guided")
    assert guided("tiny.safetensors", CHARACTER, "dog", "main", "", False, "")[-1] == "sks"
    asked = guided("tiny.safetensors", CHARACTER, "cat", "main", "", False, "")
    assert asked[0].startswith("- ⚠ type a trigger word in step 3 — a trigger word is what "
                               "you type in the prompt to call the LoRA"), asked[0]
    rows = asked[2]
    assert rows[0][1] == ""
    start = handler_for(demo, find_block(demo, "lfd_train_message"), "on_start")
    refused = start("", 1, False, CHARACTER, "cat", "main", "tiny.safetensors", rows, "auto",
                    *_values(save__name="cat"))
    assert refused.startswith("⚠ type a trigger word in step 3"), refused
    typed = handler_for(demo, trigger, "on_trigger")("tiny.safetensors", CHARACTER, "cat",
                                                      "main", "", False, "ohwx")
    assert typed[2][0][1] == "ohwx" and "⚠" not in typed[0] and typed[-1] == "ohwx"
    prompts = typed[3 + PATHS.index("samples.prompts")]["value"]
    assert prompts.startswith("ohwx, solo"), prompts
    assert not SESSION.running


def test_a_start_after_a_refusal_shows_only_todays_answer(tiny_models, tmp_path):
    """Issue 23: fixing what Start refused and starting again clears the old refusal line, and
    a finished run's final block does not sit beside a new refusal (it read as its answer)."""
    from lora_for_dummies.ui.train_tab import poll_view

    host = _host(tmp_path, tiny_models)
    demo = standalone_app(host)
    guided = handler_for(demo, find_block(demo, "lfd_train_choices"), "on_guided")
    start = handler_for(demo, find_block(demo, "lfd_train_message"), "on_start")
    answered = handler_for(demo, find_block(demo, "lfd_train_finished"), "on_answered")
    why = guided("tiny.safetensors", CHARACTER, "empty", "main", "", False)[0]
    assert why.startswith("⚠ empty / main has no images yet"), why
    # The user processes images into it, then presses Start without choosing it again.
    empty = open_dataset(host.datasets_dir() / "empty")
    instance_folder(empty.folder(empty.concept("main"), "high"))
    empty.concept("main").token = "sks"
    empty.save()
    refused = start("", 1, False, CHARACTER, "empty", "main", "tiny.safetensors", [], "auto",
                    *_values(save__name="empty"))
    assert refused == "⚠ " + msg.STEP3_NOT_FILLED.format(dataset="empty"), refused
    rows = guided("tiny.safetensors", CHARACTER, "empty", "main", "", False)[2]
    started = start("", 1, False, CHARACTER, "empty", "main", "tiny.safetensors", rows,
                    "auto", *_values(save__name="empty"))
    assert started.startswith("Started empty"), started
    SESSION.wait(300)
    cleared, kept = answered(started, why)
    assert cleared == "" and kept == compat.update()  # the stale ⚠ line above goes
    assert "Your LoRA is ready: `empty.safetensors`" in poll_view()[3]
    again = start("", 1, False, CHARACTER, "empty", "main", "tiny.safetensors", rows, "auto",
                  *_values(save__name="empty"))
    assert again.startswith("⚠ empty.safetensors") and "already in" in again, again
    assert answered(again, "- a bullet")[1] == ""  # at once, and the poll keeps it away:
    assert poll_view()[3] == ""
    assert answered(again, "- a bullet")[0] == compat.update()  # the why bullets stay


def test_the_guided_lines_follow_the_settings_changed_by_hand(tiny_models, tmp_path):
    """Issue 23 (docs' train.png): the guided bullets said "100 steps at 512 px, roughly 3m40s"
    beside a form set by hand to 30 steps at 64 px. A setting changed below is named against
    the guided choice and the time is the changed run's; a page load after a run started that
    way says the same."""
    from lora_for_dummies.ui import train_form as form
    from lora_for_dummies.ui.train_controller import TrainController

    host = _host(tmp_path, tiny_models)
    demo = standalone_app(host)
    choices = find_block(demo, "lfd_train_choices")
    guided = handler_for(demo, choices, "on_guided")
    edited = handler_for(demo, choices, "on_hand_edit")
    chosen = guided("tiny.safetensors", CHARACTER, "dog", "main", "", False)
    values = [update["value"] for update in chosen[3:3 + len(PATHS)]]
    step3 = ("tiny.safetensors", CHARACTER, "dog", "main", "dog", False, "sks")
    assert edited(*step3, *values) == chosen[0]  # nothing changed: the guided lines as they were
    assert "about 100 steps on this computer's CPU" in chosen[0], chosen[0]
    values[PATHS.index("training.steps")] = 30
    values[PATHS.index("training.resolution")] = "64"  # as a number field may send it
    values[PATHS.index("optimizer.unet_lr")] = 0.01
    lines = edited(*step3, *values)
    assert "changed by hand below, and used as changed: Steps 30 (guided: 100); Resolution 64 " \
           "(guided: 512); UNet learning rate 0.01 (guided: 0.0001)" in lines, lines
    assert "time: about 30 steps on this computer's CPU" in lines, lines
    assert "about 100 steps" not in lines
    # Started that way, a page load brings the same lines back (from the run's settings).
    job = TrainController(host).job_from_values("tiny.safetensors", chosen[2], "auto", values)
    form.remember(host, job, {"subject": CHARACTER, "dataset": "dog", "concept": "main"})
    reloaded = form.guided_why(host, TrainController(host))
    assert "Steps 30 (guided: 100)" in reloaded and "about 30 steps" in reloaded, reloaded


def test_a_refresh_comes_back_on_the_tab_last_chosen(tmp_path):
    """Issue 23: a reload landed on the Dataset tab, whichever tab the user was on."""
    from lora_for_dummies.ui.tab_memory import last_tab

    host = StandaloneHost(tmp_path / "data")
    demo = standalone_app(host)
    tabs = find_block(demo, "lfd_tabs")
    on_load = handler_for(demo, tabs)
    assert "selected" not in on_load()  # a first visit opens on Dataset, as the page does
    chose = next(fn.fn for fn in handlers(demo) if getattr(fn.fn, "__name__", "") == "chose_train")
    chose()  # the user clicks the Train tab
    assert on_load()["selected"] == "train" == last_tab(host, ["dataset", "train"])
    reloaded = standalone_app(host)  # the server restarted: still remembered
    assert handler_for(reloaded, find_block(reloaded, "lfd_tabs"))()["selected"] == "train"
    assert last_tab(host, ["dataset", "models"]) == "dataset"  # a tab no longer there
