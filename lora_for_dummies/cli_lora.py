"""`python -m lora_for_dummies extract|convert|rescale|resize|merge|lora-info …`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lora_for_dummies.progress import ConsoleReporter


def _rule(args: argparse.Namespace, prefix: str = ""):
    from lora_for_dummies.lora.lowrank import RankRule

    return RankRule(mode=getattr(args, prefix + "rank_mode", "fixed"),
                    rank=getattr(args, prefix + "rank"),
                    threshold=getattr(args, prefix + "threshold", 0.9),
                    exact=getattr(args, "exact_svd", False))


def _extract(args: argparse.Namespace) -> int:
    from lora_for_dummies.extract.run import ExtractSettings, extract_lora
    from lora_for_dummies.lora.lowrank import RankRule

    settings = ExtractSettings(
        rule=_rule(args), text_encoders=not args.no_text_encoder, use_ema=args.ema,
        conv_rule=RankRule(rank=args.conv_rank, exact=args.exact_svd) if args.conv_rank else None,
        clamp=args.clamp, device=args.device, save_dtype=args.dtype)
    report = extract_lora(args.base, args.tuned, args.lora_dir, args.name, settings,
                          ConsoleReporter(), overwrite=args.overwrite, preview=args.preview)
    if args.report:
        Path(args.report).write_text(json.dumps(report.as_dict(), indent=1), encoding="utf-8")
    for line in report.summary():
        print(line)
    return 0


def _convert(args: argparse.Namespace) -> int:
    from lora_for_dummies.lora.convert import convert_to_kohya

    sources = [Path(args.source)] + ([Path(args.text)] if args.text else [])
    out, note, count = convert_to_kohya(sources, Path(args.base), Path(args.lora_dir),
                                        args.name or "", args.overwrite)
    print(f"{note}: {count} modules → {out}")
    return 0


def _load(path: str):
    from lora_for_dummies.lora.format import load_lora

    return load_lora(path)


def _rescale(args: argparse.Namespace) -> int:
    from lora_for_dummies.lora.format import load_modules
    from lora_for_dummies.lora.tools import rescale, save_like

    modules, metadata = load_modules(args.lora)  # every kind: LoHa, LoKr, full rescale too
    out = save_like(args.output, rescale(modules, args.factor), metadata,
                    f"strength baked ×{args.factor}", args.overwrite)
    print(f"wrote {out}")
    return 0


def _resize(args: argparse.Namespace) -> int:
    from lora_for_dummies.lora.tools import capped_note, resize, save_like

    modules, metadata = _load(args.lora)
    resized, errors = resize(modules, _rule(args))
    out = save_like(args.output, resized, metadata, f"resized ({args.rank_mode} {args.rank})",
                    args.overwrite)
    worst = max(errors, key=errors.get)
    print(f"wrote {out}: mean relative error {sum(errors.values()) / len(errors):.4f}, "
          f"worst {errors[worst]:.4f} ({worst})")
    note = capped_note(modules, args.rank)
    if note:
        print(note)
    return 0


def _merge(args: argparse.Namespace) -> int:
    from lora_for_dummies.errors import UserError
    from lora_for_dummies.lora.tools import merge, save_like

    weights = args.weights or [1.0] * len(args.loras)
    if len(weights) != len(args.loras):
        raise UserError("give one --weights value per LoRA")
    loaded = [_load(path) for path in args.loras]
    rule = _rule(args) if args.rank else None
    merged = merge([m for m, _ in loaded], weights, rule)
    note = "merged " + ", ".join(f"{Path(p).name}×{w}" for p, w in zip(args.loras, weights,
                                                                         strict=True))
    out = save_like(args.output, merged, loaded[0][1], note, args.overwrite)
    print(f"wrote {out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from lora_for_dummies.lora.tools import lora_info

    info = lora_info(args.lora)
    if args.json:
        print(json.dumps(info.as_dict(), indent=2))
        return 0
    print(f"{info.file}: {info.modules} modules, ranks {info.ranks}, alphas {info.alphas}")
    print("kinds: " + ", ".join(f"{label} {count}" for label, count in info.kinds.items()))
    print(f"parts: {info.parts}; base model: {info.base_model_version}")
    for warning in info.warnings:
        print(f"warning: {warning}")
    return 0


def _rank_options(parser: argparse.ArgumentParser, default: int | None = 32,
                  rank_help: str = "rank, or the cap for a dynamic rank") -> None:
    parser.add_argument("--rank", type=int, default=default, help=rank_help)
    parser.add_argument("--rank-mode", default="fixed",
                        choices=["fixed", "energy", "frobenius", "ratio"],
                        help="fixed: --rank everywhere; energy / frobenius / ratio: per layer, "
                             "as much as --threshold keeps, capped by --rank")
    parser.add_argument("--threshold", type=float, default=0.9,
                        help="dynamic rank: fraction kept, or smallest σ/σmax (ratio)")
    parser.add_argument("--exact-svd", action="store_true", help="exact SVD (slower)")


_OUTPUT = "the file to write (.safetensors)"
_OVERWRITE = "replace an existing file of that name"


def add_lora_commands(sub: argparse._SubParsersAction) -> None:
    extract = sub.add_parser("extract", help="LoRA = fine-tuned checkpoint − base checkpoint "
                                             "(SD 1.x / 2.x / XL, or two Flux transformers)")
    extract.add_argument("base", help="the checkpoint the fine-tune started from")
    extract.add_argument("tuned", help="the fine-tuned checkpoint (the same family and model)")
    extract.add_argument("--name", required=True, help="LoRA name (file name without suffix)")
    extract.add_argument("--lora-dir", default="lfd_data/Lora",
                         help="where the LoRA is written (default lfd_data/Lora)")
    _rank_options(extract)
    extract.add_argument("--conv-rank", type=int, default=0,
                         help="also conv layers (LoCon; SD only: Flux has none)")
    extract.add_argument("--no-text-encoder", action="store_true",
                         help="UNet only (skip the text encoders' difference; a Flux extraction "
                              "is the transformer's alone, its text encoders are separate files)")
    extract.add_argument("--ema", action="store_true",
                         help="use the fine-tune's EMA weights (SD only)")
    extract.add_argument("--clamp", type=float, default=None, help="quantile clamp, e.g. 0.99")
    extract.add_argument("--device", default="cpu", help="cpu or cuda")
    extract.add_argument("--dtype", default="fp16", choices=["fp16", "bf16", "fp32"],
                         help="precision of the saved LoRA")
    extract.add_argument("--report", help="write the per-module report as JSON")
    extract.add_argument("--preview", help="an image for the webui's Lora card")
    extract.add_argument("--overwrite", action="store_true", help=_OVERWRITE)
    extract.set_defaults(func=_extract)

    convert = sub.add_parser("convert", help="old dreambooth .pt or diffusers/peft → kohya")
    convert.add_argument("source", help="the old LoRA (.pt, or diffusers/peft .safetensors)")
    convert.add_argument("--base", required=True, help="the checkpoint it was trained on")
    convert.add_argument("--text", help="the _txt.pt (default: found beside the source)")
    convert.add_argument("--name", help="name of the new LoRA (default: the source's name)")
    convert.add_argument("--lora-dir", default="lfd_data/Lora",
                         help="where the LoRA is written (default lfd_data/Lora)")
    convert.add_argument("--overwrite", action="store_true", help=_OVERWRITE)
    convert.set_defaults(func=_convert)

    rescale = sub.add_parser("rescale", help="bake a strength into a LoRA (e.g. 0.6)")
    rescale.add_argument("lora", help="the LoRA file")
    rescale.add_argument("factor", type=float, help="strength to bake in (0.6: 60 %%)")
    rescale.add_argument("--output", required=True, help=_OUTPUT)
    rescale.add_argument("--overwrite", action="store_true", help=_OVERWRITE)
    rescale.set_defaults(func=_rescale)

    resize = sub.add_parser("resize", help="change a LoRA's rank")
    resize.add_argument("lora", help="the LoRA file")
    resize.add_argument("--output", required=True, help=_OUTPUT)
    _rank_options(resize)
    resize.add_argument("--overwrite", action="store_true", help=_OVERWRITE)
    resize.set_defaults(func=_resize)

    merge = sub.add_parser("merge", help="weighted merge of LoRAs / saved steps")
    merge.add_argument("loras", nargs="+", help="LoRA files of the same base model")
    merge.add_argument("--weights", type=float, nargs="+",
                       help="one weight per LoRA (default: 1 each)")
    merge.add_argument("--output", required=True, help=_OUTPUT)
    _rank_options(merge, default=None,
                  rank_help="the merged file's rank; leave it out (or 0) for an exact merge: "
                            "the ranks are added up (16 + 16 → 32) and nothing is lost")
    merge.add_argument("--overwrite", action="store_true", help=_OVERWRITE)
    merge.set_defaults(func=_merge)

    info = sub.add_parser("lora-info", help="modules, ranks, alphas, metadata and warnings")
    info.add_argument("lora", help="the LoRA file")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_info)
