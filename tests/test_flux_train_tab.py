"""The Train tab on a Flux base (standalone, the demo workspace's Flux files laid out as Forge
Neo keeps them): the Wizard follows the base to Flux, Start trains it, the run ends with the
final block and a LoRA that loads in Forge Neo and ComfyUI."""

from __future__ import annotations

from safetensors import safe_open
from test_train_ui import _values

from lora_for_dummies.demo import DEMO_FLUX_MODEL, prepare_demo
from lora_for_dummies.hosts.standalone import StandaloneHost
from lora_for_dummies.ui.app import standalone_app
from lora_for_dummies.ui.train_session import SESSION
from lora_for_dummies.ui.train_tab import poll_view
from uitools import choices_of, find_block, handler_for


def test_the_train_tab_trains_the_flux_demo(tmp_path):
    prepare_demo(tmp_path)
    host = StandaloneHost(tmp_path)
    demo = standalone_app(host)
    title = DEMO_FLUX_MODEL
    assert title in choices_of(handler_for(demo, find_block(demo, "lfd_train_base"), None)())
    line, family = handler_for(demo, find_block(demo, "lfd_wizard_family"), "on_base")(title)
    assert family["value"] == "flux" and line.startswith("Detected: Flux.1 / Chroma"), line
    wizard = handler_for(demo, find_block(demo, "lfd_wizard_text"), "on_wizard")(24, "flux")
    assert "Flux 24 GB tier" in wizard[0] and "estimate" in wizard[0]
    rows = [[str(host.datasets_dir() / "demo dog" / "HIGHRES_CONCEPT"), "sks", 1, "", ""]]
    start = handler_for(demo, find_block(demo, "lfd_train_message"), "on_start")
    message = start("", 1, False, "", "demo dog", "", title, rows, "auto",
                    *_values(training__steps=4, network__train_text_encoder=False,
                             save__name="flux tab"))
    assert message.startswith("Started flux tab"), message
    SESSION.wait(300)
    text, _, gallery, finished = poll_view()
    assert "done: 4 steps" in text and "loads in: Forge Neo ✓ ComfyUI ✓" in text, text
    assert "**Your LoRA is ready: `flux tab.safetensors`**" in finished
    assert gallery  # the Flux sampler's babysitting samples
    with safe_open(str(host.lora_dir() / "flux tab.safetensors"), "pt") as lora:
        assert lora.metadata()["ss_base_model_version"] == "flux1"
