"""A small stand-in for the webui's `modules` package (AUTOMATIC1111 v1.10.1).

Only the names the extension uses, with the signatures of v1.10.1, written from its documented
behaviour; no webui code is copied. Each function notes where the real one lives.
"""
