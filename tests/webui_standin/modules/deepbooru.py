"""modules/deepbooru.py (v1.10.1): the webui's deepbooru tagger, `model` with start(),
tag_multi(image) and stop() (set by tests that use it)."""

model = None
