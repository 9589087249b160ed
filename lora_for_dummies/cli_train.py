"""`lfd train job.toml [--set section.key=value …] [--resume]`, `lfd train --example`.

The same command runs under `accelerate launch -m lora_for_dummies train job.toml` for several
GPUs: the loop is written against accelerate, and only the main process logs and saves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lora_for_dummies import families
from lora_for_dummies.progress import Reporter


class TqdmReporter(Reporter):
    """A tqdm bar with the loss, log lines printed above it.

    A job may start several phases (caching, then training) and it and its caller may both say
    it is finished: each bar is closed once, and the final message printed once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bar = None
        self._final_printed = False

    def start(self, total: int, job: str) -> None:
        from tqdm.auto import tqdm

        self.close_bar()
        super().start(total, job)
        self._final_printed = False
        self.bar = tqdm(total=total, desc=job, unit="step")

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_update(self) -> None:
        if self.bar is not None and not self.state.finished:
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
        self.close_bar()
        if text and not self._final_printed:
            self._final_printed = True
            print(text)


def _train(args: argparse.Namespace) -> int:
    from lora_for_dummies.config import _load_toml, apply_overrides
    from lora_for_dummies.errors import UserError
    from lora_for_dummies.train.config import TrainJob

    if args.example:  # before the training libraries are imported: instant, and needs none
        from lora_for_dummies.train.fields import example_job

        not_yet = families.get_family(args.family).training_unavailable()
        if not_yet:
            raise UserError(not_yet)
        if args.demo:
            from lora_for_dummies.demo import demo_job

            values, concept = demo_job(Path(args.demo), args.family)
            print(example_job(args.family, values, concept, title=f"The {args.family} demo "
                              f"model on the demo dataset, sized for a CPU"), end="")
            return 0
        print(example_job(args.family), end="")
        return 0
    if not args.job:
        raise UserError("give a job file (write one with: lfd train --example > job.toml)")
    from lora_for_dummies.train.loop import Trainer

    path = Path(args.job)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    data = apply_overrides(_load_toml(path.read_text(encoding="utf-8")), args.set or [])
    job = TrainJob.from_dict(data)
    lora_dir = Path(job.save.lora_dir or args.lora_dir)
    reporter = TqdmReporter()
    try:
        result = Trainer(job, lora_dir, reporter, overwrite=args.overwrite).run(
            resume=args.resume)
    finally:  # an error mid-run gets a line of its own, not the end of the bar's
        reporter.close_bar()
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


def _best_step(args: argparse.Namespace) -> int:
    from lora_for_dummies.errors import UserError
    from lora_for_dummies.train.bestgrid import (
        existing_cells,
        grid_for_run,
        parse_numbers,
        run_job_file,
        use_cell,
    )

    runs_dir, name = Path(args.runs_dir), args.run
    lora_dir = Path(run_job_file(runs_dir, name).save.lora_dir or args.lora_dir)
    if args.pick:
        step, _, strength = args.pick.partition(":")
        cells = [c for c in existing_cells(runs_dir / name / "bestgrid")
                 if str(c.step) == step.strip() and c.strength == float(strength or 1)]
        if not cells:
            raise UserError(f"no cell {args.pick} in the last grid of {name}; render it first")
        print(f"{use_cell(lora_dir, name, cells[0], runs_dir / name)} ← {cells[0].label}")
        return 0
    grid = grid_for_run(runs_dir, lora_dir, name, args.prompt, args.seed,
                        parse_numbers(args.strengths, "strengths"),
                        parse_numbers(args.cfg, "CFG values"), TqdmReporter())
    print(grid.image)
    return 0


def add_train_commands(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a LoRA from a job file (TOML)")
    train.add_argument("job", nargs="?",
                       help="job.toml (a run folder's config.toml works too)")
    train.add_argument("--example", action="store_true",
                       help="print a commented job file with every default, e.g. "
                            "lfd train --example > job.toml")
    train.add_argument("--family", default=families.DEFAULT, choices=families.keys(),
                       help="with --example: the model family whose defaults it holds")
    train.add_argument("--demo", nargs="?", const="lfd_data", metavar="DATA_DIR",
                       help="with --example: a job on the demo workspace in DATA_DIR (default "
                            "lfd_data; made now if missing, as `lfd serve --demo` does) that "
                            "trains in a minute or two on a CPU, e.g. "
                            "lfd train --example --family flux --demo > job.toml")
    train.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                       help="override a setting, e.g. --set training.steps=500")
    train.add_argument("--resume", action="store_true", help="continue the run from its state")
    train.add_argument("--lora-dir", default="lfd_data/Lora",
                       help="where LoRAs go when the job does not say (save.lora_dir)")
    train.add_argument("--overwrite", action="store_true",
                       help="a new run may replace existing <name>.safetensors / step files")
    train.set_defaults(func=_train)
    curve = sub.add_parser("lr-curve", help="print the learning-rate schedule of a job")
    curve.add_argument("job", help="job.toml")
    curve.set_defaults(func=_lr_curve)
    best = sub.add_parser("best-step", help="grid of saved steps × strength × CFG of a run; "
                          "--pick STEP:STRENGTH makes that step the LoRA")
    best.add_argument("run", help="the run's name (runs/<name>)")
    best.add_argument("--runs-dir", default="lfd_data/runs",
                      help="folder of the training runs (default lfd_data/runs)")
    best.add_argument("--lora-dir", default="lfd_data/Lora",
                      help="where the chosen LoRA goes when the job does not say")
    best.add_argument("--prompt", default="", help="default: the run's first sample prompt")
    best.add_argument("--seed", type=int, default=None,
                      help="default: the run's sample seed")
    best.add_argument("--strengths", default="0.4, 0.6, 0.8, 1.0",
                      help="LoRA strengths of the grid's columns, comma-separated")
    best.add_argument("--cfg", default="5, 7", help="CFG values, comma-separated")
    best.add_argument("--pick", default="", metavar="STEP:STRENGTH",
                      help="use this cell of the last grid as <name>.safetensors")
    best.set_defaults(func=_best_step)
