"""Model families are plug-ins: one module each behind `lora_for_dummies.families`, and shared
code never branches on a family's key (issue 24, part 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lora_for_dummies import families
from lora_for_dummies.families.base import ASSETS, HOST_KINDS

CORE = Path(__file__).resolve().parent.parent / "lora_for_dummies"
PLUGIN_DIR = CORE / "families"


def _family_literals(node: ast.AST) -> list[str]:
    """The family keys a comparison or a dict literal spells out."""
    keys = set(families.keys())
    if isinstance(node, ast.Compare):
        parts = [node.left, *node.comparators]
        found = []
        for part in parts:
            items = part.elts if isinstance(part, (ast.Tuple, ast.List, ast.Set)) else [part]
            found += [i.value for i in items if isinstance(i, ast.Constant) and i.value in keys]
        return found
    if isinstance(node, ast.Dict):
        return [k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in keys]
    return []


def family_branches() -> list[str]:
    """Every `family == "sdxl"`-style comparison or per-family table outside the plug-ins."""
    found = []
    for path in sorted(CORE.rglob("*.py")):
        if PLUGIN_DIR in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if _family_literals(node):
                found.append(f"{path.relative_to(CORE)}:{node.lineno}")
    return found


def test_no_family_branch_outside_the_family_modules():
    assert family_branches() == []


def test_the_check_sees_a_branch():
    """The scan above is not vacuous: it finds the shapes it is meant to forbid."""
    code = 'if family == "sdxl": pass\nx = {"sd1": 1}\ny = f in ("sd2", "sdxl")'
    nodes = [n for n in ast.walk(ast.parse(code)) if _family_literals(n)]
    assert len(nodes) == 3


@pytest.mark.parametrize("key", families.PLUGINS)
def test_each_plugin_module_registers_its_family(key):
    family = families.get_family(key)
    assert family.key == key and family.title and family.short_title
    for component in family.bundled_components():  # its bundled configs, loadable offline
        assert (ASSETS / "configs" / key / f"{component}.json").is_file()
    if family.single_file:  # one checkpoint: its tiny test model shrinks every component
        assert set(family.tiny_overrides) == set(family.component_names())


def test_an_unknown_family_is_one_clear_line():
    with pytest.raises(ValueError, match="model family must be one of sd1, sd2, sdxl, flux"):
        families.get_family("flux9")


def test_the_hosts_each_family_runs_on():
    runs, note = families.available_on("a1111")
    assert runs == ("sd1", "sd2", "sdxl") and "Flux needs Forge Neo" in note
    runs, note = families.available_on("forge_neo")
    assert runs[:3] == ("sd1", "sdxl", "flux") and "SD 2.x" in note and "Flux" not in note
    runs, note = families.available_on("standalone")  # Z-Image where the libraries have it
    assert runs[:4] == ("sd1", "sd2", "sdxl", "flux") and "anima" not in runs
    trains_zimage = not families.get_family("zimage").training_unavailable()
    assert ("zimage" in runs) == trains_zimage and "Anima: training is not built yet" in note
    for kind in HOST_KINDS:
        assert set(families.available_on(kind)[0]) <= set(families.keys())
    with pytest.raises(ValueError):
        families.available_on("comfyui")


def test_recognise_reads_marks_not_names(tiny_models):
    from lora_for_dummies.checkpoints.reader import CheckpointFile

    for name, key in {"sd1": "sd1", "sd2v": "sd2", "sdxl": "sdxl", "sd1_ckpt": "sd1"}.items():
        with CheckpointFile(tiny_models[name]) as ckpt:
            assert families.recognise(ckpt).key == key
