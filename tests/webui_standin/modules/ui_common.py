"""modules/ui_common.py (v1.10.1): create_refresh_button(refresh_component, refresh_method,
refreshed_args, elem_id) — a 🔄 tool button that calls refresh_method, then updates the
component with refreshed_args (a dict or a callable returning one)."""

import gradio as gr


def create_refresh_button(refresh_component, refresh_method, refreshed_args, elem_id):
    components = refresh_component if isinstance(refresh_component, list) else [refresh_component]

    def refresh():
        refresh_method()
        args = refreshed_args() if callable(refreshed_args) else refreshed_args
        for component in components:
            for key, value in args.items():
                setattr(component, key, value)
        updates = [gr.update(**(args or {})) for _ in components]
        return updates if len(updates) > 1 else updates[0]

    button = gr.Button(value="\U0001f504", elem_id=elem_id)
    button.click(fn=refresh, inputs=[], outputs=components)
    return button
