"""The few places where gradio 3, 4 and 5 differ, in one module.

Everything else uses plain components and `gr.update(...)`, which all three accept.
"""

from __future__ import annotations

import re
from typing import Any


def gradio_major() -> int:
    import gradio as gr

    return int(gr.__version__.split(".")[0])


def update(**kwargs: Any) -> Any:
    import gradio as gr

    return gr.update(**kwargs)


def dropdown(label: str, choices: list[str], value: str | None, elem_id: str, **kwargs: Any) -> Any:
    """A dropdown whose value may be absent from its choices (a file deleted since)."""
    import gradio as gr

    if gradio_major() >= 4:
        kwargs.setdefault("allow_custom_value", True)
    return gr.Dropdown(label=label, choices=choices, value=value, elem_id=elem_id, **kwargs)


def file_upload(label: str, elem_id: str) -> Any:
    """Several files at once, drag and drop; values normalised by `uploaded_paths`."""
    import gradio as gr

    kind = "file" if gradio_major() < 4 else "filepath"
    return gr.File(label=label, file_count="multiple", type=kind, elem_id=elem_id)


def uploaded_paths(value: Any) -> list[str]:
    """gradio 3 gives temp-file objects (`.name`, `.orig_name`), 4/5 give paths."""
    import shutil
    import tempfile
    from pathlib import Path

    if not value:
        return []
    paths = []
    folder = Path(tempfile.mkdtemp(prefix="lfd_upload_"))
    for item in value if isinstance(value, list) else [value]:
        path = Path(getattr(item, "name", item))
        original = getattr(item, "orig_name", None)
        if original:  # keep the user's file name (and so its stem) instead of gradio's temp name
            renamed = folder / Path(original).name
            shutil.copy(path, renamed)
            path = renamed
        paths.append(str(path))
    return paths


def gallery(label: str, elem_id: str, value: Any = None) -> Any:
    """A gallery; `value` may be a function, called at every page load."""
    import gradio as gr

    kwargs: dict[str, Any] = {"columns": 6, "height": 360, "allow_preview": False}
    if gradio_major() >= 4:
        kwargs["selected_index"] = None
    return gr.Gallery(value=value or None, label=label, elem_id=elem_id, **kwargs)


def table(headers: list[str], elem_id: str, value: Any = None, **kwargs: Any) -> Any:
    """A Dataframe that is never given an empty list. gradio 3.43 (Forge Neo's) turns [] (or
    [[]]) into headers [] and rows [[]], and its page then hangs for good (the tab crashes;
    gradio issue #5641); 3.41, 4 and 5 draw an empty table. None is the component's own empty
    table under its headers on every version. Its postprocess is wrapped, not its handlers,
    so every way in is covered: a handler's return, `gr.update(value=...)`, `value` (also a
    function, called at every page load)."""
    import gradio as gr

    initial = (lambda: _none_if_empty(value())) if callable(value) else _none_if_empty(value)
    component = gr.Dataframe(value=initial, headers=headers, elem_id=elem_id, **kwargs)
    plain = component.postprocess
    component.postprocess = lambda rows: plain(_none_if_empty(rows))
    return component


