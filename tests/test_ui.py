"""The tabs on this gradio version: standalone app, served over HTTP, and in the webui stand-in."""

from __future__ import annotations

import json
import runpy
import shutil
import socket
import sys
import urllib.request
from pathlib import Path

import gradio as gr

from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.app import standalone_app
from lora_for_dummies.ui.models_tab import describe
from uitools import choices_of, find_block, handler_for

ROOT = Path(__file__).resolve().parent.parent



def test_standalone_refresh_shows_new_files_and_details(tiny_models, tmp_path):
    host = StandaloneHost(tmp_path / "data")
    demo = standalone_app(host)
    dropdown = find_block(demo, "lfd_models_checkpoint")
    refresh = handler_for(demo, dropdown, "on_click")
    assert choices_of(refresh()) == []
    target = host.models_dir / "sub dir" / "my model.safetensors"
    target.parent.mkdir()
    shutil.copy(tiny_models["sd1"], target)
    (host.models_dir / "broken.safetensors").write_bytes(b"\0" * 10)
    assert choices_of(refresh()) == ["broken.safetensors", "sub dir/my model.safetensors"]
    details = handler_for(demo, find_block(demo, "lfd_models_details"))
    html = details("sub dir/my model.safetensors")
    assert "Stable Diffusion 1.x" in html and "SD 1.x" in html and "SHA256" in html
    assert "broken.safetensors:" in details("broken.safetensors")
    assert "no longer in the list" in describe(host, "gone.safetensors")


def test_the_models_tab_says_what_each_lora_is(tmp_path):
    """A LoKr file and an older dynamic-rank LoRA with several alphas: the kind, the base
    model, where each loads, and the re-save flag (issue 25)."""
    from safetensors.torch import save_file
    from test_lora_kinds import _lycoris_file
    from test_lora_tools import _random_modules

    from lora_for_dummies.lora.format import lora_state
    from lora_for_dummies.lora.metadata import lora_metadata

    host = StandaloneHost(tmp_path / "data")
    host.lora_dir().mkdir(parents=True, exist_ok=True)
    _lycoris_file(host.lora_dir() / "style lokr.safetensors", "lokr")
    modules = _random_modules()
    for index, module in enumerate(modules.values()):  # per-module alphas, as old tools wrote
        module.alpha = float(1 + index % 3)
    state = lora_state(modules)
    save_file(state, str(host.lora_dir() / "old dynamic.safetensors"),
              metadata=lora_metadata("sd1", "old dynamic", 4, 1.0))
    demo = standalone_app(host)
    lora = find_block(demo, "lfd_models_lora")
    refresh = handler_for(demo, lora, "on_click")
    assert choices_of(refresh()) == ["old dynamic.safetensors", "style lokr.safetensors"]
    details = handler_for(demo, find_block(demo, "lfd_models_lora_details"))
    lokr = details("style lokr.safetensors")
    assert "LoKr (" in lokr and "A1111, Forge, Forge Neo, ComfyUI; not diffusers" in lokr
    old = details("old dynamic.safetensors")
    assert "LoRA (" in old and "3 different alphas" in old and "Re-save for diffusers" in old
    assert "no longer in the Lora folder" in details("gone.safetensors")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_served_app_answers_on_localhost_only(tmp_path):
    from lora_for_dummies.cli import build_parser, main

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"  # never 0.0.0.0 by default
    port = _free_port()
    assert main(["serve", "--data-dir", str(tmp_path), "--port", str(port), "--no-block"]) == 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as response:
            config = json.loads(response.read())
        assert "LoRA for Dummies" in json.dumps(config)
        for name in ("Dataset", "Train", "Extract", "Models"):
            assert f'"{name}"' in json.dumps(config)
    finally:
        gr.close_all()


def test_webui_script_registers_tab_settings_and_refresh(webui_standin, tiny_models,
                                                         monkeypatch):
    from modules import paths, script_callbacks, shared

    runpy.run_path(str(ROOT / "scripts" / "lora_for_dummies.py"))
    script_callbacks.ui_settings_callback()
    option = shared.opts.data_labels["lfd_datasets_dir"]
    assert option.section == ("lora_for_dummies", "LoRA for Dummies")
    assert "lfd_runs_dir" in shared.opts.data_labels

    [(tab, title, elem_id)] = script_callbacks.ui_tabs_callback()
    assert (title, elem_id) == ("LoRA for Dummies", "lora_for_dummies")
    dropdown = find_block(tab, "lfd_models_checkpoint")
    refresh = handler_for(tab, dropdown, "refresh")
    assert choices_of(refresh()) == []
    models = Path(paths.models_path) / "Stable-diffusion"
    shutil.copy(tiny_models["sdxl"], models / "xl.safetensors")
    assert choices_of(refresh()) == ["xl.safetensors"]
    details = handler_for(tab, find_block(tab, "lfd_models_details"))
    assert "SDXL base" in details("xl.safetensors")


