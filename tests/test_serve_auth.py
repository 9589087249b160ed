"""Who may use the app and its job API (issue #22): the webui mounts /lfd/v1 only with --api and
never open to the network without its login; `lfd serve` beyond loopback needs --auth, and then
the page, gradio's routes and the API all ask for it."""

from __future__ import annotations

import runpy
import socket
from pathlib import Path

import gradio as gr
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gradio_calls import call, fn_index, free_port

from lora_for_dummies.cli import main

ROOT = Path(__file__).resolve().parent.parent
JOBS = "/lfd/v1/jobs"


def _webui_app(**flags) -> FastAPI:
    """A FastAPI app after the webui's on_app_started, with these command-line flags."""
    from modules import script_callbacks, shared

    runpy.run_path(str(ROOT / "scripts" / "lora_for_dummies.py"))
    for name, value in flags.items():
        setattr(shared.cmd_opts, name, value)
    app = FastAPI()
    for callback in script_callbacks.callbacks_app_started:
        callback(None, app)
    return app


def _api_paths(app: FastAPI) -> list[str]:
    return [r.path for r in app.routes if getattr(r, "path", "").startswith("/lfd/v1")]


def test_webui_without_api_mounts_no_job_api(webui_standin, capsys):
    app = _webui_app()
    assert _api_paths(app) == []
    assert TestClient(app).get(JOBS).status_code == 404
    assert capsys.readouterr().out == ""  # no --api, no API: nothing to explain


@pytest.mark.parametrize("opened", [{"listen": True}, {"server_name": "0.0.0.0"},
                                    {"server_name": "192.168.1.20"}, {"share": True}])
def test_webui_open_to_the_network_without_login_mounts_no_job_api(webui_standin, capsys,
                                                                   opened):
    app = _webui_app(api=True, **opened)
    assert _api_paths(app) == []
    assert TestClient(app).get(JOBS).status_code == 404
    [line] = capsys.readouterr().out.splitlines()
    assert "not mounted" in line and "--api-auth user:password" in line


def test_webui_listening_with_gradio_auth_asks_for_it(webui_standin):
    client = TestClient(_webui_app(api=True, listen=True, gradio_auth="u:p,u2:p2"))
    assert client.get(JOBS).status_code == 401
    assert client.get(JOBS, auth=("u", "wrong")).status_code == 401
    assert client.get(JOBS, auth=("u2", "p2")).json() == []


def test_webui_api_auth_wins_and_an_auth_file_counts(webui_standin, tmp_path):
    client = TestClient(_webui_app(api=True, listen=True, api_auth="api:key",
                                   gradio_auth="ui:pw"))
    assert client.get(JOBS, auth=("ui", "pw")).status_code == 401
    assert client.get(JOBS, auth=("api", "key")).status_code == 200
    logins = tmp_path / "auth.txt"
    logins.write_text("first:one\nsecond:two,third:three\n", encoding="utf-8")
    client = TestClient(_webui_app(api=True, listen=True, api_auth=None,
                                   gradio_auth_path=str(logins)))
    assert client.get(JOBS).status_code == 401
    assert client.get(JOBS, auth=("third", "three")).status_code == 200


def test_webui_on_loopback_with_api_keeps_working_for_scripts(webui_standin):
    client = TestClient(_webui_app(api=True), base_url="http://127.0.0.1:7860")
    assert client.get(JOBS).json() == []


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_serve_beyond_loopback_without_auth_refuses_to_start(tmp_path, capsys, host):
    port = free_port()
    status = main(["serve", "--host", host, "--port", str(port), "--data-dir",
                   str(tmp_path / "data"), "--no-block"])
    assert status == 2
    out, err = capsys.readouterr()
    [line] = err.splitlines()
    assert "--auth user:password" in line and host in line
    assert not _listening(port) and not (tmp_path / "data").exists()  # nothing started


def test_serve_auth_must_hold_a_user_and_a_password(tmp_path, capsys):
    assert main(["serve", "--auth", "alice", "--data-dir", str(tmp_path), "--no-block"]) == 2
    assert "user:password" in capsys.readouterr().err


def test_serve_with_auth_asks_for_it_in_the_ui_and_the_api(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    assert main(["serve", "--host", "0.0.0.0", "--port", str(port), "--auth",
                 "alice:secret,bob:pw2", "--data-dir", str(data), "--no-block"]) == 0
    base = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(base + JOBS).status_code == 401
        assert httpx.get(base + JOBS, auth=("alice", "wrong")).status_code == 401
        assert httpx.get(base + JOBS, auth=("bob", "pw2")).json() == []
        assert httpx.get(base + "/config").status_code == 401  # gradio's login
        with httpx.Client() as browser:
            login = browser.post(base + "/login",
                                 data={"username": "alice", "password": "secret"})
            assert login.status_code == 200
            index = fn_index(base, "lfd_dataset_create", browser)
            status, answer = call(base, index, ["logged in", ""], {}, browser)
            assert status == 200 and (data / "datasets" / "logged in").is_dir(), answer
            # Logged in or not, a page of another origin is refused (the browser would send
            # the login cookie with a form post from any site).
            status, answer = call(base, index, ["cross site", ""],
                                  {"Origin": "http://evil.com:1"}, browser)
            assert status == 403 and not (data / "datasets" / "cross site").exists()
        status, _ = call(base, index, ["no login", ""], {})
        assert status == 401 and not (data / "datasets" / "no login").exists()
    finally:
        gr.close_all()

