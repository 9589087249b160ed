"""The webui (A1111 1.10 / Forge / Forge Neo) host: its model list, Lora folder, settings and
refresh buttons.

Imported only by `scripts/lora_for_dummies.py` inside the webui. Everything heavy is imported
when a job runs, never here: this module is loaded at every webui start and "Reload UI".
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lora_for_dummies.hosts.base import CheckpointEntry
from lora_for_dummies.progress import Reporter

SECTION = ("lora_for_dummies", "LoRA for Dummies")
OPTIONS = {
    "lfd_datasets_dir": ("Datasets folder (empty: <webui data dir>/lora_for_dummies/datasets)",
                         "datasets"),
    "lfd_runs_dir": ("Training runs folder (empty: <webui data dir>/lora_for_dummies/runs)",
                     "runs"),
}


class WebuiHost:
    name = "webui"

    def checkpoints(self) -> list[CheckpointEntry]:
        from modules import sd_models

        return [CheckpointEntry(title, Path(info.filename))
                for title, info in sd_models.checkpoints_list.items()]

    def refresh_checkpoints(self) -> None:
        from modules import sd_models

        sd_models.list_models()

    def lora_dir(self) -> Path:
        from modules import shared

        return Path(shared.cmd_opts.lora_dir).absolute()  # --lora-dir may be relative

    def _folder(self, option: str) -> Path:
        from modules import paths, shared

        flag = getattr(shared.cmd_opts, option, None)  # --lfd-datasets-dir from preload.py
        chosen = flag or shared.opts.data.get(option) or ""
        if chosen:  # absolute here, the edge: a child process runs in another folder
            return Path(chosen).absolute()
        return Path(paths.data_path).absolute() / "lora_for_dummies" / OPTIONS[option][1]

    def datasets_dir(self) -> Path:
        return self._folder("lfd_datasets_dir")

    def runs_dir(self) -> Path:
        return self._folder("lfd_runs_dir")

    def captioners_dir(self) -> Path:
        from modules import paths

        return Path(paths.models_path).absolute() / "captioners"  # beside models/Lora

    def refresh_loras(self) -> None:
        """Re-scan the built-in Lora extension's list so new files show without a restart."""
        import sys

        networks = sys.modules.get("networks")  # the built-in Lora extension's module
        if networks is not None and hasattr(networks, "list_available_networks"):
            networks.list_available_networks()

    def refresh_button(self, component: Any, refresh: Callable[[], None],
                       choices: Callable[[], dict[str, Any]], elem_id: str) -> Any:
        from modules import ui_common

        return ui_common.create_refresh_button(component, refresh, choices, elem_id)

    def reporter(self) -> Reporter:
        return WebuiReporter()

    @contextlib.contextmanager
    def gpu_job(self, task_id: str = "") -> Iterator[None]:
        """Hold the webui's queue lock (txt2img waits) and move its model off the GPU for the
        job; put the model back afterwards. A `task_id` is registered with the webui's progress
        module (queued while waiting for the lock, then current), so its progress bar, made by
        our javascript with that id, shows the job."""
        from modules import call_queue, progress, sd_models

        if task_id:
            progress.add_task_to_queue(task_id)
        with call_queue.queue_lock, _current_task(progress, task_id):
            forge = _forge_memory_management()
            if forge is not None:
                forge.unload_all_models()
            else:
                sd_models.unload_model_weights()
            try:
                yield
            finally:
                if forge is None:
                    sd_models.reload_model_weights()
                else:  # Forge loads its models again when the next generation needs them
                    forge.soft_empty_cache()

    def gpu_job_note(self) -> str:
        if _forge_memory_management() is not None:
            return ("the webui's models left the GPU for this run (Forge's memory management); "
                    "they load again when you next generate")
        return ("the webui's model left the GPU for this run; txt2img waits and has it back "
                "when the run ends")

    def models_hint(self) -> str:
        return ("No model yet: put a checkpoint into the webui's models/Stable-diffusion folder "
                "(the one txt2img lists) and press 🔄.")

    def captioners(self) -> dict[str, Callable[[Any], Any]]:
        from lora_for_dummies.dataset.autocaption import local_captioners

        captioners = local_captioners()
        # A1111 and Forge keep their interrogators; Forge Neo removed them (no modules/
        # interrogate.py or deepbooru.py there), so only the local captioners are offered.
        for own, module in ((WebuiBlip, "modules.interrogate"),
                            (WebuiDeepbooru, "modules.deepbooru")):
            if importlib.util.find_spec(module) is not None:
                captioners[own.name] = lambda _options, own=own: own()
        return captioners

    def host_kind(self) -> str:
        if is_forge_neo():
            return "forge_neo"
        return "forge" if _forge_memory_management() is not None else "a1111"

    def families(self) -> tuple[tuple[str, ...], str]:
        from lora_for_dummies.families import available_on

        return available_on(self.host_kind())


def is_forge_neo() -> bool:
    """Forge Neo (Haoming02/sd-webui-forge-classic, branch neo) says "neo" as its version."""
    try:
        from modules_forge import forge_version
    except ImportError:
        return False
    return getattr(forge_version, "version", "") == "neo"


class WebuiReporter(Reporter):
    """Progress through the webui's `shared.state`, so its progress bar and Interrupt work."""

    def start(self, total: int, job: str) -> None:
        from modules import shared

        shared.state.begin(job=job)
        shared.state.job_count = total
        super().start(total, job)

    def on_update(self) -> None:
        from modules import shared

        shared.state.job_no = self.state.done
        shared.state.textinfo = self.state.summary()

    def finish(self, text: str = "") -> None:
        from modules import shared

        super().finish(text)
        shared.state.end()

    def should_stop(self) -> bool:
        from modules import shared

        return super().should_stop() or bool(shared.state.interrupted)


