"""modules/interrogate.py (v1.10.1): the webui's BLIP interrogator. Its object is
`shared.interrogator` (set by tests); the module's presence is what tells A1111 and Forge,
which keep it, from Forge Neo, which removed it."""
