"""What is this file? Family, variant, prediction type, parts present, dtype, sizes and hashes.

Detection reads key names and shapes only (plus a little metadata), so it is instant even for
multi-GB files; hashing is the one slow step and is cached.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.checkpoints.hashing import legacy_hash, sha256_file, short_hash
from lora_for_dummies.checkpoints.model_lines import (
    PLAIN_CAPTIONS,
    ModelLine,
    clip_skip_hint,
    model_line,
)
from lora_for_dummies.checkpoints.reader import CheckpointFile
from lora_for_dummies.errors import CheckpointError, SeparatePart
from lora_for_dummies.families import (
    UNET_PREFIX,
    VAE_PREFIX,
    all_families,
    get_family,
    recognise,
)

_FIRST_CONV = UNET_PREFIX + "input_blocks.0.0.weight"


def _known() -> str:
    return ", ".join(family.short_title for family in all_families())


def detect_family(ckpt: CheckpointFile) -> str:
    """The key of the file's family (`families.recognise`), or a CheckpointError saying what the
    file is instead (`SeparatePart` for a family's separate part or LoRA)."""
    keys = ckpt.keys()
    for family in all_families():  # a family's own part or LoRA is named, not refused
        part = family.separate_part(ckpt)
        if part is not None:
            raise SeparatePart(ckpt.path, *part)
    if any(k.startswith(("lora_unet_", "lora_te")) or ".lora_down." in k or ".lora_A." in k
           or k.startswith("lora_") for k in keys):
        raise CheckpointError(ckpt.path, msg.IS_LORA.text)
    family = recognise(ckpt)
    if family is not None:
        refusal = family.refusal(ckpt)
        if refusal:
            raise CheckpointError(ckpt.path, refusal)
        return family.key
    if not any(k.startswith(UNET_PREFIX) for k in keys):
        if any(k.startswith(("encoder.", "decoder.", VAE_PREFIX)) for k in keys):
            raise CheckpointError(ckpt.path, msg.IS_VAE.text)
        if any(k in ("string_to_param", "emb_params", "clip_l", "clip_g") for k in keys):
            raise CheckpointError(ckpt.path, msg.IS_EMBEDDING.text)
        example = keys[0] if keys else "no tensors"
        raise CheckpointError(ckpt.path, msg.UNKNOWN_ARCHITECTURE.format(
            families=_known(), count=len(keys), example=example))
    if any(".joint_blocks." in k or ".double_blocks." in k for k in keys):
        raise CheckpointError(ckpt.path, f"unknown architecture (SD3/Flux-style, but not a "
                              f"Flux file this project reads); supported: {_known()}")
    raise CheckpointError(ckpt.path, msg.NO_TEXT_ENCODER.text)


@dataclass
class ModelInfo:
    path: str
    file_name: str
    size_bytes: int
    format: str
    family: str
    family_title: str
    variant: str
    prediction: str  # epsilon | v | unknown
    prediction_source: str
    zero_terminal_snr: bool
    zero_terminal_snr_source: str
    inpainting: bool
    has_ema: bool
    has_vae: bool
    dtype: str
    parameters: dict[str, int]
    clip_skip: int
    clip_skip_reason: str
    model_line: str  # Pony, Illustrious, NoobAI… from the name ("" when none is recognised)
    caption_hint: str  # how captions for this model are usually written
    variant_key: str = ""  # the family's own variant name (Flux: dev | schnell | chroma)
    extra_rows: list[tuple[str, str]] = field(default_factory=list)  # the family's own rows
    hidden_rows: list[str] = field(default_factory=list)  # rows that do not apply to it
    sha256: str = ""
    short_hash: str = ""
    legacy_hash: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs in the order the Models tab and `inspect` show them."""
        millions = ", ".join(f"{k} {v / 1e6:.1f}M" for k, v in self.parameters.items() if v)
        rows = [
            ("File", self.file_name),
            ("Family", self.family_title),
            ("Variant", self.variant),
            ("Prediction", f"{self.prediction} ({self.prediction_source})"),
            ("Zero terminal SNR", f"{'yes' if self.zero_terminal_snr else 'no'} "
                                  f"({self.zero_terminal_snr_source})"),
            ("Inpainting", "yes (9 input channels)" if self.inpainting else "no"),
            ("EMA weights", "yes" if self.has_ema else "no"),
            ("VAE included", "yes" if self.has_vae else "no — choose a VAE when sampling"),
            ("Precision", self.dtype),
            ("Parameters", millions),
            ("Model line", f"{self.model_line} (from the name)" if self.model_line else
             "not recognised from the name"),
            ("Suggested clip skip", f"{self.clip_skip} ({self.clip_skip_reason})"),
            ("Captions", self.caption_hint),
        ] + list(self.extra_rows) + [
            ("Size", f"{self.size_bytes / 2**30:.2f} GiB" if self.size_bytes >= 2**30
             else f"{self.size_bytes / 2**20:.1f} MiB"),
            ("SHA256", self.sha256 or "not computed"),
            ("Short hash", self.short_hash or "-"),
            ("Legacy hash", self.legacy_hash or "-"),
        ] + [("Warning", w) for w in self.warnings]
        return [row for row in rows if row[0] not in self.hidden_rows]


def _prediction(ckpt: CheckpointFile, family: str, override: str | None) -> tuple[str, str]:
    if not get_family(family).prediction_from_file:
        return get_family(family).default_prediction()
    if override in ("v", "epsilon"):
        return override, "set by you"
    spec = ckpt.metadata.get("modelspec.prediction_type", "").lower()
    if spec in ("v", "epsilon"):
        return spec, "from the file's modelspec metadata"
    if "v_pred" in ckpt:
        return "v", "the file has a v_pred marker"
    yaml = ckpt.path.with_suffix(".yaml")
    if yaml.is_file():
        text = yaml.read_text(encoding="utf-8", errors="replace")
        if re.search(r"parameterization:\s*[\"']?v[\"']?\s*$", text, re.MULTILINE):
            return "v", f"from {yaml.name}"
        return "epsilon", f"from {yaml.name}"
    return get_family(family).default_prediction()


# A `<model>.yaml` beside the file that names a zero-SNR schedule (diffusers' option name, the
# ztsnr marker's name, or an sgm "ZeroSNR" discretization target).
_YAML_ZTSNR = re.compile(r"(rescale_betas_zero_snr|zero_terminal_snr|ztsnr)\s*:\s*[\"']?true"
                         r"|ZeroSNR", re.IGNORECASE)
_TRUE = ("true", "1", "yes")


def _zero_terminal_snr(ckpt: CheckpointFile, override: bool | None) -> tuple[bool, str]:
    """Zero terminal SNR (Lin et al. 2023: the noise schedule reaches pure noise at the last
    step; NoobAI-XL V-Pred is trained so). Found as v-prediction is: a user override, metadata,
    the `ztsnr` marker key that A1111 dev, Forge Neo and ComfyUI read, the `.yaml` beside."""
    if override is not None:
        return override, "set by you"
    for key in ("modelspec.zero_terminal_snr", "ss_zero_terminal_snr"):
        if key in ckpt.metadata:
            return ckpt.metadata[key].strip().lower() in _TRUE, f"from the file's {key} metadata"
    if "ztsnr" in ckpt:
        return True, "the file has a ztsnr marker"
    yaml = ckpt.path.with_suffix(".yaml")
    if yaml.is_file() and _YAML_ZTSNR.search(yaml.read_text(encoding="utf-8", errors="replace")):
        return True, f"from {yaml.name}"
    return False, "no ztsnr marker, metadata or .yaml says so"


def _model_line(ckpt: CheckpointFile, family: str) -> ModelLine | None:
    names = [ckpt.path.stem] + [v for k, v in ckpt.metadata.items()
                                if k in ("modelspec.title", "modelspec.description")]
    return model_line(family, names)


def inspect_checkpoint(path: str | Path, compute_hash: bool = True,
                       prediction_override: str | None = None,
                       zero_terminal_snr_override: bool | None = None) -> ModelInfo:
    """Everything the Models tab shows about one checkpoint. Raises CheckpointError if unusable."""
    path = Path(path)
    with CheckpointFile(path) as ckpt:
        family = detect_family(ckpt)
        keys = ckpt.keys()
        spec = get_family(family)
        params: dict[str, int] = {"unet": 0, "vae": 0}
        params.update({te.name: 0 for te in spec.text_encoders})
        dtypes: Counter[str] = Counter()
        for key in keys:
            count = 1
            for dim in ckpt.shape(key):
                count *= dim
            part = spec.part_of(key, ckpt)
            if part:
                params[part] += count
                dtypes[ckpt.dtype(key)] += count
        inpainting = _FIRST_CONV in ckpt and len(ckpt.shape(_FIRST_CONV)) == 4 \
            and ckpt.shape(_FIRST_CONV)[1] == 9
        prediction, source = _prediction(ckpt, family, prediction_override)
        ztsnr, ztsnr_source = _zero_terminal_snr(ckpt, zero_terminal_snr_override)
        line = _model_line(ckpt, family)
        clip_skip, clip_reason = clip_skip_hint(family, line)
        metadata = {k: v for k, v in ckpt.metadata.items() if not k.startswith("lfd.")}
        details = spec.describe(ckpt)
        info = ModelInfo(
            path=str(path), file_name=path.name, size_bytes=path.stat().st_size,
            format=ckpt.format, family=family, family_title=spec.title,
            variant=details.variant_title or spec.variant(prediction, inpainting, ztsnr),
            variant_key=details.variant_key, extra_rows=details.rows,
            hidden_rows=list(details.hidden_rows),
            prediction=prediction, prediction_source=source, zero_terminal_snr=ztsnr,
            zero_terminal_snr_source=ztsnr_source, inpainting=inpainting,
            has_ema=any(k.startswith("model_ema.") and k != "model_ema.decay"
                        and k != "model_ema.num_updates" for k in keys),
            has_vae=params["vae"] > 0,
            dtype=dtypes.most_common(1)[0][0] if dtypes else "unknown",
            parameters=params, clip_skip=clip_skip, clip_skip_reason=clip_reason,
            model_line=line.name if line else "",
            caption_hint=line.caption_hint if line else PLAIN_CAPTIONS,
            metadata=dict(sorted(metadata.items())[:40]),
        )
    info.warnings += details.warnings
    if not info.has_vae and spec.single_file:
        info.warnings.append("no VAE inside: samples need a separate VAE file")
    if info.zero_terminal_snr and info.prediction == "epsilon":
        info.warnings.append("zero terminal SNR with epsilon prediction cannot work (at the "
                             "last step there is no noise left to predict): set v-prediction")
    if compute_hash:
        info.sha256 = sha256_file(path)
        info.short_hash = short_hash(info.sha256)
        info.legacy_hash = legacy_hash(path)
    return info

