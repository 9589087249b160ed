"""`python -m lora_for_dummies train job.toml [--set section.key=value …] [--resume]`.

The same command runs under `accelerate launch -m lora_for_dummies train job.toml` for several
GPUs: the loop is written against accelerate, and only the main process logs and saves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lora_for_dummies.progress import Reporter


class TqdmReporter(Reporter):
    """A tqdm bar with the loss, log lines printed above it."""

    def __init__(self) -> None:
        super().__init__()
        self.bar = None

    def start(self, total: int, job: str) -> None:
        from tqdm.auto import tqdm

        super().start(total, job)
        self.bar = tqdm(total=total, desc=job, unit="step")

    def on_update(self) -> None:
        if self.bar is not None:
            self.bar.n = self.state.done
            self.bar.set_postfix_str(self.state.text)
            self.bar.refresh()

    def on_log(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line)

    def finish(self, text: str = "") -> None:
        super().finish(text)
        if self.bar is not None:
            self.bar.close()
        print(text)


def _train(args: argparse.Namespace) -> int:
    from lora_for_dummies.config import _load_toml, apply_overrides
    from lora_for_dummies.errors import UserError
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.loop import Trainer

    path = Path(args.job)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    data = apply_overrides(_load_toml(path.read_text(encoding="utf-8")), args.set or [])
    job = TrainJob.from_dict(data)
    lora_dir = Path(job.save.lora_dir or args.lora_dir)
    result = Trainer(job, lora_dir, TqdmReporter()).run(resume=args.resume)
    return 1 if result.stopped and not result.lora else 0


def _lr_curve(args: argparse.Namespace) -> int:
    from lora_for_dummies.config import load_toml
    from lora_for_dummies.train.config import TrainJob
    from lora_for_dummies.train.optim import lr_curve

    job = load_toml(TrainJob, args.job)
    for step, lr in enumerate(lr_curve(job.optimizer, job.training.steps)):
        if step % max(1, job.training.steps // 20) == 0:
            print(f"{step:6d}  {lr:.3e}")
    return 0


def add_train_commands(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a LoRA from a job file (TOML)")
    train.add_argument("job", help="job.toml (a run folder's config.toml works too)")
    train.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                       help="override a setting, e.g. --set training.steps=500")
    train.add_argument("--resume", action="store_true", help="continue the run from its state")
    train.add_argument("--lora-dir", default="lfd_data/Lora",
                       help="where LoRAs go when the job does not say (save.lora_dir)")
    train.set_defaults(func=_train)
    curve = sub.add_parser("lr-curve", help="print the learning-rate schedule of a job")
    curve.add_argument("job")
    curve.set_defaults(func=_lr_curve)
