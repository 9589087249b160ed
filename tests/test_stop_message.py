"""Stop says when it takes effect (after the current step, with the step time measured here),
and the ETA counts from the first step, not from model loading."""

from __future__ import annotations

import json

from lora_for_dummies.ui.train_session import stop_message


def test_stop_names_the_measured_step_time(tmp_path):
    assert "once loading" in stop_message(tmp_path, save=False)  # no step logged yet
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
