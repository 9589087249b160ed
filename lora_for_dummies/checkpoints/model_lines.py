"""Model lines and their conventions: which family of fine-tunes a checkpoint belongs to (from
its file name and modelspec title), the clip skip its card asks for, and how its captions are
usually written. Always hints with the reason shown, never applied silently."""

from __future__ import annotations

import re
from dataclasses import dataclass

BOORU_TAGS = ("booru-style tags, comma-separated (1girl, solo, long hair, smile, …), as the "
              "model was trained on Danbooru tags; start each caption with your trigger word")


# SDXL takes its text encoders' penultimate layer by design: clip skip 1 and 2 are the same.
SDXL_SKIP = " (on SDXL the same as 1: the penultimate text-encoder layer)"


@dataclass(frozen=True)
class ModelLine:
    name: str
    pattern: re.Pattern[str]
    family: str  # the family the line is built on ("" = any)
    clip_skip: int
    clip_skip_reason: str
    caption_hint: str
    captioner: str = "wd14"  # what writes the captions this line reads (autocaption.LOCAL)


LINES: tuple[ModelLine, ...] = (
    ModelLine("Pony", re.compile(r"pony", re.IGNORECASE), "sdxl", 2,
              "Pony Diffusion's card asks for clip skip 2" + SDXL_SKIP,
              BOORU_TAGS + ". Pony's quality tags (score_9, score_8_up, score_7_up, …) belong "
              "in prompts; add them to captions only if the LoRA should need them"),
    ModelLine("NoobAI", re.compile(r"noob", re.IGNORECASE), "sdxl", 2,
              "the name says NoobAI, whose users set clip skip 2" + SDXL_SKIP,
              BOORU_TAGS + " (NoobAI also knows e621 tags). Quality tags (masterpiece, best "
              "quality) belong in prompts, not captions"),
    ModelLine("Illustrious", re.compile(r"illustrious|\bilxl\b", re.IGNORECASE), "sdxl", 2,
              "the name says Illustrious, whose users set clip skip 2" + SDXL_SKIP,
              BOORU_TAGS + ". Quality tags (masterpiece, best quality) belong in prompts, not "
              "captions"),
    ModelLine("Animagine", re.compile(r"animagine", re.IGNORECASE), "sdxl", 2,
              "Animagine's card asks for clip skip 2" + SDXL_SKIP,
              BOORU_TAGS),
    ModelLine("NovelAI-lineage anime", re.compile(
        r"anime|anything|nai\b|novelai|counterfeit|waifu|abyss|orange|meina|pastel",
        re.IGNORECASE), "", 2, "the name suggests an anime / NovelAI-lineage model",
        BOORU_TAGS),
)

PLAIN_CAPTIONS = ("short descriptions or tags both work: name what should stay changeable "
                  "(clothes, background) and leave out what the LoRA should learn; start with "
                  "your trigger word")


def suggested_captioner(line_name: str, florence2: bool = True) -> tuple[str, str]:
    """(the auto-captioner for a model of this line — a key of `autocaption.LOCAL` —, why).
    `florence2`: whether this host can run Florence-2, the better of the prose captioners."""
    line = next((candidate for candidate in LINES if candidate.name == line_name), None)
    if line is not None:
        return line.captioner, (f"{line.name} was trained on booru tags, which the WD14 tagger "
                                "writes")
    prose = "florence2" if florence2 else "blip"
    return prose, ("no anime model line recognised from the name: sentences suit it (Flux, "
                   "Chroma and photo models read prose); choose the WD14 tagger if it is an "
                   "anime model")


def model_line(family: str, names: list[str]) -> ModelLine | None:
    """The line whose pattern matches the file name or title, on the family it is built on."""
    text = " ".join(names)
    for line in LINES:
        if line.family in ("", family) and line.pattern.search(text):
            return line
    return None


def clip_skip_hint(family: str, line: ModelLine | None) -> tuple[int, str]:
    if line is not None:
        return line.clip_skip, line.clip_skip_reason
    from lora_for_dummies.families import get_family  # the families import SDXL_SKIP from here

    return get_family(family).clip_skip_default
