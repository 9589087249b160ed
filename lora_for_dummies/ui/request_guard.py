"""The Host / Origin rule in front of our event handlers when the FastAPI app is not ours.

Inside the webui, gradio's routes (`/run/predict`, `/queue/join`, `/api/predict`, …) belong to
the webui's app, so no middleware of ours stands in front of them. Our handlers read and write
files (datasets, imports from a folder, exports, training), so each one checks the request it
is called for with `api_rules.refusal`, the same rule as the job API and the standalone app.

gradio hands a handler its request when a positional parameter is annotated `gr.Request`: its
`special_args` (gradio 3.41, 3.43, 4.x, 5.x) walks `inspect.signature(fn)`'s positional
parameters and inserts the request at that parameter's index. Many handlers take `*values`, so
the wrapper's request parameter comes first; the other parameters (and their type hints, e.g.
`gr.SelectData`, and defaults, e.g. `gr.Progress()`) are the handler's own, shifted by one.
A generator handler gets a generator wrapper, so gradio still streams it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lora_for_dummies.hosts.api_rules import refusal

REQUEST_PARAM = "lfd_request"


def request_headers(request: Any) -> dict[str, str]:
    """The request's headers with lower-case names, however gradio built it: from a
    fastapi.Request (Starlette Headers) or, in gradio 3's websocket queue, from a dict
    (gradio's `Obj`), with no raw request behind it."""
    raw = getattr(request, "headers", None) if request is not None else None
    items = raw.items() if raw is not None and hasattr(raw, "items") else []
    return {str(name).lower(): str(value) for name, value in items}


def guarded(fn: Callable[..., Any], loopback: Callable[[], bool]) -> Callable[..., Any]:
    """`fn` behind the rule: a refused call raises gr.Error with the reason (one line, shown
    by gradio) and `fn`'s body never runs. `loopback()` says, at call time, whether the server
    listens on loopback only. A call without a request (in-process Python) passes."""
    import gradio as gr
    from gradio.utils import get_type_hints

    def check(request: Any) -> None:
        if request is None:
            return
        reason = refusal(request_headers(request), state_changing=True, loopback=loopback())
        if reason is not None:
            raise gr.Error(reason)

    if inspect.isasyncgenfunction(fn):
        async def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            check(request)
            async for item in fn(*args, **kwargs):
                yield item
    elif inspect.iscoroutinefunction(fn):
        async def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            check(request)
            return await fn(*args, **kwargs)
    elif inspect.isgeneratorfunction(fn):
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            check(request)
            return (yield from fn(*args, **kwargs))
    else:
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            check(request)
            return fn(*args, **kwargs)

    functools.update_wrapper(wrapper, fn)
    own = inspect.signature(fn)
    first = inspect.Parameter(REQUEST_PARAM, inspect.Parameter.POSITIONAL_ONLY,
                              annotation=gr.Request)
    # Positional-only so that the handler's own parameters (even one named like ours) keep
    # their kinds behind it; the hints are resolved objects, so gradio evaluates no strings.
    wrapper.__signature__ = own.replace(parameters=[first, *own.parameters.values()])
    try:
        hints = get_type_hints(fn)
    except Exception:  # noqa: BLE001 - gradio would fail the same way on the bare handler
        hints = {}
    wrapper.__annotations__ = {**hints, REQUEST_PARAM: gr.Request}
    wrapper.lfd_unguarded = fn  # what the handler tests call directly
    return wrapper


def registered_events(blocks: Any) -> list[Any]:
    """The BlockFunctions of a Blocks (a list in gradio 3 / 4, a dict in gradio 5)."""
    fns = blocks.fns.values() if isinstance(blocks.fns, dict) else blocks.fns
    return list(fns)


def snapshot(blocks: Any) -> tuple[set[int], set[int]]:
    """What `blocks` holds now (its event functions and components), for `guard_events`."""
    return ({id(f) for f in registered_events(blocks)}, {id(b) for b in blocks.blocks.values()})


def guard_events(blocks: Any, loopback: Callable[[], bool],
                 since: tuple[set[int], set[int]] = (set(), set())) -> int:
    """Put every event function registered on `blocks` after `since` (a `snapshot`) behind the
    rule, once; the number wrapped. The BlockFunction objects are shared with the Blocks the
    host renders ours into, so this holds wherever the host serves them. A component whose
    value is a function gets its page-load event only when the outermost Blocks closes (the
    webui's; gradio 3, 4 and 5: `attach_load_events`): that function is wrapped where it
    waits, in `load_event_to_attach`."""
    old_events, old_blocks = since
    count = 0
    for block_fn in registered_events(blocks):
        fn = block_fn.fn
        if id(block_fn) in old_events or fn is None or hasattr(fn, "lfd_unguarded"):
            continue  # not ours, JavaScript only, or done already
        block_fn.fn = guarded(fn, loopback)
        count += 1
    for block in list(blocks.blocks.values()):
        pending = getattr(block, "load_event_to_attach", None)
        if id(block) in old_blocks or not pending or not callable(pending[0]) or \
                hasattr(pending[0], "lfd_unguarded"):
            continue
        block.load_event_to_attach = (guarded(pending[0], loopback), *pending[1:])
        count += 1
    return count
