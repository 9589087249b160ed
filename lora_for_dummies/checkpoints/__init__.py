"""Single-file checkpoints: open lazily and safely, detect what they are, map their key names.

Public entry points:
    inspect_checkpoint(path)          -> ModelInfo   (detect.py)
    load_models(path, components)     -> LoadedModels (models.py)
    save_checkpoint(split, configs, path)             (write.py)
    kohya_name(family, component, module)            (kohya_names.py)
"""
