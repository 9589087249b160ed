"""The tags that describe a character itself — hair, eyes, ears, tail, build — which a
character LoRA should leave to its trigger word: captioned, they stay changeable at inference
and the LoRA learns less of the look (the advice of kohya's and the tag-editor's guides: tag
what should vary, leave out what the trigger word should mean).

Booru conventions, in the spaces form the captions use. The user sees the list that was left
out before anything is written (Preview) and after a run."""

from __future__ import annotations

import re

_COLOURS = ("aqua|black|blonde|blue|brown|green|grey|orange|pink|purple|red|silver|white|"
            "yellow|light brown|light blue|dark blue|light purple|dark green|platinum blonde")
_EYE_COLOURS = "aqua|black|blue|brown|green|grey|orange|pink|purple|red|white|yellow|gold|silver"
_PATTERNS = (
    rf"(?:{_COLOURS}|multicolored|two-tone|streaked|gradient|colored inner) hair",
    r"(?:very short|short|medium|long|very long|absurdly long) hair",
    r"twintails|(?:side |high |low )?ponytail|(?:twin |single |french )?braids?|"
    r"(?:single |double )?hair bun|double bun|drill hair|twin drills|ahoge|sidelocks|"
    r"(?:blunt |swept |parted |asymmetrical )?bangs|hair between eyes|hair intakes|bob cut|"
    r"hime cut",
    rf"(?:{_EYE_COLOURS}) eyes|heterochromia|slit pupils",
    r"(?:animal|cat|dog|fox|wolf|rabbit|horse|mouse|bear|pointy) ears",
    r"(?:cat |fox |dog |wolf |horse |dragon |demon )?tail",
    r"(?:demon |dragon |oni )?horns?|(?:demon |angel |bat |dragon |feathered )?wings",
    r"fangs?|skin fang|freckles|mole(?: under (?:eye|mouth))?|dark skin|"
    r"dark-skinned (?:female|male)|tan|tanlines",
    r"flat chest|(?:small|medium|large|huge|gigantic) breasts",
)
_TRAIT = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))
KINDS = "hair colour, length and style, eye colour, animal ears, tail, horns, wings, skin, build"


def is_trait(tag: str) -> bool:
    """Whether `tag` (spaces or underscores) describes the character's own look."""
    return _TRAIT.fullmatch(tag.replace("_", " ").strip().lower()) is not None
