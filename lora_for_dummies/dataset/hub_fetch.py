"""The child process of `model_download` (run as a script: it imports only huggingface_hub):

    python hub_fetch.py size REPO PATTERN…     prints the bytes of the matching files
    python hub_fetch.py fetch REPO FOLDER PATTERN…   downloads them into FOLDER

A process of its own, so that Stop ends a transfer at once (huggingface_hub 0.x resumes it next
time), and so that the hub's settings (HF_ENDPOINT, HF_HUB_OFFLINE, a token) are read as they
are now, not as they were when the host first imported huggingface_hub. On failure it prints
one line and exits 1."""

from __future__ import annotations

import sys
from fnmatch import fnmatch


def main(argv: list[str]) -> int:
    from huggingface_hub import HfApi, snapshot_download

    command, repo, *rest = argv
    try:
        if command == "size":
            info = HfApi().model_info(repo, files_metadata=True)
            print(sum(s.size or 0 for s in info.siblings or []
                      if any(fnmatch(s.rfilename, p) for p in rest)))
        else:
            folder, *patterns = rest
            snapshot_download(repo, local_dir=folder, allow_patterns=patterns)
    except Exception as err:  # the hub's own error classes, OSError: one line for the parent
        lines = str(err).strip().splitlines()
        print(f"{type(err).__name__}: {lines[0] if lines else ''}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
