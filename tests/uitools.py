"""Helpers to reach gradio event handlers the same way on gradio 3, 4 and 5."""

from __future__ import annotations

from typing import Any


def handlers(demo: Any) -> list[Any]:
    fns = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    return list(fns)


# The guided path's choices (what you're teaching, dataset, concept) left unchosen, for the
# Start / Resume handlers called with the settings directly.
UNCHOSEN = ("", "", "")


def handler_for(demo: Any, output: Any, name: str | None = None) -> Any:
    """The event function that writes to `output` (optionally with a given function name).

    Inside the webui each handler sits behind the request guard (`ui/request_guard.py`, which
    needs the gradio request as its first argument); these tests call the handler itself, as
    the guard does once a request passed (`tests/test_request_guard.py` tests the guard)."""
    for block_fn in handlers(demo):
        if any(o is output for o in block_fn.outputs) and (name is None or
                                                          block_fn.fn.__name__ == name):
            return getattr(block_fn.fn, "lfd_unguarded", block_fn.fn)
    raise LookupError(f"no handler writes to {output!r}")


def choices_of(update: Any) -> list[str]:
    """Choice values from a gr.update(...) (gradio 4+ may store (label, value) pairs)."""
    return [c[1] if isinstance(c, (list, tuple)) else c for c in update["choices"]]


def find_block(blocks: Any, elem_id: str) -> Any:
    """The component with this elem_id in a gr.Blocks."""
    for block in blocks.blocks.values():
        if getattr(block, "elem_id", None) == elem_id:
            return block
    raise LookupError(elem_id)
