"""Forge Neo's backend package (stand-in: only memory_management)."""
