"""Write the parts of the user guide that the code owns, so that they cannot drift from it.

    python -m lora_for_dummies.docs_gen troubleshooting          # rewrite the page's part
    python -m lora_for_dummies.docs_gen troubleshooting --check  # exit 1 when it is stale

docs/troubleshooting.md keeps its hand-written sections; only the text between the two markers
below is replaced, by `messages.markdown()`. tests/test_docs.py runs the same comparison.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lora_for_dummies import messages

ROOT = Path(__file__).resolve().parent.parent
TROUBLESHOOTING = ROOT / "docs" / "troubleshooting.md"
BEGIN = ("<!-- BEGIN messages: written by `python -m lora_for_dummies.docs_gen troubleshooting` "
         "from lora_for_dummies/messages/; edit the messages there, not here -->")
END = "<!-- END messages -->"


def with_messages(page: str) -> str:
    """`page` with the text between the markers replaced by the messages' list."""
    head, begin, rest = page.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the page lacks the markers {BEGIN!r} … {END!r}")
    return f"{head}{BEGIN}\n\n{messages.markdown()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lora_for_dummies.docs_gen")
    parser.add_argument("page", choices=["troubleshooting"])
    parser.add_argument("--check", action="store_true",
                        help="only say whether the page is up to date (exit 1 when not)")
    args = parser.parse_args(argv)
    page = TROUBLESHOOTING.read_text(encoding="utf-8")
    written = with_messages(page)
    if args.check:
        if written != page:
            print(f"{TROUBLESHOOTING} is out of date: run python -m lora_for_dummies.docs_gen "
                  f"{args.page}", file=sys.stderr)
            return 1
        return 0
    if written != page:
        TROUBLESHOOTING.write_text(written, encoding="utf-8")
        print(f"wrote {TROUBLESHOOTING}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
