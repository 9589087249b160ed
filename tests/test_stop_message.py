"""Stop says when it takes effect: after the current step, with the step time measured here."""

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
