"""Open a single-file checkpoint lazily: `.safetensors` through `safe_open`, `.ckpt` safely.

`.ckpt` files are pickles. They are only ever opened with `torch.load(weights_only=True)`, so a
file that needs anything but tensors and plain containers is refused and no code in it runs.
Inside the webui `torch.load` is replaced by its own safe unpickler, which returns `None` instead
of raising; that is reported the same way.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lora_for_dummies import messages as msg
from lora_for_dummies.errors import CheckpointError

SAFETENSORS_SUFFIXES = (".safetensors", ".sft")
MODEL_SUFFIXES = SAFETENSORS_SUFFIXES + (".ckpt",)

_ST_DTYPE_SIZES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}
# torch's names, as a .ckpt's tensors report them (fp8 Flux files store F8_E4M3 weights).
_ST_DTYPE_NAMES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
                   "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
_TORCH_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
    "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}
_MAX_HEADER = 100 * 1024 * 1024


def _check_path(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(path, msg.MODEL_NOT_FOUND.text)
    if path.is_dir():
        raise CheckpointError(path, msg.MODEL_IS_FOLDER.text)
    if path.stat().st_size == 0:
        raise CheckpointError(path, msg.MODEL_EMPTY.text)
    from lora_for_dummies.checkpoints.sniff import sniff

    kind = sniff(path)
    if kind.recognised and not kind.is_model:
        raise CheckpointError(path, msg.NOT_A_MODEL.format(what=kind.description))


def read_safetensors_header(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Return `(tensors, metadata)` from a safetensors header, validating it against the file size.

    `tensors` maps a key to its header entry (dtype, shape, data_offsets). A truncated file or a
    corrupt header raises CheckpointError with the reason.
    """
    path = Path(path)
    _check_path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw_len = handle.read(8)
        if len(raw_len) < 8:
            raise CheckpointError(path, "too short to be a safetensors file")
        (header_len,) = struct.unpack("<Q", raw_len)
        if header_len > min(_MAX_HEADER, size - 8):
            raise CheckpointError(path, "not a valid safetensors file (header length is wrong); "
                                  "the file is truncated or not safetensors")
        try:
            header = json.loads(handle.read(header_len).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CheckpointError(path, "safetensors header is corrupt (not valid JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(path, "safetensors header is corrupt (not a table)")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise CheckpointError(path, "safetensors header is corrupt (__metadata__ must map text "
                              "to text)")
    data_len = size - 8 - header_len
    spans = []
    for key, entry in header.items():
        begin, end, expected = _entry_span(path, key, entry)
        if end > data_len:
            raise CheckpointError(path, msg.MODEL_TRUNCATED.format(key=key))
        if end - begin != expected:
            raise CheckpointError(path, f"safetensors header is corrupt at {key!r} (size mismatch)")
        spans.append((begin, end, key))
    spans.sort()
    for (_, end, key), (begin, _, other) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise CheckpointError(path, f"safetensors header is corrupt: tensors {key!r} and "
                                  f"{other!r} overlap")
    return header, metadata


def _whole(value: Any) -> bool:
    """A non-negative JSON integer (not a bool, not 1.5, not -3)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry_span(path: Path, key: str, entry: Any) -> tuple[int, int, int]:
    """(begin, end, expected size in bytes) of one header entry, or CheckpointError."""
    corrupt = f"safetensors header is corrupt at {key!r}"
    if not isinstance(entry, dict) or entry.get("dtype") not in _ST_DTYPE_SIZES:
        raise CheckpointError(path, f"{corrupt} (unknown dtype)")
    offsets, shape = entry.get("data_offsets"), entry.get("shape")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_whole, offsets)) \
            or offsets[0] > offsets[1]:
        raise CheckpointError(path, f"{corrupt} (offsets must be two whole numbers ≥ 0, in "
                              "order)")
    if not isinstance(shape, list) or not all(map(_whole, shape)):
        raise CheckpointError(path, f"{corrupt} (shape must be whole numbers ≥ 0)")
    count = 1
    for dim in shape:
        count *= dim
    return offsets[0], offsets[1], count * _ST_DTYPE_SIZES[entry["dtype"]]


def load_pickle_safely(path: Path) -> Any:
    """The one way a pickle (.ckpt, .pt, a run's state.pt) is opened: `torch.load` with
    `weights_only=True`, so no code in it runs. A refusal is said in our words; torch's own
    text would advise `weights_only=False`, i.e. running the file's code, which we never do."""
    import pickle

    import torch

    _check_path(path)
    try:
        try:
            # A str, not a Path: torch 2.1 (A1111 1.10's) maps only "a string filename".
            obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err) and "zip" not in str(err):
                raise
            # Legacy (pre-zip) pickles cannot be memory-mapped; they still load safely.
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        named = re.search(r"GLOBAL ([\w.]+)", str(err))
        raise CheckpointError(path, msg.PICKLE_REFUSED.format(
            named=f" ({named.group(1)})" if named else "")) from None
    except Exception as err:  # torch raises many types for a file that is not a checkpoint
        first = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise CheckpointError(path, f"cannot be read (truncated or not a torch file): {first}"
                              ) from None
    if obj is None:
        raise CheckpointError(path, msg.WEBUI_UNPICKLER.text)
    return obj


def safe_torch_load(path: str | Path) -> dict[str, Any]:
    """Load a pickle checkpoint without executing code, memory-mapped when the format allows."""
    path = Path(path)
    obj = load_pickle_safely(path)
    if not isinstance(obj, dict):
        raise CheckpointError(path, f"holds a {type(obj).__name__}, not a dictionary of weights")
    return obj


class CheckpointFile:
    """Read-only, lazy view of a single-file checkpoint.

    Key names, shapes and dtypes are known without reading tensor data; `get` reads one tensor.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _check_path(self.path)
        self.format = _format(self.path)
        self._handle: Any = None
        self._tensors: dict[str, Any] = {}
        if self.format == "safetensors":
            header, self.metadata = read_safetensors_header(self.path)
            self._entries = header
            with open(self.path, "rb") as handle:
                self._data_start = 8 + struct.unpack("<Q", handle.read(8))[0]
            self._shapes = {k: tuple(v["shape"]) for k, v in header.items()}
            self._dtypes = {k: _ST_DTYPE_NAMES.get(v["dtype"], v["dtype"].lower())
                            for k, v in header.items()}
        else:
            loaded = safe_torch_load(self.path)
            # Lightning-style files nest the weights; plain strings beside them are metadata.
            self.metadata = {k: v for k, v in loaded.items() if isinstance(v, str)}
            if isinstance(loaded.get("state_dict"), dict):
                loaded = loaded["state_dict"]
            self._tensors = {k: v for k, v in loaded.items() if _is_tensor(v)}
            self._shapes = {k: tuple(v.shape) for k, v in self._tensors.items()}
            self._dtypes = {k: str(v.dtype).removeprefix("torch.")
                            for k, v in self._tensors.items()}

    def __enter__(self) -> CheckpointFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None
        self._tensors = {}

    def keys(self) -> list[str]:
        return list(self._shapes)

    def __contains__(self, key: str) -> bool:
        return key in self._shapes

    def __iter__(self) -> Iterator[str]:
        return iter(self._shapes)

    def shape(self, key: str) -> tuple[int, ...]:
        return self._shapes[key]

    def dtype(self, key: str) -> str:
        return self._dtypes[key]

    def get(self, key: str) -> Any:
        """Return one tensor (a torch.Tensor), read from disk now.

        Safetensors data is read with plain reads rather than a memory map: mapped pages of two
        multi-GB files would count as resident memory while the tensors are long gone.
        """
        if self.format == "ckpt":
            return self._tensors[key]
        if self._handle is None:
            self._handle = open(self.path, "rb")  # noqa: SIM115 — closed in close()
        return self._read(self._handle, key)

    def _read(self, handle: Any, key: str) -> Any:
        import torch

        entry = self._entries[key]
        begin, end = entry["data_offsets"]
        dtype = getattr(torch, _TORCH_DTYPES[entry["dtype"]])
        if end == begin:
            return torch.empty(entry["shape"], dtype=dtype)
        # Read into uninitialised memory: a bytearray is zeroed first, and that pass over every
        # byte made reading an SD1.5 UNet from the page cache about 1.5x slower.
        data = torch.empty(end - begin, dtype=torch.uint8)
        handle.seek(self._data_start + begin)
        if handle.readinto(memoryview(data.numpy())) != end - begin:
            raise CheckpointError(self.path, f"file is truncated at tensor {key!r}")
        return data.view(dtype).reshape(entry["shape"])

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """Several tensors, read by a few threads at once ({key: tensor}, in `keys`' order).

        Reading a tensor is mostly the kernel copying page-cache pages into fresh memory it must
        first fault in, one 4 KB page at a time; one thread did that at less than half the
        speed of a memory-mapped load copying with torch's threads (an SD1.5 UNet, 1.7 GB, on
        two cores: 1.70 s against 0.76 s; 0.83 s read this way, bench/load_unet.py). The reads
        release the GIL, so each thread has its own handle; as many threads as torch may use
        (the CPU run's thread governor lowers that when other programs want the cores), four at
        most.
        """
        if self.format == "ckpt" or len(keys) < 2:
            return {key: self.get(key) for key in keys}
        import threading
        from concurrent.futures import ThreadPoolExecutor

        import torch

        handles: list[Any] = []
        local = threading.local()  # a seek and a read must not interleave with another's

        def read(key: str) -> Any:
            if not hasattr(local, "handle"):
                local.handle = open(self.path, "rb")  # noqa: SIM115 — closed below
                handles.append(local.handle)
            return self._read(local.handle, key)

        workers = max(1, min(4, torch.get_num_threads(), len(keys)))
        try:
            with ThreadPoolExecutor(workers, thread_name_prefix="lfd-read") as pool:
                return dict(zip(keys, pool.map(read, keys), strict=True))
        finally:
            for handle in handles:
                handle.close()


def _format(path: Path) -> str:
    """By content first (a renamed file is still what it is), else by the name."""
    from lora_for_dummies.checkpoints.sniff import sniff

    kind = sniff(path).kind
    if kind == "safetensors":
        return "safetensors"
    if kind in ("zip-checkpoint", "pickle-checkpoint"):
        return "ckpt"
    return "safetensors" if path.suffix.lower() in SAFETENSORS_SUFFIXES else "ckpt"


def _is_tensor(value: object) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")

