"""modules/paths.py (v1.10.1): data_path and models_path (set by shared.reset here)."""

data_path = ""
models_path = ""
