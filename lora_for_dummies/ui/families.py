"""The "Model family" choice, as the host allows it (Forge Neo runs no SD 2.x), with the note
that says why a family is missing."""

from __future__ import annotations

from typing import Any

from lora_for_dummies.families import get_family
from lora_for_dummies.hosts.base import Host


def family_radio(host: Host, elem_id: str, value: str, info: str) -> Any:
    import gradio as gr

    families, note = host.families()
    return gr.Radio(list(families), value=value if value in families else families[0],
                    label="Model family", elem_id=elem_id,
                    info=info + (f" ({note})" if note else ""))


def family_refused(host: Host, family: str) -> str:
    """Why this host cannot train `family`, or "" when it can."""
    from lora_for_dummies.families import unavailable_reason

    try:
        why = unavailable_reason(family, host.host_kind())
    except ValueError:  # a job or an old form naming a family no plug-in provides
        return f"{family}: not a model family this version knows"
    return f"{_title(family)}: {why}" if why else ""


def _title(family: str) -> str:
    try:
        return get_family(family).short_title
    except ValueError:  # a job or an old form naming a family no plug-in provides
        return family
