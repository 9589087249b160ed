"""Import direction, webui start-up cost, and Python 3.10 compatibility."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "lora_for_dummies"
FORBIDDEN_IN_CORE = ("gradio", "modules", "launch")
HEAVY = ("torch", "diffusers", "transformers", "peft", "accelerate")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_neither_gradio_nor_the_webui():
    offenders = []
    for path in CORE.rglob("*.py"):
        relative = path.relative_to(CORE).as_posix()
        if relative.startswith(("ui/", "hosts/")):
            continue
        bad = _imports(path) & set(FORBIDDEN_IN_CORE)
        if bad:
            offenders.append(f"{relative}: {sorted(bad)}")
    assert not offenders


def _modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_lora_never_imports_extract():
    """The low-rank code and the target list live in lora/; extract/ uses them (one way)."""
    for path in (CORE / "lora").rglob("*.py"):
        assert not any(m.startswith("lora_for_dummies.extract") for m in _modules(path)), path


def test_ui_does_not_import_hosts_webui_or_modules():
    for path in (CORE / "ui").rglob("*.py"):
        assert "modules" not in _imports(path), path


def test_webui_startup_imports_no_heavy_library():
    """Loading scripts/lora_for_dummies.py (as the webui does at every start) stays light."""
    code = f"""
import json, sys, time, runpy
sys.path.insert(0, {str(ROOT / 'tests' / 'webui_standin')!r})
import modules.shared, pathlib, tempfile
modules.shared.reset(pathlib.Path(tempfile.mkdtemp()))
before = set(sys.modules)
start = time.perf_counter()
runpy.run_path({str(ROOT / 'scripts' / 'lora_for_dummies.py')!r})
elapsed = time.perf_counter() - start
import modules.script_callbacks as cb
print(json.dumps({{"new": sorted(set(sys.modules) - before), "seconds": elapsed,
                   "tabs": len(cb.callbacks_ui_tabs), "settings": len(cb.callbacks_ui_settings)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    heavy = [m for m in report["new"] if m.split(".")[0] in HEAVY + ("gradio",)]
    assert heavy == []
    assert report["tabs"] == 1 and report["settings"] == 1
    assert report["seconds"] < 0.5, report["seconds"]
    print(f"webui script import: {report['seconds'] * 1000:.1f} ms, {len(report['new'])} modules")


def test_sources_parse_as_python_310():
    """Syntax newer than 3.10 (e.g. `except*`-free but PEP 695 generics) fails here."""
    files = list(CORE.rglob("*.py")) + list((ROOT / "scripts").glob("*.py")) + [
        ROOT / "install.py", ROOT / "preload.py"]
    for path in files:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 10))
