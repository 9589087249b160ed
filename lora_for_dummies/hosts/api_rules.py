"""What every request to our servers must satisfy: the job API, on the standalone server and in
the webui, and (through `HostOriginGuard`) every route of the standalone app, gradio's included.

The Host / Origin rule is `refusal`, a plain function of the request's headers; the FastAPI
dependency of the API (`check_request`), the standalone app's ASGI middleware
(`HostOriginGuard`) and the webui's handler guard (`ui/request_guard.py`) all ask it.

- Same origin only: a request that carries `Origin` must come from a page of the server it
  reached (403); a state-changing one (POST, PUT, PATCH, DELETE, and every call of the API or of
  a handler) that carries only `Referer` is held to the same rule. Browsers add these headers to
  cross-site requests, including "simple" `no-cors` POSTs, form posts that skip the CORS
  preflight and websocket handshakes; scripts and `curl` send neither and keep working, and so
  does a plain link from another site to the page (a GET without Origin). (Jupyter and the
  webui's own API work the same way.)
- Loopback requests name a loopback host (403): a page of `evil.example` whose DNS name was
  rebound to 127.0.0.1 is "same origin" with itself, but its requests arrive on the loopback
  interface carrying `Host: evil.example`. Names in `LFD_ALLOWED_HOSTS` (comma-separated, e.g. a
  reverse proxy's) are allowed too; a server listening on the network (`--listen`) was opened
  to other names by its user, and requests arriving there are not host-checked.
- JSON bodies only (415), at most `MAX_BODY` bytes (413).
- No traceback in any response: a genuine bug answers 500 with an id that the log line holding
  the traceback also shows.
"""

from __future__ import annotations

import functools
import inspect
import ipaddress
import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from lora_for_dummies import messages as msg

MAX_BODY = 1 << 20  # 1 MiB: a train job is a few kilobytes
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = logging.getLogger("lora_for_dummies.api")


def _host_port(netloc: str, default_port: int | None) -> tuple[str, int | None] | None:
    """(lower-case host name, port) of `host[:port]`; None when it does not parse."""
    try:
        parts = urlsplit(f"//{netloc}")
        return (parts.hostname or "").lower(), parts.port or default_port
    except ValueError:  # a port that is not a number
        return None


def _same_server(claimed: str, host_header: str) -> bool:
    """Whether the page URL `claimed` (an Origin or a Referer) names the server that the Host
    header names. The browser writes both from URLs: a Host without a port is the default port
    of the scheme the page was loaded with."""
    try:
        parts = urlsplit(claimed)
        default = {"http": 80, "https": 443}.get(parts.scheme)
        page = ((parts.hostname or "").lower(), parts.port or default)
    except ValueError:
        return False
    if not parts.scheme or not page[0] or default is None:
        return False  # "null" (a sandboxed frame, a file), or no web page at all
    return page == _host_port(host_header, default)


def _is_loopback(name: str) -> bool:
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_is_loopback(name: str) -> bool:
    """Whether a server address or host name (`127.0.0.1`, `::1`, `localhost`) is loopback."""
    return _is_loopback(name)


def allowed_host_names() -> set[str]:
    """LFD_ALLOWED_HOSTS: names the user allows besides loopback ones (a reverse proxy's)."""
    return {n.strip().lower() for n in os.environ.get("LFD_ALLOWED_HOSTS", "").split(",")} - {""}


def refusal(headers: Mapping[str, str], *, state_changing: bool, loopback: bool) -> str | None:
    """Why a request must be refused (one line), or None to let it through.

    `headers` has lower-case names; `state_changing` for POST / PUT / PATCH / DELETE and for
    anything that runs a job or a handler; `loopback`: the server this request reached listens
    on a loopback address only (there a foreign Host name is DNS rebinding).
    """
    host = headers.get("host", "")
    if loopback:
        named = (_host_port(host, None) or ("", None))[0]
        if not _is_loopback(named) and named not in allowed_host_names():
            return msg.API_HOST_REFUSED.format(host=named or "(none)")
    claimed = headers.get("origin")
    if claimed is None and state_changing:
        claimed = headers.get("referer")
    if claimed is None:
        return None  # not a browser page (curl, scripts, the webui's own Python), or a link
    if not _same_server(claimed, host):
        return msg.API_ORIGIN_REFUSED.format(origin=claimed or "null",
                                             host=host or "this server")
    return None


def parse_credentials(text: str) -> list[tuple[str, str]]:
    """`user:password,user2:password2` (the webui's --api-auth / --gradio-auth, `lfd serve
    --auth`) as pairs; pieces without a user and a password are skipped."""
    pairs = [tuple(piece.strip().split(":", 1)) for piece in text.split(",") if ":" in piece]
    return [(user, password) for user, password in pairs if user and password]


