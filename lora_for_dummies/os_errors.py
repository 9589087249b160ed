"""The one place that turns an operating-system error into the line a user reads.

Every writer goes through `atomic.atomic_path`, which raises `os_error_message`'s line as a
UserError (the temporary file is removed, the target left as it was); the CLI, the tabs and
the job API turn any other OSError into the same line as a last resort. A full disk, a
read-only folder or a missing permission is the user's to fix, so the line says what to do
and never carries a traceback.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from lora_for_dummies import messages as msg
from lora_for_dummies.errors import UserError

_WHAT_TO_DO = {
    errno.ENOSPC: msg.DISK_FULL, errno.EDQUOT: msg.QUOTA_FULL, errno.EROFS: msg.READ_ONLY,
    errno.EACCES: msg.PERMISSION_DENIED, errno.EPERM: msg.NOT_PERMITTED,
    errno.ENAMETOOLONG: msg.FILE_NAME_TOO_LONG, errno.ENOENT: msg.PATH_MISSING,
    errno.EISDIR: msg.PATH_IS_FOLDER, errno.EMFILE: msg.TOO_MANY_FILES,
}


def os_error_message(err: OSError, action: str = "cannot write",
                     path: str | Path | None = None) -> str:
    """`<action> <path>: <what it means and what to do>` in one line."""
    where = path if path is not None else (err.filename or "")
    known = _WHAT_TO_DO.get(err.errno or 0)
    reason = known.text if known else (err.strerror or str(err) or type(err).__name__)
    return f"{action} {where}: {reason}".replace("  ", " ")


def as_user_error(err: OSError, action: str = "cannot write",
                  path: str | Path | None = None) -> UserError:
    return UserError(os_error_message(err, action, path) + " (nothing was written)"
                     if action == "cannot write" else os_error_message(err, action, path))


def as_os_error(err: BaseException) -> OSError | None:
    """The OSError inside `err`: itself, or the OS error code that safetensors' Rust writer
    reports inside a SafetensorError (a full disk while saving a LoRA)."""
    if isinstance(err, OSError):
        return err
    # safetensors < 0.5 says `IoError(Os { code: 28, … })`, 0.5+ `I/O error: … (os error 28)`
    found = re.search(r"Os \{ code: (\d+)|\(os error (\d+)\)", str(err))
    if found and type(err).__name__ == "SafetensorError":
        code = int(found.group(1) or found.group(2))
        return OSError(code, os.strerror(code))
    return None
