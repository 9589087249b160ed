"""The small interface the tabs need from whoever hosts them (webui or standalone)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lora_for_dummies.checkpoints.reader import MODEL_SUFFIXES

if TYPE_CHECKING:  # type hints only: this module is loaded at every webui start
    from lora_for_dummies.dataset.autocaption import Captioner, CaptionOptions
    from lora_for_dummies.progress import Reporter


@dataclass(frozen=True)
class CheckpointEntry:
    title: str  # what the dropdown shows
    path: Path


class Host(Protocol):
    name: str

    def checkpoints(self) -> list[CheckpointEntry]: ...

    def refresh_checkpoints(self) -> None: ...

    def lora_dir(self) -> Path: ...

    def datasets_dir(self) -> Path: ...

    def runs_dir(self) -> Path: ...

    def captioners_dir(self) -> Path:
        """Where captioner models named by their Hugging Face repository are downloaded."""
        ...

    def refresh_loras(self) -> None: ...

    def refresh_button(self, component: Any, refresh: Callable[[], None],
                       choices: Callable[[], dict[str, Any]], elem_id: str) -> Any: ...

    def reporter(self) -> Reporter: ...

    def gpu_job(self, task_id: str = "") -> AbstractContextManager[None]:
        """Held around GPU work: the webui's queue lock, its model moved off the GPU; with a
        `task_id` (from the page's script), the webui's progress bar follows the job."""
        ...

    def captioners(self) -> dict[str, Callable[[CaptionOptions], Captioner]]:
        """Title → factory(the run's CaptionOptions) of the auto-captioners this host offers."""
        ...

    def host_kind(self) -> str:
        """Which of `families.HOST_KINDS` this host is (a1111, forge, forge_neo, standalone)."""
        ...

    def families(self) -> tuple[tuple[str, ...], str]:
        """The model families this host can run (`families.available_on` its kind), and a
        one-line note saying why any is missing ("" when none is)."""
        ...

    def gpu_job_note(self) -> str:
        """What `gpu_job` did with the host's own models, for the run's log ("" for none)."""
        ...

    def models_hint(self) -> str:
        """Where a beginner puts a checkpoint for this host (shown while the list is empty)."""
        ...


def scan_model_files(folder: Path, part_folders: frozenset[str] = frozenset()
                     ) -> list[CheckpointEntry]:
    """Model files under `folder` (recursively), titled by their path relative to it; none
    inside a folder named in `part_folders` (lower case: `families.part_folders()`, where
    text encoders and VAEs are kept, which are no base models)."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.rglob("*") if p.suffix.lower() in MODEL_SUFFIXES and p.is_file()
             and not {part.lower() for part in p.relative_to(folder).parts[:-1]} & part_folders]
    return [CheckpointEntry(p.relative_to(folder).as_posix(), p)
            for p in sorted(files, key=lambda p: p.as_posix().lower())]
