"""Atomic file writes: a crash or a full disk never leaves a half-written file behind.

The temporary file is named `.lfd-<target>.<random>.tmp` (see `names.TEMP_PREFIX`): hidden,
with a suffix no model list reads, and recognisable, so `remove_leftovers` can delete what a
killed job left. The finished file gets the mode a new file gets under the user's umask
(mkstemp's 0600 would otherwise survive the rename and hide LoRAs from a webui running as
another user, a NAS share or a Docker volume).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lora_for_dummies.names import (
    MAX_FILE_NAME_BYTES,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    is_temp_file,
    temp_name,
    temp_writer,
)


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable way is to set it and set it back
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    return 0o666 & ~current_umask()


def check_file_name(name: str) -> None:
    """Refuse, before anything is written, a file whose temporary name the file system would
    not take (a path given on the command line; names chosen in the app are checked earlier,
    as the longest file they become, in `names.check_name`)."""
    size = len(temp_name(name).encode("utf-8"))
    if size > MAX_FILE_NAME_BYTES:
        from lora_for_dummies.errors import UserError

        raise UserError(f"the file name {name} is too long ({size} bytes while it is written; "
                        f"file systems allow {MAX_FILE_NAME_BYTES}): choose a shorter name")


@contextlib.contextmanager
def atomic_path(target: str | Path, create_parent: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one rename.

    The temporary file lives in the same folder so that the rename never crosses file systems.
    On any exception the temporary file is removed and `target` is left exactly as it was.
    Without `create_parent`, a missing folder is an error (a mistyped output path must not
    quietly create folders).
    """
    target = Path(target)
    check_file_name(target.name)
    if create_parent:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            from lora_for_dummies.os_errors import as_user_error

            raise as_user_error(err, "cannot create the folder", target.parent) from None
    elif not target.parent.is_dir():
        from lora_for_dummies.errors import UserError

        raise UserError(f"the folder {target.parent} does not exist; create it first or "
                        "choose another output")
    from lora_for_dummies.os_errors import as_os_error, as_user_error

    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.name}.{os.getpid()}.",
                                        suffix=TEMP_SUFFIX, dir=target.parent)
    except OSError as err:
        raise as_user_error(err, path=target) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, new_file_mode())
            os.replace(tmp, target)
        except Exception as caught:  # a full disk, a folder turned read-only: one line
            err = as_os_error(caught)
            if err is None:
                raise
            other = err.filename and Path(err.filename) not in (tmp, target)
            raise (as_user_error(err, "cannot read", err.filename) if other
                   else as_user_error(err, path=target)) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


# A temp file untouched this long belongs to no live writer (writes stream without pauses);
# the margin keeps a caption saved from the UI while a job starts safe.
LEFTOVER_AGE_S = 120.0


def _writer_is_dead(path: Path) -> bool:
    """The temporary file's writer (its process id is in the name) no longer runs here.
    Windows has no signal-0 probe (os.kill would end the process): there the age rule alone."""
    pid = temp_writer(path.name)
    if pid is None or os.name == "nt" or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # alive under another user, or unknown: wait for the age rule
    return False


def remove_leftovers(folder: str | Path, older_than_s: float = LEFTOVER_AGE_S) -> list[str]:
    """Delete our temporary files that a killed job left in `folder`; returns their names.

    Called when a job that writes into `folder` starts: a dead writer's files go at once, any
    other's once untouched for `older_than_s`."""
    import time

    folder = Path(folder)
    removed = []
    now = time.time()
    if folder.is_dir():
        for path in folder.iterdir():
            if is_temp_file(path) and path.is_file() and (
                    _writer_is_dead(path) or now - path.stat().st_mtime >= older_than_s):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path.name)
    return sorted(removed)


def write_bytes_atomic(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | Path, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))
