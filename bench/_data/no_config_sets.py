"""The datasets of the no-config benchmark, written as the CSV files a user would have.

Every function writes into ``out_dir`` and returns a :class:`CsvSet` (the files and the target);
given the same arguments it writes the same bytes (generated sets take a ``seed``). The real
datasets (IMDB, Adult) are read from ``data_dir`` (default ``$DEEPFUSE_DATA_DIR``, else
``../shared/datasets``). Tests reuse the generators with small sizes.

Example:
    >>> import tempfile
    >>> s = topics_text(tempfile.mkdtemp(), rows=40, seed=0)
    >>> s.target, s.test is None, s.rows
    ('topic', True, 40)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "SETS",
    "CsvSet",
    "adult_csv",
    "datasets_dir",
    "imbalanced_table",
    "imdb_csv",
    "sklearn_csv",
    "topics_text",
]


@dataclass
class CsvSet:
    """CSV files for ``data: {train: ..., [test: ...,] target: ...}``.

    Attributes:
        train: The training file.
        test: The official test file, or ``None`` (deepfuse holds out its own test rows).
        target: The label column.
        rows: Rows written in all (train + test).
    """

    train: Path
    test: Path | None
    target: str
    rows: int

    def data_section(self) -> dict[str, str]:
        """The whole config of a no-config run: ``{"train", ["test",] "target"}``."""
        section = {"train": str(self.train), "target": self.target}
        if self.test is not None:
            section["test"] = str(self.test)
        return section


def datasets_dir(data_dir: str | os.PathLike | None) -> Path:
    """The folder of the real datasets: ``data_dir``, else ``$DEEPFUSE_DATA_DIR``, else
    ``../shared/datasets`` beside the repository."""
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get("DEEPFUSE_DATA_DIR"):
        return Path(os.environ["DEEPFUSE_DATA_DIR"])
    return Path(__file__).resolve().parents[3] / "shared" / "datasets"


def imdb_csv(
    out_dir: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
) -> CsvSet:
    """IMDB reviews as ``review,sentiment`` CSVs with the official train/test split.

    Args:
        out_dir: Folder receiving ``imdb_train.csv`` and ``imdb_test.csv``.
        data_dir: Folder holding ``imdb/imdb_reviews.csv.gz``.
        limit: Rows per split at most (a seeded shuffle first: both classes stay).
    """
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(datasets_dir(data_dir) / "imdb" / "imdb_reviews.csv.gz")
    paths = []
    for split in ("train", "test"):
        part = frame[frame["split"] == split][["review", "sentiment"]]
        part = part.sample(frac=1.0, random_state=0)  # the file is sorted by label
        if limit:
            part = part.head(limit)
        path = out / f"imdb_{split}.csv"
        part.to_csv(path, index=False)
        paths.append((path, len(part)))
    return CsvSet(paths[0][0], paths[1][0], "sentiment", paths[0][1] + paths[1][1])


def adult_csv(
    out_dir: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
) -> CsvSet:
    """UCI Adult as CSVs with the official train/test split (``?`` written as an empty cell)."""
    import pyarrow.csv as pacsv

    from deepfuse.datasets import load_adult

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, test = load_adult(datasets_dir(data_dir) / "adult")
    if limit:
        train, test = train.slice(0, limit), test.slice(0, limit)
    pacsv.write_csv(train, out / "adult_train.csv")
    pacsv.write_csv(test, out / "adult_test.csv")
    rows = train.num_rows + test.num_rows
    return CsvSet(out / "adult_train.csv", out / "adult_test.csv", "income", rows)


def sklearn_csv(out_dir: str | os.PathLike, name: str) -> CsvSet:
    """One of scikit-learn's bundled sets (``digits``, ``breast_cancer``, ``wine``) as one CSV
    of its feature columns and a ``target`` column of class names."""
    import pandas as pd
    from sklearn import datasets

    loaders = {
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
    }
    if name not in loaders:
        raise ValueError(f"Unknown set {name!r}; expected one of {', '.join(loaders)}.")
    bunch = loaders[name]()
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    frame["target"] = np.asarray(bunch.target_names)[bunch.target].astype(str)
    if name == "digits":  # names "0".."9" would read as numbers: a class label, not a value
        frame["target"] = "digit_" + frame["target"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.csv"
    frame.to_csv(path, index=False)
    return CsvSet(path, None, "target", len(frame))


#: Topics of the generated text set; each has its own words, and shares the common ones.
_TOPICS = {
    "sports": "match team goal season coach league player score win fans stadium referee",
    "politics": "election vote minister party policy parliament campaign law senator debate",
    "science": "experiment theory data cell energy research lab physics study molecule",
    "cooking": "recipe oven flour sauce garlic butter bake dish taste salt pan onion",
    "travel": "flight hotel beach city tour passport museum island trip train luggage",
    "finance": "market stock bank rate invest fund price budget profit loan debt",
    "music": "album song band guitar concert lyrics singer tour drum melody stage",
    "health": "doctor patient sleep diet exercise clinic symptom vaccine nurse heart",
}
#: Frequent English words, shared by every topic.
_COMMON_TEXT = """the a of and to in is it that for on was with as this but they at have from by
one all would there their what about which when more people time new year good day week report
said think really also just like make know see still"""


def topics_text(out_dir: str | os.PathLike, *, rows: int = 8000, seed: int = 0) -> CsvSet:
    """A text classification CSV written by pandas: ``text`` fields of several lines (quoted,
    with commas and quotes inside), a ``source`` category and a ``topic`` label among 8.

    Each document has 2-6 lines of 6-14 words; a word is a word of its topic with probability
    0.12, of another topic with 0.04 (topics overlap), else a common word, so a bag of words
    separates the topics well but not perfectly.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    names = list(_TOPICS)
    vocab = {t: w.split() for t, w in _TOPICS.items()}
    common = _COMMON_TEXT.split()
    texts, labels, sources = [], [], []
    for _ in range(rows):
        topic = names[rng.integers(len(names))]
        lines = []
        for _ in range(rng.integers(2, 7)):
            words = []
            for _ in range(rng.integers(6, 15)):
                u = rng.random()
                if u < 0.12:
                    words.append(vocab[topic][rng.integers(len(vocab[topic]))])
                elif u < 0.16:
                    other = vocab[names[rng.integers(len(names))]]
                    words.append(other[rng.integers(len(other))])
                else:
                    words.append(common[rng.integers(len(common))])
            line = " ".join(words).capitalize()
            if rng.random() < 0.2:
                line = f'She said "{line}", then left'
            lines.append(line + ".")
        texts.append("\n".join(lines))
        labels.append(topic)
        sources.append(["web", "mail", "forum"][rng.integers(3)])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "topics.csv"
    pd.DataFrame({"text": texts, "source": sources, "topic": labels}).to_csv(path, index=False)
    return CsvSet(path, None, "topic", rows)


