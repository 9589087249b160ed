"""The standalone host: folders given on the command line, our own refresh buttons."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lora_for_dummies.dataset.autocaption import CaptionerFactory, local_captioners
from lora_for_dummies.hosts.base import CheckpointEntry, scan_model_files
from lora_for_dummies.progress import Reporter


class StandaloneHost:
    name = "standalone"

    def __init__(self, data_dir: Path, models_dir: Path | None = None,
                 lora_dir: Path | None = None) -> None:
        # Absolute at this edge: a job handed to another process (`accelerate launch` runs in
        # the run folder) must not depend on the folder the app was started from.
        self.data_dir = Path(data_dir).absolute()
        self.models_dir = Path(models_dir).absolute() if models_dir else self.data_dir / "models"
        self._lora_dir = Path(lora_dir).absolute() if lora_dir else self.data_dir / "Lora"
        self._checkpoints: list[CheckpointEntry] = []
        for folder in (self.models_dir, self._lora_dir, self.datasets_dir(), self.runs_dir()):
            folder.mkdir(parents=True, exist_ok=True)
        self.refresh_checkpoints()

    def checkpoints(self) -> list[CheckpointEntry]:
        return list(self._checkpoints)

    def refresh_checkpoints(self) -> None:
        from lora_for_dummies.families import part_folders

        self._checkpoints = scan_model_files(self.models_dir, part_folders())

    def lora_dir(self) -> Path:
        return self._lora_dir

    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"

    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    def captioners_dir(self) -> Path:
        # beside the models folder, not in it: its weights are not base models to list
        return self.data_dir / "captioners"

    def refresh_loras(self) -> None:
        """Nothing to re-scan: the standalone app lists the Lora folder when asked."""

    def refresh_button(self, component: Any, refresh: Callable[[], None],
                       choices: Callable[[], dict[str, Any]], elem_id: str) -> Any:
        import gradio as gr

        def on_click() -> Any:
            refresh()
            return gr.update(**choices())

        button = gr.Button("🔄", elem_id=elem_id, elem_classes=["lfd-refresh"], scale=0,
                           min_width=40)
        button.click(fn=on_click, inputs=[], outputs=[component])
        return button


    def reporter(self) -> Reporter:
        return Reporter()

    def gpu_job(self, task_id: str = "") -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def host_kind(self) -> str:
        return "standalone"

    def families(self) -> tuple[tuple[str, ...], str]:
        from lora_for_dummies.families import available_on

        return available_on(self.host_kind())

    def gpu_job_note(self) -> str:
        return ""

    def models_hint(self) -> str:
        return (f"No model yet: put a checkpoint (.safetensors of SD 1.x, SD 2.x or SDXL, or a "
                f"Flux transformer) into {self.models_dir} and press 🔄, or start again with "
                "`lfd serve --demo` to try everything on a tiny demo model first.")

    def captioners(self) -> dict[str, CaptionerFactory]:
        return local_captioners()
