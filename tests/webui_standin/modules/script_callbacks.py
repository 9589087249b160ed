"""modules/script_callbacks.py (v1.10.1): on_ui_tabs, on_ui_settings, on_app_started."""

callbacks_ui_tabs = []
callbacks_ui_settings = []
callbacks_app_started = []


def on_ui_tabs(callback, *, name=None):
    """callback() -> list of (gradio Blocks, tab title, elem_id)."""
    callbacks_ui_tabs.append(callback)


def on_ui_settings(callback, *, name=None):
    callbacks_ui_settings.append(callback)


def on_app_started(callback, *, name=None):
    """callback(demo: gr.Blocks, app: FastAPI)."""
    callbacks_app_started.append(callback)


def ui_tabs_callback():
    tabs = []
    for callback in callbacks_ui_tabs:
        tabs += callback() or []
    return tabs


def ui_settings_callback():
    for callback in callbacks_ui_settings:
        callback()
