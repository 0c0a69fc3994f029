"""Toy folders for the folder routes: one subfolder per class, written fresh into tmp_path.

Images: 16x16 RGB squares of a class colour (random brightness and pixel noise), PNG and JPEG,
so a small CNN learns them in a few epochs. Texts: a few class words among shared filler words.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

COLOURS = {"blue": (0, 0, 255), "green": (0, 200, 0), "red": (255, 0, 0)}
WORDS = {
    "cooking": ["oven", "recipe", "butter", "simmer", "garlic", "flour"],
    "space": ["orbit", "rocket", "planet", "nasa", "comet", "lunar"],
    "sports": ["goal", "match", "referee", "league", "striker", "coach"],
}
FILLER = ["the", "a", "was", "then", "and", "really", "today", "we", "it", "very", "of"]


def write_images(root: Path, per_class: int, seed: int = 0, size: int = 16) -> Path:
    """``root/<colour>/<i>.png`` (every third one ``.jpg``): coloured noisy squares."""
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            base = np.array(colour, np.float64) * rng.uniform(0.6, 1.0)
            pixels = base + rng.normal(0, 25, size=(size, size, 3))
            img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
            img.save(root / name / f"{i:03d}.{'jpg' if i % 3 == 2 else 'png'}")
    return root


def write_texts(root: Path, per_class: int, seed: int = 0) -> Path:
    """``root/<topic>/<i>.txt``: six filler words and three topic words, shuffled."""
    rng = random.Random(seed)
    for name, words in WORDS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            doc = rng.sample(FILLER, 6) + rng.sample(words, 3)
            rng.shuffle(doc)
            (root / name / f"{i:03d}.txt").write_text(" ".join(doc) + "\n")
    return root


@pytest.fixture
def image_folders(tmp_path) -> tuple[Path, Path]:
    """``(train, test)`` folders: 24 and 8 images per class."""
    return write_images(tmp_path / "photos" / "train", 24), write_images(
        tmp_path / "photos" / "test", 8, seed=1
    )


@pytest.fixture
def text_folders(tmp_path) -> tuple[Path, Path]:
    """``(train, test)`` folders: 24 and 8 documents per class."""
    return write_texts(tmp_path / "docs" / "train", 24), write_texts(
        tmp_path / "docs" / "test", 8, seed=1
    )