def scope_is_loopback(scope: Mapping[str, Any]) -> bool:
    """Whether the ASGI request arrived on a loopback address of the server."""
    server = scope.get("server") or ("", 0)
    return _is_loopback(str(server[0]))


def check_request(request: Request) -> None:
    """The rule for the job API (a FastAPI dependency's part): 403 with the reason. Every
    API call counts as state-changing: its pages are data, never a link to follow."""
    reason = refusal({k.lower(): v for k, v in request.headers.items()}, state_changing=True,
                     loopback=scope_is_loopback(request.scope))
    if reason is not None:
        raise HTTPException(403, reason)


class HostOriginGuard:
    """ASGI middleware: `refusal` in front of every route of an app, http and websocket alike
    (gradio 3 runs its queue over a websocket, whose handshake carries Origin). A refused
    request gets 403 and a one-line JSON `detail`; no route sees it.

    `loopback` is whether the server listens on loopback only (`lfd serve --host`); left None,
    each request's own arrival address decides. A server bound to all interfaces is reached by
    other names on purpose (and asks for `--auth`), even through loopback: gradio 3's queue
    calls the server back by the name the page used, which Debian resolves to 127.0.1.1 for
    the machine's own name."""

    def __init__(self, app: Any, loopback: bool | None = None) -> None:
        self.app = app
        self.loopback = loopback

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers") or []}
        changing = kind == "websocket" or scope.get("method", "GET").upper() in STATE_CHANGING
        loopback = scope_is_loopback(scope) if self.loopback is None else self.loopback
        reason = refusal(headers, state_changing=changing, loopback=loopback)
        if reason is None:
            await self.app(scope, receive, send)
            return
        log.warning("refused %s %s: %s", kind, scope.get("path", ""), reason)
        body = json.dumps({"detail": reason}).encode()
        start = {"status": 403, "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]}
        if kind == "http":
            await send({"type": "http.response.start", **start})
            await send({"type": "http.response.body", "body": body})
            return
        await receive()  # websocket.connect
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send({"type": "websocket.http.response.start", **start})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # closing before accepting answers the handshake with 403
            await send({"type": "websocket.close", "code": 1008})


def guard_app_kwargs(loopback: bool | None = None) -> dict[str, Any]:
    """`launch(app_kwargs=…)` middleware for gradio 3.41, 4.x and 5.x: the guard outermost
    (first in the list), so that nothing behind it sees a refused request."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(HostOriginGuard, loopback=loopback)]}


async def json_body(request: Request, required: bool = True) -> dict[str, Any]:
    """The request's JSON object, with 415 / 413 / 400 for everything else."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, msg.API_TOO_LARGE.format(limit=MAX_BODY))
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise HTTPException(413, msg.API_TOO_LARGE.format(limit=MAX_BODY))
    if not data and not required:
        return {}
    if kind != "application/json":
        raise HTTPException(415, msg.API_NOT_JSON.format(kind=kind or "no content type"))
    try:
        body = json.loads(bytes(data) or b"{}")
    except (ValueError, RecursionError):
        raise HTTPException(400, msg.API_BAD_JSON.text) from None
    if not isinstance(body, dict):
        raise HTTPException(400, msg.API_NOT_OBJECT.text)
    return body


def no_tracebacks(route: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an unexpected exception into 500 "internal error <id>" and log the traceback with
    the same id; HTTPExceptions (the 4xx answers) pass through."""
    def failed(err: Exception) -> HTTPException:
        error_id = uuid.uuid4().hex[:12]
        log.error("internal error %s in %s: %s", error_id, route.__name__, err, exc_info=err)
        return HTTPException(500, msg.API_INTERNAL.format(error_id=error_id,
                                                          kind=type(err).__name__))

    if inspect.iscoroutinefunction(route):
        @functools.wraps(route)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await route(*args, **kwargs)
            except HTTPException:
                raise
            except Exception as err:
                raise failed(err) from None
        return run_async

    @functools.wraps(route)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return route(*args, **kwargs)
        except HTTPException:
            raise
        except Exception as err:
            raise failed(err) from None
    return run


def without_debug_pages(app: Any) -> None:
    """Gradio 5 builds its FastAPI app with `debug=True`, whose error pages are tracebacks.
    Switch that off (the middleware stack is rebuilt at the next request)."""
    if getattr(app, "debug", False):
        app.debug = False
        if hasattr(app, "middleware_stack"):
            app.middleware_stack = None
