"""What the user changed by hand in the settings after the guided path filled them.

The guided path says why it chose each value; once a setting below is changed, those lines
alone would describe a run that will not happen (issue 23: the bullets said "100 steps at
512 px, about 3m40s" beside a form set to 30 steps at 64 px). `hand_edits` names each change
against the guided choice, so the lines and the form agree. No gradio here.
"""

from __future__ import annotations

import math
from typing import Any

from lora_for_dummies.config import to_dict
from lora_for_dummies.train.config import TrainJob
from lora_for_dummies.train.fields import SETTINGS, TRISTATE_VALUES

# Not a guided choice: the name follows the dataset until the user types one (its own rule).
NOT_GUIDED = ("save.name",)
# The settings whose change changes how long the run takes.
TIMED = ("training.steps", "training.resolution", "training.batch_size")


def setting_value(kind: str, value: Any) -> Any:
    """A field's value as a job holds it: the form sends numbers as floats or text, prompts as
    lines, the auto / yes / no choice as words. Raises ValueError for a number that is not."""
    if kind == "int":
        return int(float(value or 0))
    if kind == "number":
        return float(value or 0)
    if kind == "lines":
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]
    if kind == "tristate":
        return TRISTATE_VALUES.get(value)
    if kind == "bool":
        return bool(value)
    return "" if value is None else str(value)


def _same(chosen: Any, shown: Any) -> bool:
    if isinstance(chosen, float) or isinstance(shown, float):
        return math.isclose(float(chosen), float(shown), rel_tol=1e-9, abs_tol=1e-12)
    return chosen == shown


def _said(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return f"{len(value)} prompt{'s' if len(value) != 1 else ''}"
    return "auto" if value is None else str(value) or "empty"


def hand_edits(chosen: TrainJob, shown_values: list[Any]) -> list[tuple[str, str, Any, Any]]:
    """(path, label, guided value, shown value) for each setting whose field (`shown_values`,
    in `SETTINGS` order) differs from the guided job `chosen`; a field that does not parse
    counts as changed and keeps its text."""
    data = to_dict(chosen)
    changed = []
    for (path, label, kind, _), raw in zip(SETTINGS, shown_values, strict=True):
        if path in NOT_GUIDED:
            continue
        section, key = path.split(".")
        guided = data[section][key]
        try:
            shown = setting_value(kind, raw)
        except (TypeError, ValueError):
            shown = str(raw)
        if not _same(guided, shown):
            changed.append((path, label, guided, shown))
    return changed


def hand_edits_line(changes: list[tuple[str, str, Any, Any]]) -> str:
    """One line naming each change, e.g. "changed by hand below: Steps 30 (guided: 100)"."""
    if not changes:
        return ""
    parts = [f"{label} {_said(shown)} (guided: {_said(guided)})"
             for _, label, guided, shown in changes]
    return "changed by hand below, and used as changed: " + "; ".join(parts)


def changes_time(changes: list[tuple[str, str, Any, Any]]) -> bool:
    return any(path in TIMED for path, *_ in changes)
