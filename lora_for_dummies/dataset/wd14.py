"""WD14 v3 booru taggers (SmilingWolf's `wd-eva02-large-tagger-v3`, `wd-vit-tagger-v3`,
`wd-swinv2-tagger-v3`, …) run with onnxruntime: the tags SDXL anime lines (Illustrious,
NoobAI, Pony) were trained on.

A tagger is a folder holding `model.onnx` and `selected_tags.csv` (or the `.onnx` file with the
csv beside it), as the model repositories ship them. What the model expects is stated on its
card and in SmilingWolf's reference Space (`wd-tagger/app.py`): the image composited on white,
padded to a white square, resized to the model's input size (448), RGB turned to **BGR**,
float32 in 0–255, NHWC; the output is one probability per row of the csv (sigmoid applied
inside the graph). The csv's category says what a row is: 0 general, 4 character, 9 rating.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_for_dummies.dataset.traits import is_trait
from lora_for_dummies.errors import UserError

GENERAL, CHARACTER, RATING = "0", "4", "9"
DEFAULT_GENERAL = 0.35  # kohya's tag_images_by_wd14_tagger.py default
DEFAULT_CHARACTER = 0.85  # SmilingWolf's Space default: a character tag must be sure
# Emoticon tags keep their underscores (`^_^` is not `^ ^`): the list the wd14-tagger extension
# and SmilingWolf's Space use (toriato/stable-diffusion-webui-wd14-tagger, tagger/ui.py).
KAOMOJIS = frozenset({"0_0", "(o)_(o)", "+_+", "+_-", "._.", "<o>_<o>", "<|>_<|>", "=_=",
                      ">_<", "3_3", "6_9", ">_o", "@_@", "^_^", "o_o", "u_u", "x_x", "|_|",
                      "||_||"})
REPOSITORIES = ("SmilingWolf/wd-eva02-large-tagger-v3", "SmilingWolf/wd-vit-tagger-v3",
                "SmilingWolf/wd-swinv2-tagger-v3")
BATCH = 4  # images per onnxruntime call: the large model at 448 px fits any consumer GPU


@dataclass(frozen=True)
class TagSettings:
    """What turns a tagger's probabilities into a caption (every field has a range; see
    `check`)."""

    general_threshold: float = DEFAULT_GENERAL
    character_threshold: float = DEFAULT_CHARACTER
    keep_rating: bool = False  # add the likeliest rating tag (general, sensitive, …) last
    escape_parentheses: bool = False  # `\(` for captions pasted into A1111 prompts
    blacklist: tuple[str, ...] = ()  # tags never written
    characters_first: bool = True  # after the trigger word, before the general tags
    drop_traits: bool = False  # leave out the character's own look (`traits.py`)

    def check(self) -> None:
        for label, value in (("general threshold", self.general_threshold),
                             ("character threshold", self.character_threshold)):
            if not 0.0 < value < 1.0:
                raise UserError(f"{label} {value:g} is out of range: between 0 and 1 "
                                "(usual 0.35 for general tags, 0.85 for characters)")


@dataclass(frozen=True)
class TagRow:
    name: str
    category: str


@dataclass
class TagList:
    rows: list[TagRow] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> TagList:
        """`selected_tags.csv`: tag_id, name, category, count (a header line first)."""
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                table = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise UserError(f"{path.name}: cannot read the tag list ({err})") from None
        if not table or not {"name", "category"} <= set(table[0]):
            raise UserError(f"{path.name}: not a WD14 tag list (needs name and category "
                            "columns, as selected_tags.csv has)")
        return cls([TagRow(row["name"], row["category"].strip()) for row in table])


def readable(tag: str, escape: bool) -> str:
    """A booru name as a caption tag: underscores to spaces (emoticons kept as they are), and
    parentheses escaped when asked (A1111 reads bare ones as attention)."""
    text = tag if tag in KAOMOJIS else tag.replace("_", " ")
    if escape:
        text = text.replace("(", "\\(").replace(")", "\\)")
    return text


def prepare(image: Any, size: int) -> Any:
    """One image as the model's input row: [size, size, 3] float32 BGR in 0–255."""
    import numpy as np
    from PIL import Image

    image = image.convert("RGBA")
    flat = Image.new("RGBA", image.size, (255, 255, 255, 255))
    flat.alpha_composite(image)
    rgb = flat.convert("RGB")
    side = max(rgb.size)
    square = Image.new("RGB", (side, side), (255, 255, 255))
    square.paste(rgb, ((side - rgb.width) // 2, (side - rgb.height) // 2))
    if side != size:
        square = square.resize((size, size), Image.BICUBIC)
    return np.asarray(square, dtype=np.float32)[:, :, ::-1].copy()


def choose_tags(probabilities: Any, tags: TagList, settings: TagSettings,
                dropped: Counter[str] | None = None) -> list[str]:
    """The caption's tags (without the trigger word) for one image's probabilities; the tags
    left out as the character's own are counted in `dropped`."""
    blocked = {t.strip().replace("_", " ").lower() for t in settings.blacklist if t.strip()}
    found: dict[str, list[tuple[float, str]]] = {GENERAL: [], CHARACTER: [], RATING: []}
    for row, p in zip(tags.rows, probabilities, strict=True):
        if row.category in found:
            found[row.category].append((float(p), row.name))
    general = [n for p, n in sorted(found[GENERAL], reverse=True)
               if p >= settings.general_threshold]
    if settings.drop_traits:
        traits = [n for n in general if is_trait(n)]
        if dropped is not None:
            dropped.update(readable(n, False) for n in traits)
        general = [n for n in general if n not in traits]
    chosen = {GENERAL: general,
              CHARACTER: [n for p, n in sorted(found[CHARACTER], reverse=True)
                          if p >= settings.character_threshold]}
    order = [CHARACTER, GENERAL] if settings.characters_first else [GENERAL, CHARACTER]
    names = [n for category in order for n in chosen[category]]
    if settings.keep_rating and found[RATING]:
        names.append(max(found[RATING])[1])  # one rating: the likeliest (kohya's argmax)
    return [readable(n, settings.escape_parentheses) for n in names
            if n.replace("_", " ").lower() not in blocked]


def tagger_files(model: str | Path) -> tuple[Path, Path]:
    """(model.onnx, selected_tags.csv) of a tagger folder or of its .onnx file."""
    path = Path(model) if str(model).strip() else Path()
    if not str(model).strip():
        raise UserError("no WD14 tagger: name a folder holding model.onnx and selected_tags.csv "
                        f"(a copy of {REPOSITORIES[0]} or another v3 tagger)")
    onnx = path if path.suffix.lower() == ".onnx" else path / "model.onnx"
    table = onnx.parent / "selected_tags.csv"
    for needed in (onnx, table):
        if not needed.is_file():
            raise UserError(f"{needed.name} not found in {onnx.parent.name or onnx.parent}: a "
                            "WD14 tagger folder holds model.onnx and selected_tags.csv")
    return onnx, table


def providers() -> list[str]:
    """CUDA where this onnxruntime has it (onnxruntime-gpu), else the CPU."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def onnxruntime_missing() -> str:
    """Why WD14 cannot run here ("" when it can)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return ("WD14 needs onnxruntime, which is not installed: restart the webui once "
                "(the extension's installer adds it) or run `pip install onnxruntime`")
    return ""


class Wd14Tagger:
    """A WD14 v3 tagger loaded once for the whole caption run."""

    name = "WD14 tagger (v3)"
    batch_size = BATCH

    def __init__(self, model: str | Path, settings: TagSettings | None = None) -> None:
        missing = onnxruntime_missing()
        if missing:
            raise UserError(missing)
        self.settings = settings or TagSettings()
        self.settings.check()
        onnx, table = tagger_files(model)
        self.tags = TagList.read(table)
        import onnxruntime

        try:
            self.session = onnxruntime.InferenceSession(str(onnx), providers=providers())
        except Exception as err:  # onnxruntime raises its own classes for a bad graph
            raise UserError(f"{onnx.name}: not a model onnxruntime can run "
                            f"({str(err).splitlines()[0][:160]})") from None
        given = self.session.get_inputs()[0]
        shape = given.shape
        if len(shape) != 4 or shape[3] != 3 or not isinstance(shape[1], int):
            raise UserError(f"{onnx.name}: not a WD14 tagger (its input is {shape}, a tagger's "
                            "is [batch, 448, 448, 3])")
        outputs = self.session.get_outputs()[0].shape
        if isinstance(outputs[-1], int) and outputs[-1] != len(self.tags.rows):
            raise UserError(f"{onnx.name} gives {outputs[-1]} tags but {table.name} lists "
                            f"{len(self.tags.rows)}: the two files are from different taggers")
        self.size, self.input_name = shape[1], given.name
        self.dropped: Counter[str] = Counter()

    def caption_batch(self, images: list[Any]) -> list[str]:
        import numpy as np

        rows = np.stack([prepare(image, self.size) for image in images])
        probabilities = self.session.run(None, {self.input_name: rows})[0]
        return [", ".join(choose_tags(p, self.tags, self.settings, self.dropped))
                for p in probabilities]

    def caption(self, image: Any) -> str:
        return self.caption_batch([image])[0]

    def notes(self) -> list[str]:
        """What the run's result says besides the captions."""
        if not self.dropped:
            return []
        counts = ", ".join(f"{tag} ({count})" for tag, count in self.dropped.most_common())
        return [f"Left out as the character's own look (the trigger word carries it): {counts}"]

    def close(self) -> None:
        self.session = None
