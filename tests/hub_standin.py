"""A stand-in of the Hugging Face hub on 127.0.0.1, speaking the part of its HTTP API that
huggingface_hub's `model_info(files_metadata=True)` and `snapshot_download(local_dir=…)` use, as
observed from the versions the hosts pin (0.26, 0.36, 2.x): `GET /api/models/<repo>`
(`…/revision/<rev>`), `GET /api/models/<repo>/tree/<commit>?recursive=true`, and `HEAD` / `GET`
(with `Range`, for resuming) of `/<repo>/resolve/<commit>/<file>`. Point `HF_ENDPOINT` at it.
Nothing leaves the machine; every request is recorded, Range headers included."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubStandin:
    def __init__(self, repos: dict[str, dict[str, bytes]], seconds_per_chunk: float = 0.0,
                 chunk: int = 64 * 1024) -> None:
        self.repos, self.seconds_per_chunk, self.chunk = repos, seconds_per_chunk, chunk
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Range header)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def downloads(self, name: str) -> list[str]:
        """The Range header of every GET of file `name` ("" for a whole-file GET)."""
        return [r for m, p, r in self.requests if m == "GET" and p.endswith("/" + name)]

    def _handler(self) -> type:
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                hub.requests.append((self.command, self.path.split("?")[0],
                                     self.headers.get("Range", "")))

            def _json(self, value: Any) -> None:
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _missing(self) -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", "RepoNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _repo(self, path: str) -> tuple[str, dict[str, bytes]] | None:
                parts = path.strip("/").split("/")
                repo = "/".join(parts[:2])
                return (repo, hub.repos[repo]) if repo in hub.repos else None

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._answer(head=False)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(head=True)

            def _answer(self, head: bool) -> None:
                path = self.path.split("?")[0]
                if path.startswith("/api/models/"):
                    found = self._repo(path[len("/api/models/"):])
                    if found is None or head:
                        return self._missing()
                    repo, files = found
                    if "/tree/" in path:
                        return self._json([{"type": "file", "path": n, "size": len(d),
                                            "oid": hashlib.sha1(d).hexdigest()}
                                           for n, d in files.items()])
                    return self._json({"id": repo, "modelId": repo, "sha": COMMIT,
                                       "private": False, "siblings": [
                                           {"rfilename": n, "size": len(d)}
                                           for n, d in files.items()]})
                if "/resolve/" not in path:
                    return self._missing()
                where, name = path.split("/resolve/", 1)
                found = self._repo(where)
                name = name.split("/", 1)[1] if "/" in name else ""
                if found is None or name not in found[1]:
                    return self._missing()
                data = found[1][name]
                start = 0
                wanted = self.headers.get("Range", "")
                if wanted.startswith("bytes=") and not head:
                    start = int(wanted[6:].split("-")[0] or 0)
                self.send_response(206 if start else 200)
                self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if head:
                    return
                for offset in range(start, len(data), hub.chunk):
                    try:
                        self.wfile.write(data[offset:offset + hub.chunk])
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        return  # the client was stopped
                    time.sleep(hub.seconds_per_chunk)

        return Handler
