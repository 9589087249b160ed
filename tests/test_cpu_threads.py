"""Torch's CPU threads follow the cores other processes leave idle, during extraction and CPU
training, and go back to what they were at the end."""

from __future__ import annotations

import pytest
import torch
from train_fixtures import tiny_job

from lora_for_dummies import cpu_threads
from lora_for_dummies.cpu_threads import ThreadGovernor, helper_thread
from lora_for_dummies.train.loop import Trainer


@pytest.fixture
def four_threads():
    """Torch at 4 threads for the test, as it was afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(before)


def stat_samples(monkeypatch, *samples):
    """/proc/stat as read at successive moments: (wall s, busy core-s of the machine, our CPU s)"""
    values = iter(samples)
    monkeypatch.setattr(cpu_threads, "_sample", lambda: next(values))


def test_threads_follow_the_cores_others_leave_idle(monkeypatch, four_threads):
    stat_samples(monkeypatch, (0.0, 0.0, 0.0), (1.0, 3.0, 1.0), (2.0, 4.0, 1.9), (3.0, 8.0, 2.0))
    with ThreadGovernor() as governor:
        governor._cores = 4
        governor.update()  # others used 2 of 4 cores: 2 threads
        assert torch.get_num_threads() == 2
        governor.update()  # others used 0.1: back to 4, never above the starting count
        assert torch.get_num_threads() == 4
        governor.update()  # others held every core: still one thread
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 4  # given back


def test_torch_leaves_a_core_to_a_helper_while_it_runs(monkeypatch, four_threads):
    stat_samples(monkeypatch, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (2.0, 2.0, 2.0))  # others idle
    with ThreadGovernor() as governor:
        governor._cores = 4
        with helper_thread():  # the hash beside an extraction
            governor.update()
            assert torch.get_num_threads() == 3
        governor.update()
        assert torch.get_num_threads() == 4
    assert torch.get_num_threads() == 4


def test_a_cpu_run_updates_the_threads_every_step_and_gives_them_back(tiny_models, tmp_path,
                                                                       monkeypatch):
    updates: list[int] = []
    real_update = ThreadGovernor.update
    monkeypatch.setattr(ThreadGovernor, "update",
                        lambda self: updates.append(torch.get_num_threads()) or real_update(self))
    before = torch.get_num_threads()
    job = tiny_job(tiny_models["sd1"], tmp_path, steps=3, samples={"enabled": False},
                   save={"every": 0})
    result = Trainer(job, tmp_path / "Lora").run()
    assert result.step == 3 and len(updates) == 3
    assert torch.get_num_threads() == before
