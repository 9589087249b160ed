"""The user guide holds together: every relative link and image in README.md and docs/*.md
points to a file that exists, and a link to a heading (`page.md#heading`) to a heading there."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_CODE_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_MD_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HTML_LINK = re.compile(r"""\b(?:href|src)=["']([^"']+)["']""")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The page without code: a link inside a code block or span is an example, not a link."""
    return _CODE_SPAN.sub("", _CODE_BLOCK.sub("", text))


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces → hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_CODE_BLOCK.sub("", page.read_text(encoding="utf-8"))):
        anchor = _anchor(heading)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def _links(page: Path) -> list[str]:
    text = _prose(page.read_text(encoding="utf-8"))
    return _MD_LINK.findall(text) + _HTML_LINK.findall(text)


def test_there_is_a_user_guide():
    names = {p.name for p in PAGES}
    assert {"README.md", "training.md", "troubleshooting.md", "reference.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for link in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I):  # http:, https:, mailto:
            continue
        target, _, fragment = unquote(link).partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link}: no such file")
        elif fragment and path.suffix == ".md" and fragment not in _anchors(path):
            broken.append(f"{link}: no heading #{fragment} in {path.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_links_every_page_of_the_guide():
    links = {unquote(link).partition("#")[0] for link in _links(ROOT / "README.md")}
    missing = [p.name for p in PAGES[1:] if f"docs/{p.name}" not in links
               and p.name != "architecture.md"]
    assert not missing, f"README.md links no page for: {missing}"


def test_the_troubleshooting_messages_are_the_apps_own():
    """The page's list of messages is what the generator writes from lora_for_dummies/messages/
    (run `python -m lora_for_dummies.docs_gen troubleshooting` after changing a message)."""
    from lora_for_dummies import docs_gen, messages

    page = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    assert docs_gen.with_messages(page) == page, \
        "docs/troubleshooting.md is stale: run python -m lora_for_dummies.docs_gen troubleshooting"
    for _, entry in messages.catalogue():
        assert f"**`{entry.shown()}`**" in page


def _code_files() -> list[Path]:
    catalogue = ROOT / "lora_for_dummies" / "messages"
    return [p for p in (ROOT / "lora_for_dummies").rglob("*.py") if catalogue not in p.parents] \
        + sorted((ROOT / "scripts").glob("*.py"))


def test_every_catalogued_message_is_used_by_the_code():
    """A message on the troubleshooting page that the app no longer prints would be a lie: each
    entry is read (`msg.NAME`) by code outside the catalogue, and nothing reads one that is not
    there."""
    import ast

    from lora_for_dummies import messages

    used: set[str] = set()
    for path in _code_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "msg":
                used.add(node.attr)
    names = {name for name, _ in messages.catalogue()}
    assert names - used == set(), f"catalogued but never used: {sorted(names - used)}"
    assert used - names - {"TRIGGER_WHY"} == set(), f"not in the catalogue: {used - names}"


def test_a_catalogued_message_is_the_line_the_code_raises(tmp_path):
    """The catalogue is the text the code raises, not a copy of it: a name refusal, an
    operating-system error and a model refusal, each produced by the real code."""
    import errno

    from lora_for_dummies import messages as msg
    from lora_for_dummies.checkpoints.reader import CheckpointFile
    from lora_for_dummies.errors import UserError
    from lora_for_dummies.names import check_name
    from lora_for_dummies.os_errors import os_error_message

    with pytest.raises(UserError) as refused:
        check_name("a/b", "run name")
    assert str(refused.value) == msg.NAME_BAD_CHARS.format(what="run name", name="a/b")
    full = os_error_message(OSError(errno.ENOSPC, "No space left"), path="/x/y.safetensors")
    assert full == f"cannot write /x/y.safetensors: {msg.DISK_FULL.text}"
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    with pytest.raises(UserError) as not_a_model:
        CheckpointFile(photo)
    assert str(not_a_model.value) == "photo.jpg: " + msg.NOT_A_MODEL.format(
        what="a JPEG image, not a model")


def test_every_screenshot_is_shown_and_made_by_the_browser_test():
    """docs/screenshots/ holds exactly the pictures the browser tests take (so each shows
    today's UI when regenerated), and every one of them is shown by a page."""
    made: set[str] = set()
    for test in sorted((ROOT / "tests").glob("test_browser_*.py")):
        text = test.read_text(encoding="utf-8")
        made |= set(re.findall(r'shot\(ui, "(\w+)"', text))  # test_browser_e2e's helper
        made |= set(re.findall(r'SHOTS / "(\w+)\.png"', text))
    on_disk = {p.stem for p in (ROOT / "docs" / "screenshots").glob("*.png")}
    assert on_disk == made, f"stale: {sorted(on_disk - made)}; missing: {sorted(made - on_disk)}"
    shown = {Path(unquote(link)).stem for page in PAGES for link in _links(page)
             if "screenshots/" in link}
    assert made <= shown, f"no page shows: {sorted(made - shown)}"