def shown(text: str) -> str:
    """`text` as markdown or HTML shows it, to the letter: `<lora:my_dog:0.8>` would otherwise
    be taken for a tag or a link and vanish."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def shown_markdown(text: str) -> str:
    """Markdown whose text outside `code spans` is shown to the letter (see `shown`); inside a
    code span markdown already shows `<…>` as typed, and an entity would show as `&lt;`."""
    parts, position = [], 0
    for span in _CODE_SPAN.finditer(text):
        parts += [shown(text[position:span.start()]), span.group(0)]
        position = span.end()
    return "".join(parts + [shown(text[position:])])


def message_markdown(value: Any = "", elem_id: str | None = None, **kwargs: Any) -> Any:
    """A Markdown box for messages: its own **bold** works, and whatever a message carries
    (`<lora:NAME:0.8>`, a name with angle brackets) shows as typed. Wrapped at postprocess,
    so handler returns, `gr.update(value=…)` and page-load values are all covered."""
    import gradio as gr

    def safe(text: Any) -> Any:
        return shown_markdown(text) if isinstance(text, str) else text

    # A static value is escaped here (the constructor's postprocess runs before the wrap); a
    # function's result goes through the wrapped postprocess at every page load.
    component = gr.Markdown(value if callable(value) else safe(value), elem_id=elem_id, **kwargs)
    plain = component.postprocess
    component.postprocess = lambda text: plain(safe(text))
    return component


def escape_help(blocks: Any) -> int:
    """gradio 5 renders `info=` as markdown / HTML (3 and 4 show it as text): there, give every
    component's help its literal text. Returns how many were changed."""
    if gradio_major() < 5:
        return 0
    changed = 0
    for block in list(getattr(blocks, "blocks", {}).values()):
        info = getattr(block, "info", None)
        if isinstance(info, str) and any(c in info for c in "<>&"):
            block.info = shown(info)
            changed += 1
    return changed


def _none_if_empty(rows: Any) -> Any:
    return None if isinstance(rows, list) and not any(rows) else rows


def click(button: Any, fn: Any, inputs: list[Any], outputs: list[Any], js: str | None) -> Any:
    """button.click with a client-side function run first (gradio 3: `_js`, 4 and 5: `js`)."""
    if not js:
        return button.click(fn, inputs, outputs)
    key = "_js" if gradio_major() < 4 else "js"
    return button.click(fn, inputs, outputs, **{key: js})


def then_js(event: Any, js: str) -> Any:
    """After `event`, run a client-side function only (gradio 3: `_js`, 4 and 5: `js`)."""
    key = "_js" if gradio_major() < 4 else "js"
    return event.then(None, None, None, **{key: js})


def every(seconds: float, fn: Any, outputs: list[Any]) -> None:
    """Call `fn` periodically while the page is open (gradio 5: gr.Timer; 3/4: load(every=))."""
    import gradio as gr

    if gradio_major() >= 5:
        gr.Timer(seconds).tick(fn, None, outputs)
        return
    from gradio.context import Context

    Context.root_block.load(fn, None, outputs, every=seconds)


def on_page_load(fn: Any, outputs: list[Any]) -> None:
    """Call `fn` each time a page (re)loads, e.g. to list files made since the server started.
    The tab's Blocks may sit inside the webui's: the event goes to the outermost one."""
    from gradio.context import Context

    Context.root_block.load(fn, None, outputs)


def toast(text: str) -> str:
    """Also raise `text` as a toast where the gradio version has them (4 and 5): a warning
    for "⚠ …", else a note. Returns `text`, for the message box that keeps it."""
    import gradio as gr

    if text and gradio_major() >= 4:
        (gr.Warning if text.startswith("⚠") else gr.Info)(text.lstrip("⚠ "))
    return text


def user_message(fn: Any) -> Any:
    """Wrap a handler so that a UserError shows as its message (⚠ …) in the output."""
    from lora_for_dummies.errors import UserError

    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except UserError as err:
            return f"⚠ {err}"
        except OSError as err:  # the same line as the CLI's (os_errors)
            from lora_for_dummies.os_errors import os_error_message

            return f"⚠ {os_error_message(err, 'failed on')}"

    wrapper.__name__ = fn.__name__
    return wrapper


def table_rows(value: Any) -> list[list[Any]]:
    """Dataframe values arrive as lists (gradio 3) or pandas frames (4/5); empty rows dropped."""
    if value is None:
        return []
    if hasattr(value, "values") and hasattr(value, "columns"):
        rows = value.values.tolist()
    elif isinstance(value, dict) and "data" in value:
        rows = value["data"]
    else:
        rows = value
    return [list(row) for row in rows if row and any(str(c).strip() for c in row)]
