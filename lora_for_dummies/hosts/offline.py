"""The standalone page asks nothing of other hosts.

gradio's page template (3.41, 4.x and 5.x alike) loads a script from cdnjs.cloudflare.com (only
needed when the app is embedded in an iframe) and preconnects to Google's font servers. The app
is a local tool: it must work, and look right, with no connection, and tell no one it is used.
The fonts are handled by the theme (`ui.app.offline_theme`); this middleware removes the
template's outside script and preconnect tags from the HTML pages it serves.
"""

from __future__ import annotations

import re
from typing import Any

_OUTSIDE = re.compile(
    rb'<script\s+src="https?://[^"]*"[^>]*>\s*</script>\s*'
    rb'|<link\s+rel="preconnect"\s+href="https?://[^"]*"[^>]*>\s*', re.IGNORECASE)


def strip_outside_references(html: bytes) -> bytes:
    """The page without tags that load from, or connect to, another host."""
    return _OUTSIDE.sub(b"", html)


class NoOutsideRequests:
    """ASGI middleware: rewrites `text/html` responses with `strip_outside_references`.

    It is given to the app as its innermost middleware, so it sees the page before any
    compression.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        passthrough = False
        body: list[bytes] = []

        async def rewrite(message: dict) -> None:
            nonlocal start, passthrough
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                kind = headers.get(b"content-type", b"")
                if not kind.startswith(b"text/html") or b"content-encoding" in headers:
                    passthrough = True
                    await send(message)
                else:
                    start = message
                return
            if passthrough or start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            html = strip_outside_references(b"".join(body))
            headers = [(k, v) for k, v in start.get("headers") or []
                       if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(html)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, rewrite)


def offline_app_kwargs() -> dict[str, Any]:
    """`launch(app_kwargs=…)` for gradio 3.41, 4.x and 5.x: the FastAPI app's middleware."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(NoOutsideRequests)]}
