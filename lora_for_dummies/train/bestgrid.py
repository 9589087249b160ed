""""Which step is best?": saved steps × LoRA strength × CFG for one prompt and seed.

This is the guide's advice — stop when it looks good, lower the strength, change the CFG — as
one picture. Every cell is rendered by the training engine's sampler from the base checkpoint
with a saved step file applied at a strength, exactly as the webui would apply it. Picking a
cell makes that step the LoRA (`<name>.safetensors`) with the chosen strength as its preferred
weight.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_for_dummies.atomic import atomic_path, write_text_atomic
from lora_for_dummies.errors import UserError
from lora_for_dummies.families import get_family
from lora_for_dummies.progress import Reporter
from lora_for_dummies.train.config import ModelConfig, SampleConfig, TrainJob
from lora_for_dummies.train.prediction import resolve_prediction

# A grid this quick on the CPU needs no warning; longer ones are said before the first cell.
QUICK_GRID_S = 60
CELL_NAME = re.compile(r"^step(\d+)-w([\d.]+)-cfg([\d.]+)\.png$")


@dataclass
class GridCell:
    step: int
    strength: float
    cfg: float
    image: Path

    @property
    def label(self) -> str:
        return f"step {self.step} · strength {self.strength:g} · CFG {self.cfg:g}"


@dataclass
class BestStepGrid:
    image: Path  # the whole grid, one picture
    cells: list[GridCell]


def saved_steps(lora_dir: Path, name: str, run_dir: Path) -> list[tuple[int, Path]]:
    """The step files `<name>-<step>.safetensors` the run wrote (its record), oldest first."""
    from lora_for_dummies.train.run_files import RunFiles

    return RunFiles(run_dir, lora_dir, name).steps()


def parse_numbers(text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in re.split(r"[,;\s]+", text.strip()) if v]
    except ValueError:
        raise UserError(f"{what}: numbers separated by commas, e.g. 0.6, 0.8, 1") from None
    if not values:
        raise UserError(f"{what}: give at least one number")
    return values


def render_grid(base: Path, lora_dir: Path, name: str, out_dir: Path, prompt: str,
                sample: SampleConfig, strengths: list[float], cfgs: list[float],
                steps: list[int] | None = None, reporter: Reporter | None = None,
                device: str | None = None, model: ModelConfig | None = None, *,
                run_dir: Path) -> BestStepGrid:
    """Render every (step, strength, CFG) cell into `out_dir` and the grid as `grid.png`.

    `model`: the run's clip skip, prediction and noise schedule settings (default: as the
    checkpoint is detected), so that the grid renders as the run's samples did."""
    import torch

    from lora_for_dummies.checkpoints.detect import inspect_checkpoint
    from lora_for_dummies.lora.format import load_modules
    from lora_for_dummies.train.sampling import SampleContext, infotext, render, save_sample

    reporter = reporter or Reporter()
    files = saved_steps(lora_dir, name, run_dir)
    if steps:
        files = [(s, p) for s, p in files if s in set(steps)]
    if not files:
        raise UserError(f"no saved steps of {name} in {lora_dir} (files like {name}-000100."
                        "safetensors; set 'Save every N steps' before training)")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    info = inspect_checkpoint(base)
    model = model or ModelConfig()
    prediction = resolve_prediction(model, info)
    family = get_family(info.family)
    model = dataclasses.replace(model, base=str(base))
    loaded = family.load_for_sampling(model, dtype, device)
    models = loaded.models
    text_encoders = [models[n] for n in family.text_component_names]
    patcher = family.lora_patcher(models, loaded.configs)
    context = SampleContext(info.family, models["unet"], models["vae"], text_encoders,
                            model.clip_skip or info.clip_skip, prediction, Path(base).stem,
                            info.short_hash, name, job=TrainJob(model=model), info=info)
    total = len(files) * len(strengths) * len(cfgs)
    reporter.start(total, f"best-step grid for {name}")
    cells: list[GridCell] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        for step, path in files:
            modules, _ = load_modules(path)
            for strength in strengths:
                patcher.apply(modules, strength)
                for cfg in cfgs:
                    if reporter.should_stop():
                        raise UserError("stopped")
                    config = dataclasses.replace(sample, cfg=cfg)
                    image = render(context, prompt, config, sample.seed)
                    target = out_dir / f"step{step}-w{strength:g}-cfg{cfg:g}.png"
                    text = infotext(prompt, config, sample.seed, context).replace(
                        f"<lora:{name}:1>", f"<lora:{path.stem}:{strength:g}>")
                    save_sample(image, target, text)
                    cells.append(GridCell(step, strength, cfg, target))
                    reporter.step(len(cells), cells[-1].label)
    finally:
        patcher.restore()
    grid = compose(cells, strengths, cfgs, out_dir / "grid.png")
    reporter.finish(f"{len(cells)} images → {grid}")
    return BestStepGrid(grid, cells)


