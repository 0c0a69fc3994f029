"""Write the example folders (one subfolder per class) that image_folder.yaml and
text_folder.yaml read, like the folders Keras' ``image_dataset_from_directory`` and
``text_dataset_from_directory`` take:

    python examples/make_folders.py                      # MNIST digits as PNG files
    DEEPFUSE_DATA_DIR=../shared/datasets python examples/make_folders.py   # + IMDB as .txt files
    deepfuse train examples/image_folder.yaml

Written under examples/data/ (gitignored): ``digits/{train,test}/<digit>/<i>.png`` from the
vendored MNIST (``--per-class`` images per digit, a quarter of that for test) and, when
$DEEPFUSE_DATA_DIR holds IMDB, ``imdb/{train,test}/<sentiment>/<i>.txt`` (``--reviews`` each).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from deepfuse._utils.errors import DataError
from deepfuse.datasets import load_imdb, load_mnist

HERE = Path(__file__).resolve().parent


def write_digits(out: Path, per_class: int) -> None:
    """``out/digits/{train,test}/<digit>/<i>.png``: the first images of each digit."""
    for split, (x, y), n in zip(("train", "test"), load_mnist(), (per_class, per_class // 4)):
        for digit in range(10):
            folder = out / "digits" / split / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            for i in np.flatnonzero(y == digit)[:n]:
                Image.fromarray(x[i]).save(folder / f"{i}.png")  # (28, 28) uint8 -> grayscale PNG
        print(f"wrote {out / 'digits' / split} ({10 * n} images)")


def write_reviews(out: Path, reviews: int) -> None:
    """``out/imdb/{train,test}/<sentiment>/<i>.txt``: the first reviews of each split."""
    try:
        splits = load_imdb(as_table=True)
    except DataError as err:
        print(f"skipped IMDB ({err})")
        return
    for split, table in zip(("train", "test"), splits):
        rows = table.slice(0, reviews).select(["review", "sentiment"]).to_pylist()
        for i, row in enumerate(rows):
            folder = out / "imdb" / split / row["sentiment"]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}.txt").write_text(row["review"], encoding="utf-8")
        print(f"wrote {out / 'imdb' / split} ({len(rows)} reviews)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data", help="output folder")
    parser.add_argument("--per-class", type=int, default=500, help="training images per digit")
    parser.add_argument("--reviews", type=int, default=5000, help="IMDB reviews per split")
    args = parser.parse_args(argv)
    write_digits(args.out, args.per_class)
    write_reviews(args.out, args.reviews)


if __name__ == "__main__":
    main()