def test_webui_host_folders_and_lora_rescan(webui_standin, monkeypatch, tmp_path):
    from modules import paths, shared

    from lora_for_dummies.hosts.webui import WebuiHost, on_ui_settings

    on_ui_settings()
    host = WebuiHost()
    assert host.datasets_dir() == Path(paths.data_path) / "lora_for_dummies" / "datasets"
    assert host.lora_dir() == Path(shared.cmd_opts.lora_dir)
    shared.opts.data["lfd_runs_dir"] = str(tmp_path / "my runs")
    assert host.runs_dir() == tmp_path / "my runs"
    shared.cmd_opts.lfd_runs_dir = str(tmp_path / "flag runs")  # preload.py flag wins
    assert host.runs_dir() == tmp_path / "flag runs"

    calls = []
    fake_networks = type(sys)("networks")
    fake_networks.list_available_networks = lambda: calls.append("scan")
    monkeypatch.setitem(sys.modules, "networks", fake_networks)
    host.refresh_loras()
    assert calls == ["scan"]


def test_gpu_job_on_a1111_and_on_forge(webui_standin, monkeypatch):
    """A1111: unload the model, reload after. Forge: its memory management frees VRAM and
    loads models again on demand (so no reload), still under the queue lock."""
    from modules import call_queue, sd_models

    from lora_for_dummies.hosts.webui import WebuiHost

    sd_models.events.clear()
    with WebuiHost().gpu_job():
        assert call_queue.queue_lock.locked()
    assert sd_models.events == ["unload", "reload"] and not call_queue.queue_lock.locked()

    calls = []
    backend = type(sys)("backend")
    memory = type(sys)("backend.memory_management")  # Forge's module, same function names
    memory.unload_all_models = lambda: calls.append("unload_all_models")
    memory.soft_empty_cache = lambda force=False: calls.append("soft_empty_cache")
    backend.memory_management = memory
    monkeypatch.setitem(sys.modules, "backend", backend)
    monkeypatch.setitem(sys.modules, "backend.memory_management", memory)
    sd_models.events.clear()
    with WebuiHost().gpu_job():
        assert call_queue.queue_lock.locked() and calls == ["unload_all_models"]
    assert calls == ["unload_all_models", "soft_empty_cache"] and sd_models.events == []


def test_incompatible_library_shows_fix_instead_of_tabs(monkeypatch, tmp_path):
    from lora_for_dummies import environment

    real = environment.installed_version
    monkeypatch.setattr(environment, "installed_version",
                        lambda name: "0.20.0" if name == "diffusers" else real(name))
    demo = standalone_app(StandaloneHost(tmp_path))
    problems = find_block(demo, "lfd_problems")
    assert "diffusers 0.20.0 is too old" in problems.value
    assert "-m pip install diffusers==0.31.0" in problems.value


def test_preload_flags():
    import argparse

    namespace = runpy.run_path(str(ROOT / "preload.py"))
    parser = argparse.ArgumentParser()
    namespace["preload"](parser)
    args = parser.parse_args(["--lfd-datasets-dir", "/d", "--lfd-runs-dir", "/r"])
    assert (args.lfd_datasets_dir, args.lfd_runs_dir) == ("/d", "/r")


def test_no_table_is_ever_given_an_empty_list(tmp_path):
    """gradio 3.43 (Forge Neo) hangs the page when a Dataframe gets [] (Create on the Dataset
    tab sends the new dataset's empty tag table): every table of ours goes through
    compat.table, which sends the component's own empty table instead, on every version."""
    demo = standalone_app(StandaloneHost(tmp_path / "data"))
    tables = [b for b in demo.blocks.values() if isinstance(b, gr.Dataframe)]
    assert len(tables) >= 5, [t.elem_id for t in tables]
    for table in tables:
        empty = table.postprocess(None)
        assert table.postprocess([]) == empty, table.elem_id
        assert table.postprocess([[]]) == empty, table.elem_id
