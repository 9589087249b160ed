"""DNS rebinding and cross-origin calls of the UI's own endpoints (issue #22).

A page of `evil.com` whose name was rebound to 127.0.0.1 reaches the app's loopback port naming
`Host: evil.com:PORT`, `Origin: http://evil.com:PORT`; any other page sends its own Origin. Both
call a real handler that writes files (Dataset ▸ Create) over gradio's real routes — its direct
POST, and its queue (gradio 3's websocket, gradio 4/5's queue/join) — on the standalone app
(`lfd serve`, our middleware in front of every route) and in the webui stand-in (the webui's
app, our handlers guarded one by one). Nothing may be created; the app's own page still works.
"""

from __future__ import annotations

import inspect
import runpy
from pathlib import Path

import gradio as gr
import httpx
import pytest
from gradio_calls import GRADIO, call, failed_with, fn_index, free_port, websocket_call

from lora_for_dummies.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _probes(port: int) -> dict[str, dict[str, str]]:
    own = f"127.0.0.1:{port}"
    return {"rebound": {"Host": f"evil.com:{port}", "Origin": f"http://evil.com:{port}"},
            "foreign origin": {"Host": own, "Origin": f"http://evil.com:{port}"},
            "foreign referer": {"Host": own, "Referer": f"http://127.0.0.1:{port + 1}/x"},
            "own": {"Host": own, "Origin": f"http://{own}"}}


@pytest.fixture()
def standalone(tmp_path):
    """`lfd serve` in-process on a free loopback port: (port, datasets folder)."""
    port = free_port()
    assert main(["serve", "--data-dir", str(tmp_path / "data"), "--port", str(port),
                 "--no-block"]) == 0
    yield port, tmp_path / "data" / "datasets"
    gr.close_all()


def test_standalone_refuses_foreign_hosts_and_origins_on_gradio_routes(standalone):
    port, datasets = standalone
    base = f"http://127.0.0.1:{port}"
    create = fn_index(base, "lfd_dataset_create")
    probes = _probes(port)
    for name in ("rebound", "foreign origin", "foreign referer"):
        status, answer = call(base, create, [f"by {name}", ""], probes[name])
        assert status == 403, (name, answer)
        reason = failed_with(answer)
        assert ("host evil.com" if name == "rebound" else "another origin") in reason, reason
        assert not (datasets / f"by {name}").exists()
    # Every route, gradio's page and uploads included, is behind the same rule.
    assert httpx.get(base + "/", headers=probes["rebound"]).status_code == 403
    upload = httpx.post(f"{base}{'/gradio_api' if GRADIO >= 5 else ''}/upload",
                        headers=probes["foreign origin"], files={"files": ("a.txt", b"x")})
    assert upload.status_code == 403
    status, answer = call(base, create, ["by own page", ""], probes["own"])
    assert status == 200 and not failed_with(answer), answer
    assert (datasets / "by own page").is_dir()
    # A link from another site (a GET without Origin) still opens the page.
    link = httpx.get(base + "/", headers={"Referer": "http://elsewhere.example/"})
    assert link.status_code == 200 and "<html" in link.text.lower()


@pytest.mark.skipif(GRADIO >= 4, reason="gradio 4 and 5 queue over HTTP (the test above)")
def test_standalone_refuses_foreign_websockets(standalone):
    from websockets.exceptions import InvalidStatus

    port, datasets = standalone
    create = fn_index(f"http://127.0.0.1:{port}", "lfd_dataset_create")
    for host, origin in ((f"evil.com:{port}", f"http://evil.com:{port}"),
                         (f"127.0.0.1:{port}", f"http://evil.com:{port}")):
        with pytest.raises(InvalidStatus) as refused:
            websocket_call(port, host, origin, create, ["by websocket", ""])
        assert refused.value.response.status_code == 403
    assert not (datasets / "by websocket").exists()
    answer = websocket_call(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", create,
                            ["by own websocket", ""])
    assert answer["success"], answer
    assert (datasets / "by own websocket").is_dir()


