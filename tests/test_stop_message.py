"""Stop says when it takes effect (after the current step, with the step time measured here),
and the ETA counts from the first step, not from model loading."""

from __future__ import annotations

import json

from lora_for_dummies.progress import Reporter
from lora_for_dummies.ui.train_session import stop_message


def test_stop_names_the_measured_step_time(tmp_path):
    assert "within seconds, loading or not" in stop_message(tmp_path, save=False)  # no step
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"step": i, "loss": 0.1, "seconds": s}) + "\n"
                           for i, s in enumerate([19.0, 21.0, 20.0], 1)) +
                   json.dumps({"step": 3, "saved": "x-000003.safetensors"}) + "\n")
    message = stop_message(tmp_path, save=True)
    assert message.startswith("Stopping and saving after the current step — about 20 s")
    log.write_text(json.dumps({"step": 1, "loss": 0.1, "seconds": 0.3}) + "\n")
    assert "under a second" in stop_message(tmp_path, save=False)


def test_eta_counts_from_the_first_step_not_from_loading(monkeypatch):
    """A run whose loading took 100 s and whose steps take 2 s says 2 s per step."""
    from lora_for_dummies import progress

    clock = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    reporter = progress.Reporter()
    reporter.start(10, "Training x")
    clock[0] += 100  # loading and caching
    reporter.step(0, "training")
    assert reporter.state.eta_seconds is None
    for done in (1, 2):
        clock[0] += 2
        reporter.step(done)
    assert reporter.state.eta_seconds == 16  # 8 steps left × 2 s


class _StopWhile(Reporter):
    """Presses Stop when the run says it has reached a phase (loading the UNet, encoding)."""

    def __init__(self, phase: str) -> None:
        super().__init__()
        self.at, self.phases = phase, []

    def phase(self, text: str) -> None:
        self.phases.append(text)
        if text.startswith(self.at):
            self.request_stop()
        super().phase(text)


def test_stop_while_loading_takes_effect_at_once_and_offers_no_resume(tiny_models, tmp_path):
    """Issue 23: a Stop pressed while the models loaded waited 48 s for loading to end, saved a
    state at step 0, and Resume then said "resumed at step 0"."""
    from train_fixtures import tiny_job

    from lora_for_dummies.errors import UserError
    from lora_for_dummies.train.guard import check_resumable
    from lora_for_dummies.train.loop import Trainer

    job = tiny_job(tiny_models["sd1"], tmp_path, steps=4)
    trainer = Trainer(job, tmp_path / "Lora", _StopWhile("loading the UNet"))
    result = trainer.run()
    assert result.stopped and result.step == 0
    assert result.message.startswith("stopped while loading, before the first step")
    assert trainer.unet is None  # the UNet never finished loading
    assert not (job.run_dir / "state" / "state.pt").exists()
    try:
        check_resumable(job)
    except UserError as err:
        assert "has no saved step to resume" in str(err) and "Start training" in str(err)
    else:
        raise AssertionError("Resume was offered for a run that never trained a step")
    # Caching the text encoders' outputs stops between captions too.
    cached = tiny_job(tiny_models["sd1"], tmp_path / "cached", steps=4,
                      network={"train_text_encoder": False},
                      training={"steps": 4, "resolution": 64, "precision": "fp32",
                                "shuffle_tags": False, "cache_text_encoder": True})
    reporter = _StopWhile("encoding")
    result = Trainer(cached, tmp_path / "Lora", reporter).run()
    assert result.stopped and "loading the UNet" not in reporter.phases, reporter.phases


def test_resume_of_a_run_stopped_before_its_first_step_is_refused_in_the_tab(tiny_models,
                                                                               tmp_path):
    import shutil

    from test_train_ui import _values
    from train_fixtures import instance_folder

    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.ui.app import standalone_app
    from lora_for_dummies.ui.train_session import SESSION
    from lora_for_dummies.ui.train_tab import poll_view
    from uitools import UNCHOSEN, find_block, handler_for

    host = StandaloneHost(tmp_path / "data")
    host.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_models["sd1"], host.models_dir / "tiny.safetensors")
    host.refresh_checkpoints()
    demo = standalone_app(host)
    message = find_block(demo, "lfd_train_message")
    rows = [[str(instance_folder(host.datasets_dir() / "inst")), "sks", 1, "", ""]]
    values = _values(save__name="early")
    started = handler_for(demo, message, "on_start")("", 1, False, *UNCHOSEN,
                                                     "tiny.safetensors", rows, "auto", *values)
    assert started.startswith("Started early")
    assert "within seconds" in SESSION.stop(save=False)  # pressed while it loads
    SESSION.wait(120)
    assert "stopped while loading" in poll_view()[0]
    resumed = handler_for(demo, message, "on_resume")("", 1, *UNCHOSEN, "tiny.safetensors",
                                                      rows, "auto", *values)
    assert resumed.startswith("⚠ early has no saved step to resume"), resumed
    assert not SESSION.running


def test_a_resumed_runs_first_eta_leaves_out_encoding(monkeypatch):
    """Issue 23: the first ETA of a resume said 1m57s for 8 steps of a second: its first step
    also encoded the latents this process had not cached yet. The rate is the steps' own."""
    from lora_for_dummies import progress

    clock = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    reporter = progress.Reporter()
    reporter.start(16, "Training x")
    clock[0] += 60  # loading the models again
    reporter.step(8, "training")  # resumed at step 8
    clock[0] += 15  # one step of 1 s, and 14 s of encoding its images
    reporter.untimed(14.0)
    reporter.step(9)
    assert reporter.state.eta_seconds == 7  # 7 steps left × 1 s
    assert progress.format_seconds(reporter.state.eta_seconds) == "7s"


def test_the_loop_tells_the_reporter_what_encoding_took(tiny_models, tmp_path):
    """On a CPU the steps encode latents as they first need them: every second of it is
    reported as untimed, so the ETA counts the steps' own pace."""
    from train_fixtures import tiny_job

    from lora_for_dummies.train.loop import Trainer

    job = tiny_job(tiny_models["sd1"], tmp_path, steps=3, samples={"enabled": False},
                   training={"steps": 3, "resolution": 64, "precision": "fp32",
                             "cache_latents": "memory"})
    trainer = Trainer(job, tmp_path / "Lora", Reporter())
    trainer.run()
    assert trainer.latents.encode_seconds > 0
    assert abs(trainer.reporter.state.untimed - trainer.latents.encode_seconds) < 1e-6
