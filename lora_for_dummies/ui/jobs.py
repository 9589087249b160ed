"""Run a long job off the UI thread and stream its progress to the page.

The handler is a generator: gradio 3, 4 and 5 all stream generator updates when the queue is
on (the webui's is; the standalone app turns it on). One job runs at a time per host; Stop sets
the job's reporter to stop, which every job checks between units of work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from lora_for_dummies.errors import UserError
from lora_for_dummies.progress import Reporter

_lock = threading.Lock()
_current: dict[str, Reporter] = {}


def stop_current() -> str:
    with _lock:
        reporter = _current.get("job")
    if reporter is None:
        return "Nothing is running."
    reporter.request_stop()
    return "Stopping after the current item…"


def run_job(reporter: Reporter, work: Callable[[Reporter], Any],
            describe: Callable[[Any], Any], poll: float = 0.5,
            what: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (progress text, result) while `work(reporter)` runs in a thread.

    `what` names the job for whoever finds the host busy ("the best-step grid of demo dog");
    without it, the name the job gives its reporter once started.

    `describe(result)` turns the finished result into what the result output shows. A UserError
    becomes its message; anything else is reported with its type, never a silent failure.
    """
    from lora_for_dummies.gate import GATE, GateBusy

    box: dict[str, Any] = {"running": True}

    def named() -> str:  # never an internal id: what a person recognises
        return what or reporter.state.job or "a job of another tab"

    try:  # the host's one gate: the API and the Train tab see this job too
        GATE.enter(named, lambda: box["running"])
    except GateBusy as err:
        yield f"Another job is running ({err}); wait for it or press Stop.", None
        return
    with _lock:
        _current["job"] = reporter

    def target() -> None:
        try:
            box["result"] = work(reporter)
        except UserError as err:
            box["error"] = str(err)
        except Exception as err:  # shown to the user, and the UI stays alive
            box["error"] = f"{type(err).__name__}: {err}"

    thread = threading.Thread(target=target, name="lfd-job", daemon=True)
    try:
        thread.start()
        while thread.is_alive():
            thread.join(poll)
            yield reporter.state.summary(), None
        if "error" in box:
            yield f"Failed: {box['error']}", None
        else:
            yield reporter.state.summary(), describe(box.get("result"))
    finally:
        box["running"] = False
        GATE.leave(named)
        with _lock:
            _current.pop("job", None)

