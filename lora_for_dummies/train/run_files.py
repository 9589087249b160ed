"""Which files of the Lora folder a run wrote, recorded in its run folder.

Keep-last, an overwrite, a resume and the best-step grid delete or replace only files in this
record, never by pattern: `rtdog-1.safetensors` (another LoRA, named `rtdog-1`) and a file named
`rtdog-000006.safetensors` that the run did not write are not steps of the run `rtdog`. A file
counts as the run's while its size and modification time are those recorded after the write: a
file the user put in its place since then is theirs.

Runs made before the record existed are adopted once, from the metadata our trainer writes into
every file (`ss_output_name` = the run's name and our training comment).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from lora_for_dummies import messages as msg
from lora_for_dummies.atomic import write_text_atomic
from lora_for_dummies.errors import UserError
from lora_for_dummies.names import lora_files, step_number

RECORD = "lora_files.json"
TRAINER_COMMENT = "trained with LoRA for Dummies"


def _signature(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


class RunFiles:
    """The record of one run's files in the Lora folder (`<run_dir>/lora_files.json`)."""

    def __init__(self, run_dir: Path, lora_dir: Path, name: str) -> None:
        self.run_dir, self.lora_dir, self.name = Path(run_dir), Path(lora_dir), name
        self.path = self.run_dir / RECORD
        self._files: dict[str, list[int]] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._files = {str(k): list(v) for k, v in data.get("files", {}).items()}
            except (ValueError, TypeError, AttributeError, UnicodeDecodeError):
                self._files = {}  # a broken record owns nothing: nothing is deleted by mistake
        else:
            self._adopt_legacy()

    def owns(self, path: Path) -> bool:
        recorded = self._files.get(Path(path).name)
        return recorded is not None and recorded == _signature(Path(path))

    def steps(self) -> list[tuple[int, Path]]:
        """The run's own step files, oldest first."""
        found = []
        for file_name in self._files:
            step = step_number(file_name, self.name)
            path = self.lora_dir / file_name
            if step is not None and self.owns(path):
                found.append((step, path))
        return sorted(found)

    def foreign(self, paths: Iterable[Path]) -> list[Path]:
        """Those of `paths` that exist but are not the run's (another LoRA's, the user's)."""
        return [p for p in paths if p.exists() and not self.owns(p)]

    def record(self, *paths: Path) -> None:
        for path in paths:
            signature = _signature(Path(path))
            if signature is not None:
                self._files[Path(path).name] = signature
        self._write()

    def forget(self, *paths: Path) -> None:
        for path in paths:
            self._files.pop(Path(path).name, None)
        self._write()

    def remove(self, path: Path) -> bool:
        """Delete `path` if it is the run's; True when it was."""
        if not self.owns(path):
            return False
        Path(path).unlink(missing_ok=True)
        self.forget(path)
        return True

    def reset(self) -> None:
        """A fresh run under this name: nothing recorded yet."""
        self._files = {}
        self._write()

    def _write(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps({"files": self._files}, indent=1) + "\n")

    def _adopt_legacy(self) -> None:
        """A run of an earlier version: its files say in their metadata who wrote them."""
        if not (self.run_dir / "config.toml").is_file():
            return
        from lora_for_dummies.checkpoints.reader import CheckpointFile

        for path in lora_files(self.lora_dir, self.name):
            try:
                with CheckpointFile(path) as file:
                    metadata = file.metadata
            except (OSError, UserError, ValueError):
                continue
            if metadata.get("ss_output_name") == self.name and \
                    metadata.get("ss_training_comment") == TRAINER_COMMENT:
                self._files[path.name] = _signature(path) or []


def planned_steps(path_steps: Iterable[tuple[int, Path]], after: int, every: int,
                  last: int) -> list[Path]:
    """The files of `path_steps` whose step this run will save (every N steps and the last),
    after step `after`."""
    return [path for step, path in path_steps
            if after < step <= last and (step == last or (every and step % every == 0))]


def step_candidates(lora_dir: Path, name: str) -> list[tuple[int, Path]]:
    """Files in the Lora folder named like the run's step files, whoever wrote them."""
    return [(step_number(p.name, name) or 0, p) for p in lora_files(lora_dir, name)
            if step_number(p.name, name) is not None]


def refuse_foreign_steps(files: RunFiles, after: int, every: int, last: int) -> None:
    """Before training: refuse when a step file the run will write is another's file."""
    taken = files.foreign(planned_steps(step_candidates(files.lora_dir, files.name), after,
                                        every, last))
    if taken:
        shown = ", ".join(p.name for p in taken[:3]) + (" …" if len(taken) > 3 else "")
        raise msg.FOREIGN_STEP.error(files=shown, folder=files.lora_dir, name=files.name)