def compose(cells: list[GridCell], strengths: list[float], cfgs: list[float],
            target: Path) -> Path:
    """One picture: a row per step, a column per (strength, CFG), labelled."""
    from PIL import Image, ImageDraw

    steps = sorted({c.step for c in cells})
    columns = [(s, c) for s in strengths for c in cfgs]
    with Image.open(cells[0].image) as first:
        size = first.size
    zoom = -(-128 // size[0])  # tiny previews are enlarged so the labels fit above them
    width, height = size[0] * zoom, size[1] * zoom
    left, top = 90, 24
    sheet = Image.new("RGB", (left + width * len(columns), top + height * len(steps)), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (strength, cfg) in enumerate(columns):
        draw.text((left + index * width + 4, 6), f"w {strength:g}  CFG {cfg:g}", fill="black")
    for row, step in enumerate(steps):
        draw.text((6, top + row * height + height // 2 - 6), f"step {step}", fill="black")
    for cell in cells:
        row, column = steps.index(cell.step), columns.index((cell.strength, cell.cfg))
        with Image.open(cell.image) as picture:
            picture = picture.convert("RGB").resize((width, height), Image.NEAREST)
            sheet.paste(picture, (left + column * width, top + row * height))
    with atomic_path(target) as tmp:
        sheet.save(tmp, "PNG")
    return target


def existing_cells(out_dir: Path) -> list[GridCell]:
    """The cells of the last grid rendered into `out_dir` (for the tab after a refresh)."""
    cells = []
    for path in sorted(Path(out_dir).glob("step*-w*-cfg*.png")):
        match = CELL_NAME.match(path.name)
        if match:
            cells.append(GridCell(int(match.group(1)), float(match.group(2)),
                                  float(match.group(3)), path))
    return sorted(cells, key=lambda c: (c.step, c.strength, c.cfg))


def use_cell(lora_dir: Path, name: str, cell: GridCell, run_dir: Path) -> Path:
    """Make the cell's step the LoRA: copy it to `<name>.safetensors` (atomically), put the
    cell's strength into `<name>.json` as the preferred weight and its image as the preview."""
    from lora_for_dummies.names import check_name

    name = check_name(name, "run name")
    files = dict(saved_steps(lora_dir, name, run_dir))
    if cell.step not in files:
        raise UserError(f"{name}-{cell.step:06d}.safetensors is gone from {lora_dir}")
    from lora_for_dummies.lora.format import copy_lora
    from lora_for_dummies.train.run_files import RunFiles

    target = copy_lora(files[cell.step], Path(lora_dir) / f"{name}.safetensors")
    RunFiles(run_dir, lora_dir, name).record(target)
    sidecar = target.with_suffix(".json")
    data: dict[str, Any] = {}
    if sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            data = {}  # a broken sidecar is replaced, the LoRA itself is what matters
    data["preferred weight"] = cell.strength
    note = f"chosen in the best-step grid: step {cell.step}, strength {cell.strength:g}, " \
           f"CFG {cell.cfg:g}"
    kept = [line for line in str(data.get("notes", "")).split("\n")
            if line and not line.startswith("chosen in the best-step grid")]
    data["notes"] = "\n".join(kept + [note])
    write_text_atomic(sidecar, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if cell.image.is_file():
        with atomic_path(target.with_suffix(".preview.png")) as tmp:
            shutil.copyfile(cell.image, tmp)
    return target


def run_job_file(runs_dir: Path, name: str) -> Any:
    """The TrainJob a run was trained with (`runs/<name>/config.toml`)."""
    from lora_for_dummies.config import load_toml
    from lora_for_dummies.names import check_name
    from lora_for_dummies.train.config import TrainJob

    path = Path(runs_dir) / check_name(name, "run name") / "config.toml"
    if not path.is_file():
        raise UserError(f"no run named {name} in {runs_dir} (it has no config.toml)")
    return load_toml(TrainJob, path)


def logged_sample_seconds(run_dir: Path) -> float | None:
    """What one sample took in this run: its logged steps that rendered samples, less a plain
    step's time, per sample (the median); None without both kinds of step in the log."""
    import statistics

    log = Path(run_dir) / "log.jsonl"
    plain, sampled = [], []
    for line in log.read_text(encoding="utf-8").splitlines() if log.is_file() else []:
        try:
            record = json.loads(line)
            seconds, written = float(record["seconds"]), record.get("samples") or []
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by a kill, or a record of another kind
        (sampled if written else plain).append((seconds, len(written)))
    if not plain or not sampled:
        return None
    step = statistics.median(s for s, _ in plain)
    each = statistics.median((s - step) / count for s, count in sampled)
    return each if each > 0 else None


def cpu_grid_warning(runs_dir: Path, lora_dir: Path, name: str, strengths: list[float],
                     cfgs: list[float]) -> str | None:
    """Before a grid renders on the CPU (no CUDA GPU here): how many cells, each a full
    sample, and how long they take, from this run's own samples when its log has them."""
    from lora_for_dummies.environment import available_devices
    from lora_for_dummies.progress import format_seconds

    if "cuda" in available_devices():
        return None
    job = run_job_file(runs_dir, name)
    run_dir = Path(runs_dir) / job.save.name
    count = len(saved_steps(Path(job.save.lora_dir or lora_dir), job.save.name, run_dir)) \
        * len(strengths) * len(cfgs)
    if not count:
        return None  # the render itself says why there is nothing to draw
    sample, seconds = job.samples, logged_sample_seconds(run_dir)
    if seconds is not None and seconds * count < QUICK_GRID_S:
        return None  # done before anyone would wonder (the demo model's tiny samples)
    how = (f"about {format_seconds(seconds)} each as this run's samples took, so about "
           f"{format_seconds(seconds * count)} in all" if seconds else
           "minutes each on a CPU; the time left shows after the first cell")
    return (f"⚠ On the CPU: {count} cells, each a full sample ({sample.steps} sampler steps at "
            f"{sample.width}×{sample.height}); {how}. A CUDA GPU takes seconds a cell. Fewer "
            "strengths or CFG values make fewer cells; Stop ends it between cells.")


def grid_for_run(runs_dir: Path, lora_dir: Path, name: str, prompt: str, seed: int | None,
                 strengths: list[float], cfgs: list[float], reporter: Reporter | None = None
                 ) -> BestStepGrid:
    """The grid for a run, with the base model, clip skip, prediction type and sample settings
    (sampler, steps, size, negative prompt) it trained with; into `runs/<name>/bestgrid/`."""
    from lora_for_dummies.names import check_name
    from lora_for_dummies.ranges import check_value

    name = check_name(name, "run name")  # the validated form is the one used below
    for values, key, what in ((strengths, "best.strength", "strength"), (cfgs, "best.cfg", "CFG")):
        for value in values:
            check_value(key, value, what)
    if seed is not None:
        check_value("best.seed", seed, "seed")
    job = run_job_file(runs_dir, name)
    lora_dir = Path(job.save.lora_dir or lora_dir)
    sample = dataclasses.replace(job.samples, seed=job.samples.seed if seed is None else seed)
    prompt = prompt.strip() or (job.samples.prompts or [job.concepts[0].token or "a photo"])[0]
    out_dir = Path(runs_dir) / name / "bestgrid"
    for old in out_dir.glob("step*-w*-cfg*.png"):  # the grid shows this rendering only
        old.unlink()
    return render_grid(Path(job.model.base), lora_dir, name, out_dir, prompt, sample,
                       strengths, cfgs, reporter=reporter, model=job.model,
                       run_dir=Path(runs_dir) / name)
