"""The lines a user reads when something is refused or goes wrong: their one home, one module
per group of topics (`training`, `files`, `models`, `api`; `base` holds `Message`).

Each entry is the line the app prints (a `str.format` template), what it means and what to do.
The code builds its line from here (`msg.NAN_LOSS.text`, `msg.NAME_EMPTY.format(what=…)`), and
docs/troubleshooting.md's list of messages is written from here by
`python -m lora_for_dummies.docs_gen troubleshooting`, so the page cannot drift from what the app
says. tests/test_docs.py fails when the page differs from the generator's, or when an entry is
used nowhere in the code. Import it as `from lora_for_dummies import messages as msg`.
"""

from __future__ import annotations

from types import ModuleType

from lora_for_dummies.messages import api, files, models, training
from lora_for_dummies.messages.api import *  # noqa: F403 - the catalogue, as `msg.NAME`
from lora_for_dummies.messages.base import Message
from lora_for_dummies.messages.files import *  # noqa: F403
from lora_for_dummies.messages.models import *  # noqa: F403
from lora_for_dummies.messages.training import *  # noqa: F403

# The troubleshooting page's order.
PARTS: tuple[ModuleType, ...] = (training, files, models, api)


def catalogue() -> list[tuple[str, Message]]:
    """Every entry, in the order above, with its name."""
    return [(name, value) for part in PARTS for name, value in vars(part).items()
            if isinstance(value, Message)]


def markdown() -> str:
    """docs/troubleshooting.md's list of messages, grouped by topic."""
    out: list[str] = []
    topic = ""
    for _, entry in catalogue():
        if entry.topic != topic:
            topic = entry.topic
            out += [f"### {topic}", ""]
        line = entry.shown().replace("`", "'")
        out += [f"**`{line}`**  ", f"{entry.means} **What to do:** {entry.todo}", ""]
    return "\n".join(out).rstrip() + "\n"