def imbalanced_table(
    out_dir: str | os.PathLike, *, rows: int = 20000, classes: int = 20, ratio: float = 1000.0,
    seed: int = 0,
) -> CsvSet:  # fmt: skip
    """A numeric table of ``classes`` classes whose counts fall geometrically from the largest
    to the smallest, ``ratio`` times fewer (``make_classification``, no label noise), and a
    ``label`` column ``c00`` .. ``c19``; the largest class has at least ``ratio`` x the
    smallest's rows."""
    import pandas as pd
    from sklearn.datasets import make_classification

    weights = ratio ** (-np.arange(classes) / (classes - 1))
    weights = weights / weights.sum()
    x, y = make_classification(
        n_samples=rows, n_features=20, n_informative=12, n_redundant=4, n_classes=classes,
        n_clusters_per_class=1, weights=list(weights), flip_y=0.0, class_sep=1.5,
        random_state=seed,
    )  # fmt: skip
    counts = np.bincount(y, minlength=classes)
    if counts.min() == 0 or counts.max() < ratio * counts.min():
        raise ValueError(
            f"{rows} rows give class counts {counts.max()}..{counts.min()}, not a ratio of "
            f"{ratio:g}; pass more rows."
        )
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(x.shape[1])]).round(5)
    frame["label"] = [f"c{k:02d}" for k in y]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "imbalanced.csv"
    frame.to_csv(path, index=False)
    return CsvSet(path, None, "label", rows)


#: The rows of the benchmark table, in order: name -> (writer(out_dir, quick) -> CsvSet).
SETS = {
    "imdb": lambda out, quick: imdb_csv(out, limit=1000 if quick else None),
    "adult": lambda out, quick: adult_csv(out, limit=2000 if quick else None),
    "digits": lambda out, quick: sklearn_csv(out, "digits"),
    "breast_cancer": lambda out, quick: sklearn_csv(out, "breast_cancer"),
    "wine": lambda out, quick: sklearn_csv(out, "wine"),
    "topics_multiline": lambda out, quick: topics_text(out, rows=1000 if quick else 8000),
    "imbalanced_1to1000": lambda out, quick: imbalanced_table(out, rows=20000),
}
