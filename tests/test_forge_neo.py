"""Forge Neo as a host (its shapes stood in by tests/webui_standin_neo): no SD 2.x offered, with
the reason; VRAM freed through its memory management; a training run through the tab."""

from __future__ import annotations

import shutil
from pathlib import Path

from train_fixtures import instance_folder

from lora_for_dummies.ui.train_session import SESSION
from uitools import UNCHOSEN, find_block, handler_for


def _neo_families() -> tuple[tuple[str, ...], str]:
    """Forge Neo's families on this set: Z-Image where its libraries train it, else its reason
    (the suite runs Neo's stand-in on every set's libraries); Anima with its reason."""
    from lora_for_dummies.families import get_family
    from lora_for_dummies.families.anima.family import NOT_TRAINED_YET
    from lora_for_dummies.families.sd2 import SD2_GONE

    why = get_family("zimage").training_unavailable()
    return ("sd1", "sdxl", "flux") + (() if why else ("zimage",)), \
        "; ".join([SD2_GONE] + ([why] if why else []) + [NOT_TRAINED_YET])


def test_families_follow_the_host(webui_standin, forge_neo_standin):
    from lora_for_dummies.hosts.webui import WebuiHost

    assert WebuiHost().families() == _neo_families()


def test_a1111_and_forge_keep_sd2(webui_standin):
    """…and hide Flux and Z-Image, saying where they run (A1111 cannot run them at all)."""
    from lora_for_dummies.families.anima.family import NOT_ON_A1111 as ANIMA_NOT_ON_A1111
    from lora_for_dummies.families.flux.family import NOT_ON_A1111
    from lora_for_dummies.families.zimage.family import NOT_ON_A1111 as ZIMAGE_NOT_ON_A1111
    from lora_for_dummies.hosts.webui import WebuiHost

    assert WebuiHost().families() == (("sd1", "sd2", "sdxl"), f"{NOT_ON_A1111}; "
                                      f"{ZIMAGE_NOT_ON_A1111}; {ANIMA_NOT_ON_A1111}")


def test_tabs_on_forge_neo(forge_neo_standin, tiny_models, tmp_path, monkeypatch):
    import runpy
    import sys

    import backend.memory_management as memory
    from modules import paths, script_callbacks, sd_models, shared

    from lora_for_dummies.families.sd2 import SD2_GONE

    scans: list[int] = []
    networks = type(sys)("networks")
    networks.list_available_networks = lambda: scans.append(1)
    monkeypatch.setitem(sys.modules, "networks", networks)
    runpy.run_path(str(Path(__file__).resolve().parent.parent / "scripts" /
                       "lora_for_dummies.py"))
    [(tab, _, _)] = script_callbacks.ui_tabs_callback()
    for elem_id in ("lfd_wizard_family", "lfd_dataset_family"):
        radio = find_block(tab, elem_id)
        assert tuple(c if isinstance(c, str) else c[1] for c in radio.choices) == \
            _neo_families()[0]
        assert SD2_GONE in radio.info
    models = Path(paths.models_path) / "Stable-diffusion"
    shutil.copy(tiny_models["sd2v"], models / "v2.safetensors")
    shutil.copy(tiny_models["sdxl"], models / "xl.safetensors")
    handler_for(tab, find_block(tab, "lfd_train_base"), None)()
    status = find_block(tab, "lfd_train_message")
    start = handler_for(tab, status, "on_start")
    from test_train_ui import _values

    from lora_for_dummies.hosts.webui import WebuiHost

    rows = [[str(instance_folder(WebuiHost().datasets_dir() / "inst")), "sks", 1, "", ""]]
    refused = start("", 1, False, *UNCHOSEN, "v2.safetensors", rows, "auto", *_values())
    assert refused == f"⚠ SD 2.x: {SD2_GONE}"
    # The Wizard's family follows the chosen base model.
    line, family = handler_for(tab, find_block(tab, "lfd_wizard_family"), "on_base")(
        "xl.safetensors")
    assert family["value"] == "sdxl" and line.startswith("Detected: Stable Diffusion XL")
    sd_models.events.clear()
    message = start("", 1, False, *UNCHOSEN, "xl.safetensors", rows, "auto",
                    *_values(training__steps=2, samples__every=0, save__every=0))
    assert message.startswith("Started ui run"), message
    SESSION.wait(300)
    assert not SESSION.running and "done: 2 steps" in SESSION.view().text
    # Issue 24: the tab says what happened to Neo's own models.
    assert any("left the GPU for this run (Forge's memory management)" in line
               for line in SESSION.trainer.reporter.state.log)
    assert memory.events == ["unload_all_models", "soft_empty_cache"]
    assert sd_models.events == []  # Neo frees VRAM itself; A1111's unload/reload not used
    assert scans and (Path(shared.cmd_opts.lora_dir) / "ui run.safetensors").is_file()
