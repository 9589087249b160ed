"""Forge Neo's modules_forge package (stand-in: only what the extension reads)."""
