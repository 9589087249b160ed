"""What every request to the job API must satisfy, on the standalone server and in the webui.

- Same origin only: a request that carries `Origin` (or, without it, `Referer`) must come from
  the server's own origin (403). Browsers add these headers to cross-site requests, including
  "simple" `no-cors` POSTs and form posts that skip the CORS preflight; scripts and `curl`
  send neither and keep working. (Jupyter and the webui's own API work the same way.)
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
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

MAX_BODY = 1 << 20  # 1 MiB: a train job is a few kilobytes
log = logging.getLogger("lora_for_dummies.api")


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    port = parts.port or default
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port != default else "")


def _is_loopback(name: str) -> bool:
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_host(request: Request) -> None:
    """403 for a request that reached a loopback address under a name that is not one (DNS
    rebinding), unless the user allowed that name."""
    server = request.scope.get("server") or ("", 0)
    if not _is_loopback(str(server[0])):
        return
    named = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
    allowed = {n.strip().lower() for n in os.environ.get("LFD_ALLOWED_HOSTS", "").split(",")}
    if not _is_loopback(named) and named.lower() not in allowed - {""}:
        raise HTTPException(403, f"requests for host {named or '(none)'} are refused on this "
                                 "local server; open it as localhost or 127.0.0.1, or add the "
                                 "name to LFD_ALLOWED_HOSTS")


def check_origin(request: Request) -> None:
    """403 unless the browser says the request comes from this server's own page."""
    claimed = request.headers.get("origin")
    if claimed is None:
        claimed = request.headers.get("referer")
        if claimed is None:
            return  # not a browser page (curl, scripts, the webui's own Python)
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    host = request.headers.get("host") or request.url.netloc
    own = _origin_of(f"{scheme}://{host}/")
    if claimed in ("null", "") or _origin_of(claimed) != own:
        raise HTTPException(403, f"requests from another origin ({claimed or 'null'}) are "
                                 f"refused; only pages of {own} may use this API")


async def json_body(request: Request, required: bool = True) -> dict[str, Any]:
    """The request's JSON object, with 415 / 413 / 400 for everything else."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, f"the body is larger than {MAX_BODY} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise HTTPException(413, f"the body is larger than {MAX_BODY} bytes")
    if not data and not required:
        return {}
    if kind != "application/json":
        raise HTTPException(415, "send the job as JSON (Content-Type: application/json), not "
                                 f"{kind or 'no content type'}")
    try:
        body = json.loads(bytes(data) or b"{}")
    except (ValueError, RecursionError):
        raise HTTPException(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def no_tracebacks(route: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an unexpected exception into 500 "internal error <id>" and log the traceback with
    the same id; HTTPExceptions (the 4xx answers) pass through."""
    def failed(err: Exception) -> HTTPException:
        error_id = uuid.uuid4().hex[:12]
        log.error("internal error %s in %s: %s", error_id, route.__name__, err, exc_info=err)
        return HTTPException(500, f"internal error {error_id} ({type(err).__name__}); the "
                                  "server log has the details under this id")

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
