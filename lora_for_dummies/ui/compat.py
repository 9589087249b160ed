"""The few places where gradio 3, 4 and 5 differ, in one module.

Everything else uses plain components and `gr.update(...)`, which all three accept.
"""

from __future__ import annotations

from typing import Any


def gradio_major() -> int:
    import gradio as gr

    return int(gr.__version__.split(".")[0])


def dropdown(label: str, choices: list[str], value: str | None, elem_id: str, **kwargs: Any) -> Any:
    """A dropdown whose value may be absent from its choices (a file deleted since)."""
    import gradio as gr

    if gradio_major() >= 4:
        kwargs.setdefault("allow_custom_value", True)
    return gr.Dropdown(label=label, choices=choices, value=value, elem_id=elem_id, **kwargs)