def _webui_demo(nested: bool = False) -> gr.Blocks:
    """The extension's tabs rendered into a webui-like Blocks (modules/ui.py create_ui's
    shape), whose closing attaches the page-load events of our components. A1111 asks for the
    tabs before it opens its Blocks; `nested` asks inside it, where gradio registers our events
    on the outer Blocks."""
    from modules import script_callbacks

    runpy.run_path(str(ROOT / "scripts" / "lora_for_dummies.py"))
    interfaces = [] if nested else script_callbacks.ui_tabs_callback()
    with gr.Blocks(analytics_enabled=False) as demo:
        interfaces = interfaces or script_callbacks.ui_tabs_callback()
        with gr.Tabs():
            for interface, label, elem_id in interfaces:
                with gr.TabItem(label, id=elem_id):
                    interface.render()
    return demo


@pytest.fixture()
def webui_app(webui_standin):
    """Our tabs in the webui stand-in, served by gradio itself as the webui serves them (no
    middleware of ours): (port, our datasets folder)."""
    from lora_for_dummies.hosts.webui import WebuiHost

    port = free_port()
    _webui_demo().queue().launch(server_name="127.0.0.1", server_port=port,
                                 prevent_thread_lock=True)
    yield port, WebuiHost().datasets_dir()
    gr.close_all()


def test_webui_handlers_refuse_foreign_hosts_and_origins(webui_app):
    from modules import shared

    port, datasets = webui_app
    base = f"http://127.0.0.1:{port}"
    create = fn_index(base, "lfd_dataset_create")
    probes = _probes(port)
    for name in ("rebound", "foreign origin", "foreign referer"):
        status, answer = call(base, create, [f"by {name}", ""], probes[name])
        reason = failed_with(answer)
        assert ("host evil.com" if name == "rebound" else "another origin") in reason, answer
        assert not (datasets / f"by {name}").exists()
    status, answer = call(base, create, ["by own page", ""], probes["own"])
    assert status == 200 and not failed_with(answer), answer
    assert (datasets / "by own page").is_dir()
    # --listen: the user opened the webui to other names (and to its login), but a page of
    # another origin is still refused.
    shared.cmd_opts.listen = True
    status, answer = call(base, create, ["by lan name", ""],
                          {"Host": f"gpu-box.lan:{port}", "Origin": f"http://gpu-box.lan:{port}"})
    assert not failed_with(answer), answer
    assert (datasets / "by lan name").is_dir()
    status, answer = call(base, create, ["by lan page", ""], probes["foreign origin"])
    assert "another origin" in failed_with(answer) and not (datasets / "by lan page").exists()


@pytest.mark.skipif(GRADIO >= 4, reason="gradio 4 and 5 queue over HTTP (the test above)")
def test_webui_handlers_refuse_foreign_websocket_calls(webui_app):
    port, datasets = webui_app
    create = fn_index(f"http://127.0.0.1:{port}", "lfd_dataset_create")
    # The webui's queue accepts the socket (not our route); our handler refuses the call.
    for host, origin in ((f"evil.com:{port}", f"http://evil.com:{port}"),
                         (f"127.0.0.1:{port}", f"http://evil.com:{port}")):
        answer = websocket_call(port, host, origin, create, ["by websocket", ""])
        assert not answer["success"] and failed_with(answer), answer
    assert not (datasets / "by websocket").exists()
    answer = websocket_call(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", create,
                            ["by own websocket", ""])
    assert answer["success"], answer
    assert (datasets / "by own websocket").is_dir()


@pytest.mark.parametrize("nested", [False, True])
def test_every_handler_of_the_webui_tab_is_guarded(webui_standin, nested):
    """One wrapper over every event function our tabs registered (about 220 with the page-load
    events of components whose value is a function), so a handler added later is covered
    without touching its call site."""
    from uitools import handlers

    events = [f for f in handlers(_webui_demo(nested)) if f.fn is not None]
    assert len(events) > 150
    unguarded = [repr(f.fn) for f in events if not hasattr(f.fn, "lfd_unguarded")]
    assert unguarded == []
    # gradio sees the handler as it was, behind the request: the same kind (a generator still
    # streams) and the same parameters, shifted by one.
    kinds = (inspect.isgeneratorfunction, inspect.iscoroutinefunction,
             inspect.isasyncgenfunction)
    for f in events:
        own = f.fn.lfd_unguarded
        assert [kind(f.fn) for kind in kinds] == [kind(own) for kind in kinds], own
        assert list(inspect.signature(f.fn).parameters.values())[1:] == \
            list(inspect.signature(own).parameters.values()), own
    assert any(inspect.isgeneratorfunction(f.fn) for f in events)
