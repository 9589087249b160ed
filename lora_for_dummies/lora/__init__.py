"""LoRA files in kohya's format: read, write (atomically), metadata, sidecars, salvage tools."""
