"""examples/make_folders.py writes the folders examples/image_folder.yaml and text_folder.yaml read."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest
from PIL import Image

from deepfuse.config import load_config

ROOT = Path(__file__).resolve().parents[3]


def _folders(name: str) -> dict[str, Path]:
    data = load_config(ROOT / "examples" / name)["data"]
    return {k: Path(data[k]) for k in ("train", "test")}


def test_make_folders_writes_the_digit_folders(tmp_path):
    script = runpy.run_path(str(ROOT / "examples" / "make_folders.py"))
    script["write_digits"](tmp_path, 8)
    for key, folder in _folders("image_folder.yaml").items():
        assert folder.parts[:2] == ("examples", "data")
        written = tmp_path.joinpath(*folder.parts[2:])
        assert sorted(p.name for p in written.iterdir()) == [str(d) for d in range(10)]
        files = sorted(written.glob("*/*.png"))
        assert len(files) == (80 if key == "train" else 20)
        with Image.open(files[0]) as img:
            assert img.mode == "L" and img.size == (28, 28)


@pytest.mark.skipif(
    not os.environ.get("DEEPFUSE_DATA_DIR"), reason="needs DEEPFUSE_DATA_DIR with imdb/"
)
def test_make_folders_writes_the_review_folders(tmp_path):
    script = runpy.run_path(str(ROOT / "examples" / "make_folders.py"))
    script["write_reviews"](tmp_path, 40)
    for folder in _folders("text_folder.yaml").values():
        written = tmp_path.joinpath(*folder.parts[2:])
        classes = sorted(p.name for p in written.iterdir())
        assert len(classes) == 2  # both sentiments among the first reviews of a split
        assert sum(1 for _ in written.glob("*/*.txt")) == 40
