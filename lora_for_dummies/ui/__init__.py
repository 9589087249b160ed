"""Gradio tabs, built against the small `Host` interface; gradio 3.41, 4.x and 5.x."""
