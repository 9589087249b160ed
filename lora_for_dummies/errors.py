"""Errors that are shown to the user as one line naming the file and the reason."""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem with the user's input. The message is complete and needs no traceback."""


class CheckpointError(UserError):
    """A model file that cannot be used, with the file named in the message."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


class SeparatePart(CheckpointError):
    """A file that is recognised but is not a base model: a part a family keeps in its own file
    (Flux's CLIP-L, T5-XXL, VAE) or one of its LoRAs. `inspect` names it and succeeds; a job
    given it as a base model is refused with the same line."""

    def __init__(self, path: str | Path, kind: str, reason: str) -> None:
        self.kind = kind  # clip_l | t5xxl | vae | lora …, the family's own word
        super().__init__(path, reason)
