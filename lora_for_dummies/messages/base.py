"""The shape of a catalogued message and the topics the troubleshooting page groups them
by (`messages/__init__.py` says how the catalogue is used)."""

from __future__ import annotations

import string
from dataclasses import dataclass

from lora_for_dummies.errors import UserError

START, RESUME, TRAINING, NAMES, FILES, MODELS, FAMILIES, KINDS, API = (
    "Start training is refused", "Resume is refused", "While training", "A name is refused",
    "Writing files", "A model file is refused", "A model family is not offered or incomplete",
    "A kind of LoRA is refused", "The job API")


@dataclass(frozen=True)
class Message:
    topic: str
    text: str  # the line, `{field}`s filled in by `format`
    means: str
    todo: str
    # What the app puts before the line (a file name, an HTTP status), shown on the page only.
    before: str = ""

    def format(self, **fields: object) -> str:
        return self.text.format(**fields)

    def error(self, **fields: object) -> UserError:
        return UserError(self.format(**fields))

    def shown(self) -> str:
        """The line as the page shows it: each `{field}` as `<field>`."""
        parts = []
        for literal, field, _, conversion in string.Formatter().parse(self.text):
            shown = "" if field is None else f"'<{field}>'" if conversion == "r" else f"<{field}>"
            parts.append(literal + shown)
        return self.before + "".join(parts)
