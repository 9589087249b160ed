"""Model families as plug-ins: one module (or subpackage) per family behind one registry."""