class WebuiBlip:
    """The webui's own BLIP (`shared.interrogator`), loaded once for the whole job.

    `interrogate()` would begin and end a job of its own (resetting the progress of ours), so
    the model is loaded and asked for captions directly.
    """

    name = "BLIP (webui)"

    def __init__(self) -> None:
        from modules import shared

        self.interrogator = shared.interrogator
        self.interrogator.load()

    def caption(self, image: Any) -> str:
        return self.interrogator.generate_caption(image)

    def close(self) -> None:
        self.interrogator.unload()


class WebuiDeepbooru:
    """The webui's deepbooru tagger (anime tags), started once for the whole job."""

    name = "deepbooru (webui)"

    def __init__(self) -> None:
        from modules import deepbooru

        self.model = deepbooru.model
        self.model.start()

    def caption(self, image: Any) -> str:
        return self.model.tag_multi(image)

    def close(self) -> None:
        self.model.stop()


@contextlib.contextmanager
def _current_task(progress: Any, task_id: str) -> Iterator[None]:
    if task_id:
        progress.start_task(task_id)
    try:
        yield
    finally:
        if task_id:
            progress.finish_task(task_id)


def _forge_memory_management() -> Any:
    """Forge frees VRAM through its own memory management, not sd_models."""
    import importlib

    for name in ("backend.memory_management", "ldm_patched.modules.model_management"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def on_ui_settings() -> None:
    from modules import shared

    for key, (label, _) in OPTIONS.items():
        shared.opts.add_option(key, shared.OptionInfo("", label, section=SECTION))


def on_ui_tabs() -> list[tuple[Any, str, str]]:
    import gradio as gr

    from lora_for_dummies.environment import check_environment
    from lora_for_dummies.ui.app import TAB_TITLE, build_guarded_tabs

    host = WebuiHost()
    with gr.Blocks(analytics_enabled=False) as tab:
        # The webui's FastAPI app is not ours: every handler of our tabs checks Host / Origin.
        build_guarded_tabs(host, check_environment(ui=True),
                           lambda: not webui_listens_beyond_loopback())
    return [(tab, TAB_TITLE, "lora_for_dummies")]


def register() -> None:
    """Called by the webui script at every start."""
    from modules import script_callbacks

    os.environ.setdefault("LFD_HOST", "webui")
    script_callbacks.on_ui_settings(on_ui_settings)
    script_callbacks.on_ui_tabs(on_ui_tabs)
    script_callbacks.on_app_started(on_app_started)


def webui_listens_beyond_loopback() -> bool:
    """Whether the webui is reachable from other computers: `--listen`, a `--server-name`
    (or GRADIO_SERVER_NAME) that is not loopback, or a `--share` / `--ngrok` tunnel (whose
    requests reach the loopback port under the tunnel's name)."""
    from modules import shared

    from lora_for_dummies.hosts.api_rules import host_is_loopback

    opts = shared.cmd_opts
    if any(getattr(opts, flag, False) for flag in ("listen", "share", "ngrok")):
        return True
    name = getattr(opts, "server_name", None) or os.environ.get("GRADIO_SERVER_NAME") or ""
    return bool(name) and not host_is_loopback(name)


def webui_credentials() -> list[tuple[str, str]]:
    """The webui's own logins, for the job API: `--api-auth user:pw,user2:pw2`, or, when that is
    not set, the UI's `--gradio-auth` pairs and the lines of `--gradio-auth-path`. Raises
    OSError for an auth file that cannot be read."""
    from modules import shared

    from lora_for_dummies.hosts.api_rules import parse_credentials

    opts = shared.cmd_opts
    api = parse_credentials(getattr(opts, "api_auth", None) or "")
    if api:
        return api
    pairs = parse_credentials(getattr(opts, "gradio_auth", None) or "")
    path = getattr(opts, "gradio_auth_path", None)
    if path:
        text = Path(path).read_text(encoding="utf-8")
        pairs += parse_credentials(",".join(text.splitlines()))
    return pairs


def api_mount_refusal() -> tuple[list[tuple[str, str]], str | None]:
    """(credentials, None) when the job API may be mounted, else ([], the one-line reason)."""
    from modules import shared

    if not getattr(shared.cmd_opts, "api", False):
        return [], "the webui runs without --api (add --api to use /lfd/v1)"
    try:
        credentials = webui_credentials()
    except OSError as err:
        return [], f"--gradio-auth-path cannot be read ({err})"
    if not credentials and webui_listens_beyond_loopback():
        return [], ("the webui listens beyond this computer without a login: add --api-auth "
                    "user:password (or --gradio-auth user:password)")
    return credentials, None


def on_app_started(_demo: Any, app: Any) -> None:
    """The job API on the webui's FastAPI app: only with --api, and behind the webui's own
    login (--api-auth, else --gradio-auth); never open to the network without one."""
    from lora_for_dummies.hosts.api import add_routes

    credentials, refused = api_mount_refusal()
    if refused is not None:
        from modules import shared

        if getattr(shared.cmd_opts, "api", False):  # asked for an API and did not get it
            print(f"LoRA for Dummies: job API /lfd/v1 not mounted: {refused}")
        return
    add_routes(app, WebuiHost(), credentials=credentials)
