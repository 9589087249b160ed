"""Extract a LoRA from base + fine-tuned checkpoints, one tensor pair at a time.

Peak memory is about one module's weights, not two models: both files are opened lazily and
each difference is factored and dropped before the next is read. Nothing is silently dropped:
every module and every part (UNet, each text encoder) is in the report, with the size of its
difference, the rank kept and the relative error; parts below the threshold are listed as
skipped with their numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lora_for_dummies.checkpoints.convert import ema_key
from lora_for_dummies.checkpoints.detect import inspect_checkpoint
from lora_for_dummies.checkpoints.hashing import HashAhead, short_hash
from lora_for_dummies.checkpoints.models import resolve_configs
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.cpu_threads import ThreadGovernor
from lora_for_dummies.errors import UserError
from lora_for_dummies.families import UNET_PREFIX, get_family
from lora_for_dummies.lora.format import LoraModule, output_path, save_lora
from lora_for_dummies.lora.lowrank import RankRule, clamp_quantile, factorize
from lora_for_dummies.lora.metadata import lora_metadata, write_sidecar
from lora_for_dummies.lora.targets import Target, extraction_targets
from lora_for_dummies.progress import Reporter


@dataclass
class ExtractSettings:
    rule: RankRule = field(default_factory=RankRule)
    conv_rule: RankRule | None = None  # None: attention/MLP layers only
    text_encoders: bool = True
    use_ema: bool = False  # read the fine-tuned UNet from its EMA copy
    clamp: float | None = None  # quantile clamp (e.g. 0.99); off by default: it costs accuracy
    min_part_difference: float = 1e-4  # ‖Δ‖/‖W‖ of a whole part below this: the part is skipped
    device: str = "cpu"
    save_dtype: str = "fp16"  # fp16 | bf16 | fp32

    def validate(self) -> None:
        from lora_for_dummies.environment import check_device
        from lora_for_dummies.ranges import check_fields

        self.rule.validate()
        if self.conv_rule:
            self.conv_rule.validate()
        check_fields(self, "extract", "")
        if self.save_dtype not in _DTYPES:
            raise UserError(f"save dtype must be one of {', '.join(_DTYPES)}, not "
                            f"{self.save_dtype!r}")
        check_device(self.device)


@dataclass
class ModuleReport:
    part: str
    name: str
    shape: list[int]
    difference: float  # ‖Δ‖ / ‖W_base‖
    rank: int
    error: float  # ‖Δ − ΔLoRA‖ / ‖Δ‖
    clamp_error: float | None = None
    skipped: str = ""


@dataclass
class ExtractReport:
    modules: list[ModuleReport] = field(default_factory=list)
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    output: str = ""
    notes: list[str] = field(default_factory=list)  # what the family left out, and why

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> list[str]:
        lines = []
        for part, info in self.parts.items():
            # Count what the file holds: a module without any change is not written.
            state = f"SKIPPED ({info['reason']})" if info["skipped"] else "kept"
            unchanged = f" ({info['unchanged']} unchanged, not written)" \
                if info.get("unchanged") else ""
            lines.append(f"{part}: {info['written']} modules written{unchanged}, difference "
                         f"{info['difference']:.2e}, mean error {info['mean_error']:.4f} — "
                         f"{state}")
        return lines + self.notes + ([f"saved {self.output}"] if self.output else [])


_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
NO_DIFFERENCE = ("the two models have no difference that a LoRA can hold (identical weights in "
                 "every adaptable layer)")


def _read(file: CheckpointFile, target: Target, key: str) -> Any:
    tensor = file.get(key)
    if target.third is not None:
        tensor = tensor.chunk(3, dim=0)[target.third]
    return tensor


def check_pair(base: Path, tuned: Path) -> tuple[str, bool]:
    """Same family and variant, different files. Returns (family, v_prediction)."""
    base_info = inspect_checkpoint(base, compute_hash=False)
    tuned_info = inspect_checkpoint(tuned, compute_hash=False)
    if base_info.family != tuned_info.family:
        raise UserError(f"{Path(base).name} is {base_info.family_title} but {Path(tuned).name} "
                        f"is {tuned_info.family_title}: both must be the same family")
    if base_info.inpainting != tuned_info.inpainting:
        raise UserError("one model is an inpainting model and the other is not: extract from "
                        "the matching base")
    if Path(base).resolve() == Path(tuned).resolve():
        raise UserError("base and fine-tuned model are the same file")
    return base_info.family, tuned_info.prediction == "v"


def check_extraction(base: str | Path, tuned: str | Path, lora_dir: str | Path, name: str,
                     settings: ExtractSettings, overwrite: bool) -> tuple[Path, str, bool]:
    """What refuses an extraction before any weight is read (the job API answers these with
    4xx at once): the settings, the output's name and a clash, a pair of different models (or
    families), then what the family refuses (`Family.check_extraction`: a rank above every
    layer, an option that does not apply). Returns (output, family, v-prediction)."""
    settings.validate()
    output = output_path(lora_dir, name)
    if output.exists() and not overwrite:
        raise UserError(f"{output.name} already exists; choose another name or allow "
                        "overwriting")
    family, v_prediction = check_pair(Path(base), Path(tuned))
    get_family(family).check_extraction(Path(base), Path(tuned), settings)
    return output, family, v_prediction


def check_rank(rank: int, largest: int) -> None:
    """A fixed rank (or a dynamic rank's cap) no layer of the model can hold is refused."""
    if rank > largest:
        raise UserError(f"rank {rank} is larger than every layer of this model (the largest "
                        f"allows {largest})")


def check_sd_extraction(base: Path, family: str, settings: ExtractSettings) -> None:
    """Stable Diffusion's part of `check_extraction`: the rank against its UNet and CLIP
    layers."""
    with CheckpointFile(base) as base_file:
        configs = resolve_configs(base_file, family)
        targets = extraction_targets(family, configs, settings.text_encoders,
                                     settings.conv_rule is not None, keys=base_file.keys())
        largest = max(min(base_file.shape(t.key)[0] // (3 if t.third is not None else 1),
                          _fan_in(base_file.shape(t.key))) for t in targets)
    check_rank(settings.rule.rank, largest)


def extract_lora(base: str | Path, tuned: str | Path, lora_dir: str | Path, name: str,
                 settings: ExtractSettings | None = None, reporter: Reporter | None = None,
                 overwrite: bool = False, preview: str | Path | None = None) -> ExtractReport:
    """Write `<lora_dir>/<name>.safetensors` holding tuned − base, in the format of the base's
    family: the family's own extraction (`Family.extract`) does the work and its checks."""
    family = inspect_checkpoint(base, compute_hash=False).family
    return get_family(family).extract(Path(base), Path(tuned), Path(lora_dir), name,
                                      settings or ExtractSettings(), reporter or Reporter(),
                                      overwrite, preview)


def extraction_comment(base: str | Path, tuned: str | Path, settings: ExtractSettings,
                       hashes: HashAhead) -> str:
    """What an extracted file's metadata and sidecar say it came from (names, hashes, rule)."""
    return (f"extracted by LoRA for Dummies from {Path(tuned).name} minus {Path(base).name} "
            f"(sha256 {short_hash(hashes.sha256(tuned))} − "
            f"{short_hash(hashes.sha256(base))}); rank rule {settings.rule.mode} "
            f"{settings.rule.rank}")


def write_extraction_sidecar(output: Path, family: str, comment: str,
                             preview: str | Path | None) -> None:
    """The webui's Lora card beside an extracted file (and its preview image if given)."""
    preview_image = None
    if preview:
        from lora_for_dummies.dataset.imageio import load_image

        preview_image = load_image(Path(preview)).image
    write_sidecar(output, family, notes=comment, preview=preview_image)


def save_dtype(settings: ExtractSettings) -> Any:
    import torch

    return getattr(torch, _DTYPES.get(settings.save_dtype, "float16"))


def extract_sd_lora(base: Path, tuned: Path, lora_dir: Path, name: str,
                    settings: ExtractSettings, reporter: Reporter, overwrite: bool = False,
                    preview: str | Path | None = None) -> ExtractReport:
    """Stable Diffusion 1 / 2 / XL (`StableDiffusionFamily.extract`): the UNet's and the text
    encoders' modules, linear and (with `conv_rule`) conv, in kohya's names."""
    output, family, v_prediction = check_extraction(base, tuned, lora_dir, name, settings,
                                                    overwrite)
    name = output.stem
    hashes = HashAhead((tuned, base))  # beside the reading below, not a second pass after
    report = ExtractReport()
    modules: dict[str, LoraModule] = {}
    with CheckpointFile(base) as base_file, CheckpointFile(tuned) as tuned_file, \
            ThreadGovernor() as governor:
        configs = resolve_configs(base_file, family)
        targets = extraction_targets(family, configs, settings.text_encoders,
                                     settings.conv_rule is not None, keys=base_file.keys())
        reporter.start(len(targets), f"Extracting {name}")
        sums: dict[str, list[float]] = {}
        pairs = _pairs(base_file, tuned_file, targets, settings)
        for index, (target, weight_norm, delta, delta_norm) in enumerate(pairs, start=1):
            if reporter.should_stop():
                raise UserError("extraction stopped; nothing was written")
            governor.update()
            module_report, module = factor_module(target, weight_norm, delta, delta_norm,
                                                  settings)
            report.modules.append(module_report)
            norms = sums.setdefault(target.part, [0.0, 0.0])
            norms[0] += delta_norm ** 2
            norms[1] += weight_norm ** 2
            if module is not None:
                modules[target.name] = module
            reporter.step(index, target.name)
    judge_parts(report, sums, settings, modules)
    if not modules:
        raise UserError(NO_DIFFERENCE)
    ranks = [m.rank for m in modules.values() if m.down.dim() == 2 or m.down.shape[-1] == 1]
    conv_ranks = [m.rank for m in modules.values() if m.down.dim() == 4 and m.down.shape[-1] > 1]
    comment = extraction_comment(base, tuned, settings, hashes)
    metadata = lora_metadata(family, name, max(ranks or [0]), max(ranks or [0]), v_prediction,
                             comment, conv_rank=max(conv_ranks or [0]),
                             conv_alpha=max(conv_ranks or [0]))
    output.parent.mkdir(parents=True, exist_ok=True)  # the Lora folder itself, never deeper
    save_lora(output, modules, metadata, dtype=save_dtype(settings), overwrite=overwrite)
    write_extraction_sidecar(output, family, comment, preview)
    report.output = str(output)
    reporter.finish(f"saved {output.name}")
    return report


def _fan_in(shape: tuple[int, ...]) -> int:
    fan_in = 1
    for dim in shape[1:]:
        fan_in *= dim
    return fan_in


def _pairs(base_file: CheckpointFile, tuned_file: CheckpointFile, targets: list[Target],
           settings: ExtractSettings) -> Iterator[Any]:
    """(target, ‖base weight‖, tuned − base in fp32, ‖tuned − base‖), one pair in memory at a
    time. (Reading ahead in a thread was measured: on 2 cores it made extraction 1.5× slower,
    the reader's conversions competing with torch's own threads.)"""
    import torch

    for target in targets:
        tuned_key = ema_key(target.key) if settings.use_ema and target.key.startswith(
            UNET_PREFIX) else target.key
        if target.key not in base_file or tuned_key not in tuned_file:
            missing = target.key if target.key not in base_file else tuned_key
            raise UserError(f"{missing} is missing from one of the files"
                            + (" (no EMA weights?)" if settings.use_ema else ""))
        weight = _read(base_file, target, target.key).to(settings.device, torch.float32)
        tuned = _read(tuned_file, target, tuned_key).to(settings.device, torch.float32)
        if tuned.shape != weight.shape:
            raise UserError(f"{target.name}: shapes differ between the two files")
        weight_norm = float(weight.norm())
        # A NaN or infinity makes a tensor's norm non-finite, so two norms (one needed anyway)
        # stand in for a full isfinite pass over both tensors, which took a fifth of a warm
        # SD1.5 extraction. Only a non-finite norm (or a finite overflow) leads to the full check.
        if not (math.isfinite(weight_norm) and math.isfinite(float(tuned.norm()))):
            _check_finite(((weight, base_file, target.key), (tuned, tuned_file, tuned_key)))
        # In place: nothing reads this region again (from an fp32 .ckpt it is the reader's own
        # tensor, and a fused q/k/v is read a third at a time; a test compares with .safetensors).
        delta = tuned.sub_(weight)
        del weight  # else this frame holds the base's fp32 copy through the module's SVD
        yield target, weight_norm, delta, float(delta.norm())


def _check_finite(tensors: tuple[tuple[Any, CheckpointFile, str], ...]) -> None:
    """Name the tensor that holds NaN or infinity (else the SVD dies with LinAlgError)."""
    import torch

    for tensor, file, key in tensors:
        if not bool(torch.isfinite(tensor).all()):
            raise UserError(f"{file.path.name}: the tensor {key} holds NaN or infinity; "
                            "the model is broken, nothing was written")


def factor_module(target: Target, base_norm: float, delta: Any, delta_norm: float,
                  settings: ExtractSettings) -> tuple[ModuleReport, LoraModule | None]:
    """One module's report and LoRA factors (None: the module did not change)."""
    difference = delta_norm / (base_norm or 1.0)
    shape = list(delta.shape)
    if difference == 0.0:
        return ModuleReport(target.part, target.name, shape, 0.0, 0, 0.0, skipped="no change"), \
            None
    rule = settings.conv_rule if target.conv and settings.conv_rule else settings.rule
    matrix = delta.flatten(1)
    factors = factorize(matrix, rule, norm=delta_norm)
    clamp_error = None
    if settings.clamp:
        factors, clamp_error = clamp_quantile(factors, matrix, settings.clamp)
    rank = factors.down.shape[0]
    # Held until the file is written, so kept in the file's dtype at once (the writer casts to
    # it anyway): fp32 factors of a rank-32 SD 1.5 pair held 180 MB.
    dtype = save_dtype(settings)
    down, up = factors.down.to("cpu", dtype), factors.up.to("cpu", dtype)
    if delta.dim() == 4:
        down = down.reshape(rank, *delta.shape[1:])
        up = up.reshape(delta.shape[0], rank, 1, 1)
    report = ModuleReport(target.part, target.name, shape, difference, rank,
                          clamp_error if clamp_error is not None else factors.relative_error,
                          clamp_error)
    return report, LoraModule(down, up, float(rank))


def judge_parts(report: ExtractReport, sums: dict[str, list[float]],
                settings: ExtractSettings, modules: dict[str, LoraModule]) -> None:
    """Each part's line of the report (`sums`: part → [Σ‖Δ‖², Σ‖W‖²]); a part whose whole
    difference is below `min_part_difference` is skipped and its modules dropped."""
    for part, (delta_sq, weight_sq) in sums.items():
        entries = [m for m in report.modules if m.part == part]
        kept = [m for m in entries if not m.skipped]
        difference = math.sqrt(delta_sq) / math.sqrt(weight_sq or 1.0)
        skipped = difference < settings.min_part_difference
        reason = f"difference {difference:.2e} < {settings.min_part_difference:.0e}" \
            if skipped else ""
        if skipped:
            for entry in entries:
                entry.skipped = entry.skipped or "part below threshold"
                modules.pop(entry.name, None)
        report.parts[part] = {
            "modules": len(entries), "difference": difference, "skipped": skipped,
            "written": sum(1 for m in entries if m.name in modules),
            "unchanged": sum(1 for m in entries if m.skipped == "no change"),
            "reason": reason,
            "mean_error": sum(m.error for m in kept) / len(kept) if kept else 0.0,
        }
