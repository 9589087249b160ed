"""Messages of the job API (`{"detail": "<line>"}` with the status)."""

from __future__ import annotations

from lora_for_dummies.messages.base import API, Message

# -- The job API (`{"detail": "<line>"}` with the status) ----------------------------------
API_HOST_REFUSED = Message(
    API, "requests for host {host} are refused on this local server; open it as localhost or "
    "127.0.0.1, or add the name to LFD_ALLOWED_HOSTS",
    "The server listens on this computer only, and the request named another host (what a "
    "DNS-rebinding page does).", "Open it as localhost or 127.0.0.1. Behind a reverse proxy, "
    "add its host name to `LFD_ALLOWED_HOSTS` (comma-separated).", before="403 · ")
API_ORIGIN_REFUSED = Message(
    API, "requests from another origin ({origin}) are refused; only pages of {host} may use "
    "this server", "A page of another web site tried to use the server.",
    "Use the app's own page, or call the API from a script (no Origin header). Details: "
    "[safety.md](safety.md).", before="403 · ")
API_TOO_LARGE = Message(
    API, "the body is larger than {limit} bytes", "The request body is over 1 MiB.",
    "Send the job alone; a train job is a few kilobytes.", before="413 · ")
API_NOT_JSON = Message(
    API, "send the job as JSON (Content-Type: application/json), not {kind}",
    "The body was sent as a form or plain text.",
    "Send `Content-Type: application/json` ([reference.md](reference.md#job-api)).",
    before="415 · ")
API_BAD_JSON = Message(
    API, "the body must be JSON", "The body does not parse as JSON.",
    "Check the JSON (quotes, commas).", before="400 · ")
API_NOT_OBJECT = Message(
    API, "the body must be a JSON object", "The body is JSON, but a list or a value, not an "
    "object.", "Send one object: `{\"kind\": \"train\", …}`.", before="400 · ")
API_BUSY = Message(
    API, "{running} is still running", "One job runs at a time, shared by the tabs and the "
    "API.", "Wait for the running job, or stop it.", before="409 · ")
API_NO_JOB = Message(
    API, "no job {job_id}", "No job of this id since the server started (ids do not survive "
    "a restart).", "List the jobs with `GET /lfd/v1/jobs`.", before="404 · ")
API_INTERNAL = Message(
    API, "internal error {error_id} ({kind}); the server log has the details under this id",
    "A bug: the request was fine, the server failed.",
    "The server log shows the traceback beside the same id; please report it with that "
    "traceback.", before="500 · ")
