"""`python -m lora_for_dummies dataset create|import|process|caption|tags|check|export-kohya|
import-kohya`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lora_for_dummies import families
from lora_for_dummies.dataset.wd14 import DEFAULT_CHARACTER, DEFAULT_GENERAL
from lora_for_dummies.errors import UserError
from lora_for_dummies.progress import ConsoleReporter


def _dataset(args: argparse.Namespace):
    from lora_for_dummies.dataset.layout import open_dataset
    from lora_for_dummies.names import check_name

    return open_dataset(Path(args.datasets_dir) / check_name(args.name))


def _create(args: argparse.Namespace) -> int:
    from lora_for_dummies.dataset.layout import create_dataset

    dataset = create_dataset(Path(args.datasets_dir), args.name, args.concept)
    titles = ", ".join(c.title for c in dataset.concepts.values())
    print(f"created {dataset.root} (concepts: {titles})")
    return 0


def _import(args: argparse.Namespace) -> int:
    from lora_for_dummies.dataset.layout import import_images

    report = import_images(_dataset(args), [Path(p) for p in args.paths], args.concept)
    print(f"copied {len(report.copied)} images and {len(report.captions)} captions")
    for line in report.skipped:
        print(f"skipped {line}")
    return 0


def _process(args: argparse.Namespace) -> int:
    from lora_for_dummies.dataset.process import ProcessSettings, process_concept

    settings = ProcessSettings.for_family(args.family, crop=args.crop, tiles=args.tiles,
                                          flip=args.flip, format=args.format,
                                          quality=args.quality, background=args.background)
    settings.high = args.high or settings.high
    settings.low = args.low or settings.low
    dataset = _dataset(args)
    concepts = [dataset.concept(args.concept)] if args.concept is not None else \
        list(dataset.concepts.values())
    failed = 0
    for concept in concepts:
        report = process_concept(dataset, concept, settings, ConsoleReporter())
        for line in report.lines():
            print(line)
        failed += len(report.failed)
    return 1 if failed else 0


def _caption(args: argparse.Namespace) -> int:
    from lora_for_dummies.dataset.autocaption import LOCAL, CaptionOptions, caption_concept, summary
    from lora_for_dummies.dataset.model_download import model_folder
    from lora_for_dummies.dataset.wd14 import TagSettings

    tags = TagSettings(args.threshold, args.character_threshold, args.keep_rating, args.escape,
                       tuple(t.strip() for t in args.blacklist.split(",") if t.strip()),
                       drop_traits=args.drop_traits)
    tags.check()  # before a model loads
    if not 0 <= args.preview <= 100:
        raise UserError(f"--preview {args.preview} is out of range: 0-100 (0 captions all)")
    dataset = _dataset(args)
    folder = model_folder(args.model, args.captioner, Path(args.captioners_dir),
                          ConsoleReporter())
    captioner = LOCAL[args.captioner][1](CaptionOptions(str(folder), tags))
    report = caption_concept(dataset, dataset.concept(args.concept), captioner, args.mode,
                             ConsoleReporter(), args.preview)
    print(summary(report))
    return 1 if report.failed else 0


def _tags(args: argparse.Namespace) -> int:
    from lora_for_dummies.dataset.captions import caption_files, tag_frequency

    dataset = _dataset(args)
    high = dataset.folder(dataset.concept(args.concept), "high")
    files = caption_files(high) if high.is_dir() else []
    counts = tag_frequency(files)
    print(f"{len(counts)} tags in the captions of {len(files)} images ({high.name})")
    for tag, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        print(f"{count:6d}  {tag}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from lora_for_dummies.dataset.preflight import run_preflight

    report = run_preflight(_dataset(args), args.resolution, args.batch_size, args.epochs,
                           args.family)
    print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    return 0


def _export(args: argparse.Namespace) -> int:
    from lora_for_dummies.dataset.kohya import export_kohya

    for folder in export_kohya(_dataset(args), Path(args.destination), args.resolution):
        print(f"wrote {folder}")
    return 0


def _import_kohya(args: argparse.Namespace) -> int:
    from lora_for_dummies.dataset.kohya import import_kohya

    skipped: list[str] = []
    dataset = import_kohya(Path(args.source), Path(args.datasets_dir), args.name, skipped)
    for line in skipped:
        print(f"skipped {line}")
    for concept in dataset.concepts.values():
        print(f"concept {concept.title}: token {concept.token!r}, repeats {concept.repeats}")
    return 0


def add_dataset_commands(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("dataset", help="create, import, process and check datasets")
    parser.add_argument("--datasets-dir", default="lfd_data/datasets",
                        help="folder holding datasets (default lfd_data/datasets)")
    commands = parser.add_subparsers(dest="dataset_command", required=True)

    create = commands.add_parser("create", help="create NAME/IMGS and its processed folders")
    create.add_argument("name", help="the dataset's name (a folder under --datasets-dir)")
    create.add_argument("--concept", default="", help="an extra concept (IMGS_<concept>)")
    create.set_defaults(func=_create)

    imp = commands.add_parser("import", help="copy images (and .txt captions) into IMGS")
    imp.add_argument("name", help="the dataset to import into (created if missing)")
    imp.add_argument("paths", nargs="+", help="image files or folders")
    imp.add_argument("--concept", default="",
                     help="import into this concept's IMGS_<concept> (default: the main one)")
    imp.set_defaults(func=_import)

    process = commands.add_parser("process", help="IMGS → HIGHRES_CONCEPT and LOWRES_CONCEPT")
    process.add_argument("name", help="the dataset to process")
    process.add_argument("--concept", default=None, help="one concept (default: all)")
    process.add_argument("--family", default=families.DEFAULT, choices=families.keys(),
                         help="sets the default resolutions (SD1 768/512, SDXL 1024/768)")
    process.add_argument("--high", type=int, default=0,
                         help="side of HIGHRES_CONCEPT images in px (0: the family's default)")
    process.add_argument("--low", type=int, default=0,
                         help="side of LOWRES_CONCEPT images in px (0: the family's default)")
    process.add_argument("--crop", default="center", choices=["center", "focal", "bucket"],
                         help="center crop, crop around the focal point, or no crop "
                              "(aspect-ratio buckets)")
    process.add_argument("--tiles", action="store_true", help="split very tall/wide images")
    process.add_argument("--flip", action="store_true", help="also write mirrored copies")
    process.add_argument("--format", default="png", choices=["png", "jpeg", "webp"],
                         help="file format of the processed images")
    process.add_argument("--quality", type=int, default=95,
                         help="JPEG / WebP quality, 1-100 (PNG is lossless)")
    process.add_argument("--background", default="#ffffff", help="colour behind transparency")
    process.set_defaults(func=_process)

    caption = commands.add_parser("caption", help="auto-caption a concept's processed images")
    caption.add_argument("name", help="the dataset to caption")
    caption.add_argument("--concept", default="", help="the concept (default: the main one)")
    caption.add_argument("--captioner", default="wd14", choices=["wd14", "florence2", "blip"],
                         help="wd14: booru tags (anime SDXL); florence2: a paragraph (Flux, "
                              "photo models; transformers 4.56+); blip: a short sentence")
    caption.add_argument("--model", required=True,
                         help="the captioner's model: a folder on this computer (WD14: "
                              "model.onnx and selected_tags.csv; never downloads), or a "
                              "Hugging Face repository such as SmilingWolf/wd-vit-tagger-v3, "
                              "downloaded once into --captioners-dir")
    caption.add_argument("--captioners-dir", default="lfd_data/captioners",
                         help="where downloaded captioner models are kept "
                              "(default lfd_data/captioners)")
    caption.add_argument("--threshold", type=float, default=DEFAULT_GENERAL,
                         help=f"WD14: general tags at least this sure, 0-1 "
                              f"(default {DEFAULT_GENERAL})")
    caption.add_argument("--character-threshold", type=float, default=DEFAULT_CHARACTER,
                         help=f"WD14: character tags, 0-1 (default {DEFAULT_CHARACTER})")
    caption.add_argument("--keep-rating", action="store_true",
                         help="WD14: add the likeliest rating tag last")
    caption.add_argument("--escape", action="store_true",
                         help="WD14: write \\( \\) for captions pasted into A1111 prompts")
    caption.add_argument("--drop-traits", action="store_true",
                         help="WD14: leave out the character's own look (hair, eyes, ears, "
                              "tail, …) for a character LoRA; the output lists what was left out")
    caption.add_argument("--blacklist", default="", help="WD14: comma-separated tags never written")
    caption.add_argument("--mode", default="skip", choices=["overwrite", "append", "skip"],
                         help="images already captioned: skip (default), append or overwrite")
    caption.add_argument("--preview", type=int, default=0, metavar="N",
                         help="caption only N images and print them, writing nothing "
                              "(0-100; default 0: caption all)")
    caption.set_defaults(func=_caption)

    tags = commands.add_parser("tags", help="every tag of a concept's captions with its count")
    tags.add_argument("name", help="the dataset")
    tags.add_argument("--concept", default="", help="the concept (default: the main one)")
    tags.set_defaults(func=_tags)

    check = commands.add_parser("check", help="pre-flight report as JSON")
    check.add_argument("name", help="the dataset to check")
    check.add_argument("--resolution", type=int, default=512,
                       help="training resolution: smaller images are reported")
    check.add_argument("--batch-size", type=int, default=1, help="for the steps per epoch")
    check.add_argument("--epochs", type=int, default=10, help="for the time estimate")
    check.add_argument("--family", default=families.DEFAULT, choices=families.keys(),
                       help="model family, for the time and VRAM estimate")
    check.set_defaults(func=_check)

    export = commands.add_parser("export-kohya", help="write kohya's N_token folders")
    export.add_argument("name", help="the dataset to export")
    export.add_argument("destination", help="folder to write kohya's N_token folders into")
    export.add_argument("--resolution", default="high", choices=["high", "low"],
                        help="export the HIGHRES or the LOWRES images")
    export.set_defaults(func=_export)

    imk = commands.add_parser("import-kohya", help="make a dataset from kohya's N_token folders")
    imk.add_argument("source", help="kohya's training folder (holding N_token folders)")
    imk.add_argument("name", help="name of the new dataset")
    imk.set_defaults(func=_import_kohya)
