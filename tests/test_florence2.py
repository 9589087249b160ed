"""Florence-2 prose captions on a tiny real transformers Florence-2 (tiny_florence2.py), where
the host's transformers has the class (4.56+: Forge Neo, latest); on older hosts (A1111 1.10,
Forge) the choice refuses with the reason and the version it needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lora_for_dummies.dataset.autocaption import why_unavailable
from lora_for_dummies.dataset.florence2 import Florence2Captioner, florence2_missing
from lora_for_dummies.dataset.layout import create_dataset
from lora_for_dummies.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
HAS_FLORENCE2 = not florence2_missing()


def _lfd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lora_for_dummies", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def florence_folder(tmp_path_factory):
    if not HAS_FLORENCE2:
        pytest.skip("this host's transformers has no Florence-2 (the refusal is tested)")
    from tiny_florence2 import write_tiny_florence2

    return write_tiny_florence2(tmp_path_factory.mktemp("florence2"))


def _demo_dataset(tmp_path: Path):
    dataset = create_dataset(tmp_path / "datasets", "demo dog")
    concept = dataset.concept()
    concept.token = "sks"
    dataset.save()
    for number, (size, colour) in enumerate([((64, 48), (255, 0, 0)), ((40, 80), (0, 0, 255))]):
        for which in ("high", "low"):
            Image.new("RGB", size, colour).save(dataset.folder(concept, which) / f"{number}.png")
    return dataset


def test_florence2_captions_a_batch_of_differently_sized_images(florence_folder):
    from tiny_florence2 import WORDS

    captioner = Florence2Captioner(florence_folder, max_tokens=12)
    texts = captioner.caption_batch([Image.new("RGB", (50, 40), (255, 0, 0)),
                                     Image.new("RGBA", (20, 60), (0, 0, 255, 255))])
    assert len(texts) == 2
    for text in texts:
        assert text and all(word in WORDS for word in text.split()), text
    with pytest.raises(UserError, match="no Florence-2 model"):
        Florence2Captioner("")


def test_the_cli_writes_prose_captions_trigger_first(florence_folder, tmp_path):
    from tiny_florence2 import WORDS

    dataset = _demo_dataset(tmp_path)
    out = _lfd("dataset", "--datasets-dir", str(tmp_path / "datasets"), "caption", "demo dog",
               "--captioner", "florence2", "--model", str(florence_folder))
    assert out.returncode == 0, out.stderr
    assert "Captioned 2 images, kept 0" in out.stdout
    concept = dataset.concept()
    for which in ("high", "low"):
        text = (dataset.folder(concept, which) / "0.txt").read_text(encoding="utf-8")
        first, rest = text.split(", ", 1)
        assert first == "sks" and all(word in WORDS for word in rest.split()), text


@pytest.mark.skipif(HAS_FLORENCE2, reason="this host's transformers has Florence-2")
def test_an_older_transformers_refuses_florence2_with_the_version_it_needs(tmp_path):
    import transformers

    why = florence2_missing()
    assert "transformers 4.56 or newer" in why and transformers.__version__ in why
    assert why_unavailable("Florence-2") == why
    with pytest.raises(UserError, match="4.56 or newer"):
        Florence2Captioner(tmp_path)
    _demo_dataset(tmp_path)
    out = _lfd("dataset", "--datasets-dir", str(tmp_path / "datasets"), "caption", "demo dog",
               "--captioner", "florence2", "--model", str(tmp_path))
    assert out.returncode == 2 and "4.56 or newer" in out.stderr
    assert "Traceback" not in out.stderr
