"""Before step 1 the run says what it loads and encodes (the ETA waits for step 1); after the
first steps it warns once, and keeps warning in the summary, when the rest takes hours."""

from __future__ import annotations

from train_fixtures import tiny_job

from lora_for_dummies.progress import Reporter
from lora_for_dummies.train.duration import RunPace, long_run_warning
from lora_for_dummies.train.loop import Trainer


class Recorder(Reporter):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, str]] = []

    def on_update(self) -> None:
        self.seen.append((self.state.done, self.state.text))


def test_loading_and_caching_have_their_own_phase_line(tiny_models, tmp_path, fill_first):
    """The GPU's order: every image is encoded, with a counting line, before step 1."""
    texts = phase_lines(tiny_models, tmp_path)
    encoding = [t for t in texts if t.startswith("encoding ") and "images" in t]
    assert encoding[0].endswith(": 0/" + encoding[0].split()[1].split(":")[0])


def test_on_a_cpu_images_are_encoded_by_the_steps_not_before_them(tiny_models, tmp_path):
    texts = phase_lines(tiny_models, tmp_path)
    assert not [t for t in texts if t.startswith("encoding ") and "images" in t]


def phase_lines(tiny_models, tmp_path) -> list[str]:
    """A 2-step run's progress texts, after checking what every order shares: both loading
    lines, no step counted while loading or encoding, the ETA's origin at step 0, no warning."""
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=2, samples={"enabled": False},
                   save={"every": 0})
    reporter = Recorder()
    Trainer(job, tmp_path / "Lora", reporter).run()
    texts = [text for _, text in reporter.seen]
    assert "loading the VAE and text encoder(s)" in texts and "loading the UNet" in texts
    assert all(done == 0 for done, text in reporter.seen if text.startswith(("loading",
                                                                             "encoding")))
    assert reporter.state.origin is not None and reporter.state.origin[0] == 0
    assert not reporter.state.warning  # two quick steps: nothing to warn about
    assert reporter.state.done == 2
    return texts


def test_a_run_of_hours_is_warned_about_with_the_change_that_helps_most(tiny_models, tmp_path):
    assert long_run_warning([9.0, 1.0, 1.0], 100, on_gpu=False, sample_every=0,
                            checkpointing="off") is None  # 100 s left
    cpu = long_run_warning([30.0, 20.0, 20.0], 1000, on_gpu=False, sample_every=100,
                           checkpointing="off")
    assert cpu.startswith("at 20.0 s a step the remaining 1000 steps take about 5h33m")
    assert "train on a CUDA GPU" in cpu and "lower Steps to about 360" in cpu
    gpu = long_run_warning([5.0, 4.0, 4.0], 5000, on_gpu=True, sample_every=100,
                           checkpointing="full")
    assert "'partial' is faster" in gpu
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=5000)
    pace = RunPace(job, on_gpu=False)
    assert pace.step_took(30.0, 1) is None and pace.step_took(20.0, 2) is None
    warning = pace.step_took(20.0, 3)
    assert warning and "4997 steps" in warning
    assert pace.step_took(20.0, 4) is None  # said once
    reporter = Reporter()
    reporter.start(5000, "Training tiny")
    reporter.warn(warning)
    reporter.step(10, "loss 0.1")
    assert reporter.state.summary().splitlines()[-1] == f"⚠ {warning}"
