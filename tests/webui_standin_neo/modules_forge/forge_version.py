"""modules_forge/forge_version.py on Forge Neo (commit 991be0ed)."""

version = "neo"
release = "2.22"
