"""Job configuration: strict dataclasses, TOML in and out.

Unknown keys are errors (a typo must not silently fall back to a default), and every value is
checked for its type. TOML is read with `tomllib` (Python 3.11+) or `tomli` (3.10) and written
by the small writer below, which only needs to handle what these dataclasses hold.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

from lora_for_dummies.atomic import write_text_atomic
from lora_for_dummies.errors import UserError


def _load_toml(text: str) -> dict[str, Any]:
    try:
        import tomllib  # type: ignore[import-not-found]  # novermin
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise UserError("reading TOML on Python 3.10 needs tomli: pip install tomli") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"invalid TOML: {str(err).splitlines()[0]}") from None
    except RecursionError:  # tables or arrays nested thousands deep
        raise UserError("invalid TOML: nested too deeply") from None


def _decode_text(data: bytes, name: str) -> str:
    """A settings file as text: UTF-8, or UTF-16 / UTF-32 with a byte-order mark (what Windows
    editors save as "Unicode"); anything else is refused in one line."""
    import codecs

    for mark, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                           (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                           (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(mark):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name} is not UTF-8 text; save it as UTF-8 and load it again"
                        ) from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(data: dict[str, Any]) -> str:
    """Tables of scalars/lists, and arrays of tables (lists of dicts)."""
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and not (
        isinstance(v, list) and v and isinstance(v[0], dict))}
    lines += [f"{k} = {_toml_value(v)}" for k, v in scalars.items() if v is not None]
    for key, value in data.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines += ["", f"[[{key}]]"]
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None]
    return "\n".join(lines).strip() + "\n"


def _check_type(path: str, value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin is typing.Union or str(origin) == "types.UnionType":
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        return _check_type(path, value, options[0])
    if origin is list:
        if not isinstance(value, list):
            raise UserError(f"{path}: expected a list")
        (inner,) = typing.get_args(annotation)
        return [_check_type(f"{path}[{i}]", v, inner) for i, v in enumerate(value)]
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise UserError(f"{path}: expected a table")
        return from_dict(annotation, value, path)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and (not isinstance(value, annotation) or (
            annotation is int and isinstance(value, bool))):
        raise UserError(f"{path}: expected {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls: type, data: dict[str, Any], path: str = "") -> Any:
    if hasattr(cls, "upgrade"):  # a setting whose type changed: older files still load
        data = cls.upgrade(dict(data))
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(f"unknown setting{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join((path + '.' if path else '') + u for u in unknown)}")
    values = {key: _check_type(f"{path}.{key}" if path else key, value, hints[key])
              for key, value in data.items()}
    return cls(**values)


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def load_toml(cls: type, path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path.name}: file not found")
    try:
        return from_dict(cls, _load_toml(_decode_text(path.read_bytes(), path.name)))
    except UserError as err:
        raise UserError(f"{path.name}: {err}") from None
    except OSError as err:
        from lora_for_dummies.os_errors import os_error_message

        raise UserError(os_error_message(err, "cannot read", path)) from None


def save_toml(obj: Any, path: str | Path) -> None:
    write_text_atomic(path, to_toml(to_dict(obj)))


def apply_overrides(data: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """`section.key=value` overrides (values parsed as TOML, else taken as strings)."""
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep:
            raise UserError(f"--set {assignment!r}: expected section.key=value")
        try:
            value = _load_toml(f"v = {raw}")["v"]
        except UserError:
            value = raw
        target = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise UserError(f"--set {key}: {part} is not a section")
        target[parts[-1]] = value
    return data
