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
