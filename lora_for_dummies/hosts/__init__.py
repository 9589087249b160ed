"""Where the UI runs: inside the webui (`webui.py`) or as a standalone Gradio app."""
