"""Write the example CSVs (with a header row) from the original dataset files.

The raw Adult files have no header and IMDB ships as one CSV with a split column; the
"CSV of your own" examples want plain tables. This script writes them under examples/data/
(gitignored), reading the originals from $DEEPFUSE_DATA_DIR (e.g. ../shared/datasets):

    DEEPFUSE_DATA_DIR=../shared/datasets python examples/make_csvs.py
    deepfuse train examples/adult_minimal.yaml

Files written: adult_train.csv.gz, adult_test.csv.gz (income is the label; missing values are
empty), imdb_train.csv.gz, imdb_test.csv.gz (columns review, sentiment).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from deepfuse._utils.io import atomic_write
from deepfuse.datasets import load_adult, load_imdb

HERE = Path(__file__).resolve().parent


def write_csv(table: pa.Table, path: Path) -> None:
    """Write ``table`` as a gzip CSV, atomically."""

    def write(tmp: str) -> None:
        with pa.CompressedOutputStream(tmp, "gzip") as out:
            pacsv.write_csv(table, out)

    atomic_write(path, write)
    print(f"wrote {path} ({table.num_rows} rows)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data", help="output folder")
    args = parser.parse_args(argv)
    train, test = load_adult()
    write_csv(train, args.out / "adult_train.csv.gz")
    write_csv(test, args.out / "adult_test.csv.gz")
    imdb_train, imdb_test = load_imdb(as_table=True)
    for name, table in (("train", imdb_train), ("test", imdb_test)):
        # Only the text and the label: the rating column would give the label away.
        table = table.select(["review", "sentiment"])
        write_csv(table, args.out / f"imdb_{name}.csv.gz")


if __name__ == "__main__":
    main()
