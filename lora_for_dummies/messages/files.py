"""Messages about names and about writing files."""

from __future__ import annotations

from lora_for_dummies.messages.base import FILES, NAMES, Message

# -- Names ----------------------------------------------------------------------------------
NAME_NOT_TEXT = Message(
    NAMES, "the {what} must be text, not {kind}",
    "A job file or API request gave a name as a number, a list or similar.",
    "Give the name as a string.")
NAME_EMPTY = Message(
    NAMES, "the {what} is empty", "A dataset, concept, run or LoRA needs a name.",
    "Type a name.")
NAME_BAD_CHARS = Message(
    NAMES, "the {what} {name!r} may not contain path separators, '..' or any of <>:\"|?*",
    "Names are names, never paths, and must be valid on Windows too.",
    "Remove the characters the line names (`my dog v2` is fine).")
NAME_RESERVED = Message(
    NAMES, "the {what} {name!r} is not a valid folder name on Windows ({stem} is a reserved "
    "device name)", "Windows refuses CON, NUL, COM1, LPT1 and the like as a file or folder "
    "name, with any extension.", "Choose another name (`con_art` is fine, `con` is not).")
NAME_WINDOWS = Message(
    NAMES, "the {what} {name!r} is not a valid folder name on Windows",
    "Windows refuses a name that ends with a dot or a space.",
    "Remove the trailing dot or space.")
NAME_TEMP = Message(
    NAMES, "the {what} {name!r} may not start with {prefix} (kept for unfinished files)",
    "Names starting with `.lfd-` mark unfinished files, which are cleaned up.",
    "Choose a name that does not start with `.lfd-`.")
NAME_TOO_LONG = Message(
    NAMES, "the {what} is longer than {limit} characters", "Names are at most 100 characters.",
    "Shorten the name.")
NAME_TOO_MANY_BYTES = Message(
    NAMES, "the {what} is too long: its longest file, {file}, would be {size} bytes and file "
    "systems allow {limit} (letters outside ASCII take 2 to 4 bytes each); shorten it by "
    "{over} bytes", "The longest file the name becomes (a step file, its temporary name) would "
    "be longer than file systems allow.", "Shorten the name by the bytes the line says.")

# -- Writing files (an operating-system error: `<action> <path>: <reason>`) ----------------
_OS = "cannot write <path>: "
DISK_FULL = Message(
    FILES, "no space left on the disk: free some space and try again",
    "The disk filled up while writing. The file being written was removed; the old one, if "
    "any, is unchanged.", "Free some space (old step files in the Lora folder are large) and "
    "try again.", before=_OS)
QUOTA_FULL = Message(
    FILES, "the disk quota is used up: free some space and try again",
    "Your share of the disk is used up.", "Free some space and try again.", before=_OS)
READ_ONLY = Message(
    FILES, "the folder is on a read-only file system: choose a writable folder",
    "The folder is on a disk mounted read-only (a CD, a protected share).",
    "Choose a folder on a writable disk.", before=_OS)
PERMISSION_DENIED = Message(
    FILES, "permission denied: choose a folder you may write to, or fix its permissions",
    "Your user may not write into that folder.",
    "Choose a folder you own, or fix its permissions.", before=_OS)
NOT_PERMITTED = Message(
    FILES, "operation not permitted: choose a folder you may write to",
    "The operating system refused the change (a locked file, a protected folder).",
    "Choose a folder you may write to.", before=_OS)
FILE_NAME_TOO_LONG = Message(
    FILES, "the file name is too long for the file system: choose a shorter name",
    "The file system cannot hold a name this long.", "Choose a shorter name.", before=_OS)
PATH_MISSING = Message(
    FILES, "it does not exist", "A folder on the way to the file is not there.",
    "Check the path, or create the folder.", before=_OS)
PATH_IS_FOLDER = Message(
    FILES, "it is a folder, not a file", "A folder stands where the file should be.",
    "Move the folder away, or choose another name.", before=_OS)
TOO_MANY_FILES = Message(
    FILES, "too many open files: close other programs and try again",
    "The process may not open more files.", "Close other programs and try again.", before=_OS)
