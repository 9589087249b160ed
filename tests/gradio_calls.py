"""Call a running gradio app's event handlers over real HTTP / websocket, with chosen Host and
Origin headers, the way a browser page would, on gradio 3.41, 3.43, 4.x and 5.x.

gradio 3 answers `POST /run/predict` directly and queues over the `/queue/join` websocket;
gradio 4 and 5 queue with `POST queue/join` and stream the result from `GET queue/data`
(gradio 5 under `/gradio_api`).
"""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import gradio as gr
import httpx

GRADIO = int(gr.__version__.split(".")[0])
API = "/gradio_api" if GRADIO >= 5 else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fn_index(base: str, elem_id: str, client: httpx.Client | None = None) -> int:
    """The fn_index of the event whose trigger is the component with this elem_id, from the
    app's own /config (through `client`, e.g. one logged in)."""
    config = (client or httpx).get(base + "/config", timeout=30).json()
    ids = {c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id}
    for position, dependency in enumerate(config["dependencies"]):
        targets = [t if isinstance(t, int) else t[0] for t in dependency["targets"]]
        if ids & set(targets):
            return dependency.get("id", position)
    raise LookupError(elem_id)


def call(base: str, index: int, data: list[Any], headers: dict[str, str],
         client: httpx.Client | None = None) -> tuple[int, dict]:
    """(HTTP status, answer) of one call of event `index` (through `client`, e.g. one logged
    in). The answer is gradio 3's JSON, or on gradio 4 / 5 the `process_completed` message; a
    refused request's answer is its JSON."""
    http = client or httpx
    if GRADIO < 4:
        response = http.post(base + "/run/predict", headers=headers, timeout=60,
                              json={"fn_index": index, "data": data, "session_hash": "t"})
        return response.status_code, response.json()
    session = uuid.uuid4().hex
    response = http.post(base + API + "/queue/join", headers=headers, timeout=60,
                          json={"fn_index": index, "data": data, "session_hash": session,
                                "event_data": None, "trigger_id": None})
    if response.status_code != 200:
        return response.status_code, response.json()
    stream_headers = {k: v for k, v in headers.items() if k.lower() != "origin"}
    with http.stream("GET", f"{base}{API}/queue/data?session_hash={session}",
                      headers=stream_headers, timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return 200, message
    raise AssertionError("the queue closed without an answer")


def failed_with(answer: dict) -> str:
    """The error a gradio call ended with ('' when it succeeded)."""
    if "detail" in answer:  # refused before gradio
        return str(answer["detail"])
    if "error" in answer:  # gradio 3 /run/predict
        return str(answer["error"])
    if answer.get("success") is False:
        return str((answer.get("output") or {}).get("error"))
    return ""


def websocket_call(port: int, host: str, origin: str, index: int, data: list[Any]) -> dict:
    """gradio 3's queue: one call over `/queue/join`, connecting to 127.0.0.1:port while naming
    `host` (a rebound DNS name reaches the loopback port this way). Raises websockets'
    InvalidStatus when the handshake is refused."""
    from websockets.sync.client import connect

    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    session = uuid.uuid4().hex
    with connect(f"ws://{host}/queue/join", sock=sock, origin=origin,
                 open_timeout=60) as ws:
        while True:
            message = json.loads(ws.recv(timeout=60))
            if message["msg"] == "send_hash":
                ws.send(json.dumps({"fn_index": index, "session_hash": session}))
            elif message["msg"] == "send_data":
                ws.send(json.dumps({"fn_index": index, "session_hash": session, "data": data,
                                    "event_data": None}))
            elif message["msg"] == "process_completed":
                return message
