"""The datasets of the anomaly benchmark: none needs a download.

Each function returns :class:`AnomalySet` rows (one per choice of the normal class): tables are
written as ``train.csv`` / ``test.csv`` files a user would have (the label column included: it
chooses the normal rows and scores the detector, it is never an input), images stay in memory
(the built-in Fashion-MNIST, which ``data: {dataset: fashion_mnist}`` reads too). Given the same
arguments a function writes the same bytes: generated sets take a ``seed``; samples use
``numpy.random.default_rng(seed)``.

- :func:`adult` - UCI Adult (``$DEEPFUSE_DATA_DIR/adult``, official train/test files): the
  ``income`` ``<=50K`` rows are normal; ``>50K`` rows, subsampled to 5% of each file, are the
  anomalies.
- :func:`digits` - scikit-learn's 8x8 digits, one class normal (the standard one-class setup):
  a stratified 70/30 split; the detector fits on the training rows of digit ``d``; every test
  row of another digit is an anomaly (about 90% of the test rows). One row per digit.
- :func:`covertype_like` - GENERATED with covertype's shape (10 numeric columns, 4 wilderness
  and 40 soil one-hot columns: 54 features; 7 classes in covertype's proportions); the rarest
  class (``type_4``, 0.47%) is the anomaly.
- :func:`fraud_like` - GENERATED card transactions with 0.2% frauds (see its docstring).
- :func:`fashion` - Fashion-MNIST one class vs the rest: the detector fits on the training
  images of class ``k``; the standard 10,000 test images are scored, class ``k`` normal.

Example:
    >>> import tempfile
    >>> s = fraud_like(tempfile.mkdtemp(), rows=5000, seed=0)[0]
    >>> s.target, s.normal, round(s.anomaly_rate("train"), 4)
    ('is_fraud', [0], 0.002)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench._data.no_config_sets import datasets_dir

__all__ = [
    "SETS",
    "AnomalySet",
    "adult",
    "covertype_like",
    "digits",
    "fashion",
    "fraud_like",
]


@dataclass
class AnomalySet:
    """One row of the benchmark: the config of the deepfuse run and the same rows as arrays.

    Attributes:
        name: The row's name (``digits/3``).
        kind: ``"table"`` (``train``/``test`` are CSV paths) or ``"images"`` (arrays).
        data: The config's ``data`` section.
        task: The config's ``task`` section (``{name: anomaly, ...}``).
        target: The label column / key.
        normal: The label values that are normal (every other value is an anomaly).
        train: The training CSV, or ``(images uint8 (N, 28, 28), labels)``.
        test: The test CSV, or ``(images, labels)``.
        note: How the rows were made (subsampling said here).
        epochs: Training epochs of the deepfuse run.
    """

    name: str
    kind: str
    data: dict[str, Any]
    task: dict[str, Any]
    target: str
    normal: list[Any]
    train: Any
    test: Any
    note: str
    epochs: int = 20
    _labels: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def labels(self, split: str) -> np.ndarray:
        """The label of every row of ``split`` (``"train"`` / ``"test"``)."""
        if split not in self._labels:
            source = self.train if split == "train" else self.test
            if self.kind == "images":
                self._labels[split] = np.asarray(source[1])
            else:
                import pandas as pd

                frame = pd.read_csv(source, usecols=[self.target], keep_default_na=False)
                self._labels[split] = frame[self.target].to_numpy()
        return self._labels[split]

    def is_anomaly(self, split: str) -> np.ndarray:
        """``(N,)`` bool: the rows of ``split`` whose label is not a normal one."""
        labels = self.labels(split)
        normal = {str(v) for v in self.normal}
        return np.array([str(v) not in normal for v in labels])

    def anomaly_rate(self, split: str) -> float:
        return float(self.is_anomaly(split).mean())


def _table_set(
    name: str,
    out: Path,
    frames: tuple[Any, Any],
    target: str,
    normal: list[Any],
    note: str,
    *,
    epochs: int,
    task: dict[str, Any] | None = None,
) -> AnomalySet:
    """Write ``frames`` (train, test) as CSVs under ``out/name`` and describe the row."""
    folder = out / name.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, frame in zip(("train", "test"), frames):
        path = folder / f"{split}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    data = {"train": str(paths[0]), "test": str(paths[1]), "target": target}
    task = task if task is not None else {"name": "anomaly", "normal": list(normal)}
    return AnomalySet(name, "table", data, task, target, list(normal), paths[0], paths[1], note,
                      epochs)  # fmt: skip


def _split(n: int, labels: np.ndarray, seed: int, test_share: float = 0.3) -> np.ndarray:
    """A stratified random split: ``True`` for the test rows."""
    rng = np.random.default_rng(seed)
    test = np.zeros(n, dtype=bool)
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        chosen = rng.choice(rows, size=round(test_share * len(rows)), replace=False)
        test[chosen] = True
    return test


def adult(out_dir: str | os.PathLike, *, quick: bool = False, seed: int = 0,
          data_dir: str | os.PathLike | None = None) -> list[AnomalySet]:  # fmt: skip
    """UCI Adult, ``>50K`` incomes as the anomaly at 5% of each official file's rows."""
    from deepfuse.datasets import load_adult

    rng = np.random.default_rng(seed)
    frames = []
    for table in load_adult(datasets_dir(data_dir) / "adult"):
        frame = table.to_pandas()
        normal = frame[frame["income"] == "<=50K"]
        if quick:
            normal = normal.iloc[:4000]
        n_anomalies = round(len(normal) * 0.05 / 0.95)  # 5% of the rows kept
        rich = frame.index[frame["income"] == ">50K"].to_numpy()
        picked = frame.loc[np.sort(rng.choice(rich, size=n_anomalies, replace=False))]
        frames.append(frame.loc[np.sort(np.concatenate([normal.index, picked.index]))])
    note = ("official train/test files; normal = income <=50K (all of them"
            + (", first 4,000 per file" if quick else "")
            + "), anomaly = income >50K rows sampled to 5% of each file")  # fmt: skip
    return [_table_set("adult", Path(out_dir), tuple(frames), "income", ["<=50K"], note,
                       epochs=3 if quick else 15)]  # fmt: skip


def digits(out_dir: str | os.PathLike, *, quick: bool = False, seed: int = 0) -> list[AnomalySet]:
    """scikit-learn's digits, one class normal: one row per digit (``quick``: digits 0, 1)."""
    import pandas as pd
    from sklearn.datasets import load_digits

    bunch = load_digits()
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    frame["digit"] = np.char.add("digit_", bunch.target.astype(str))  # a label, not a number
    test = _split(len(frame), bunch.target, seed)
    sets = []
    for d in (0, 1) if quick else range(10):
        note = ("stratified 70/30 split of the 1,797 rows; fit on the training rows of "
                "the row's digit; test: every other digit is an anomaly")  # fmt: skip
        sets.append(_table_set(f"digits/{d}", Path(out_dir), (frame[~test], frame[test]),
                               "digit", [f"digit_{d}"], note, epochs=5 if quick else 40))  # fmt: skip
    return sets


#: Covertype's class shares (581,012 rows: 211,840 / 283,301 / 35,754 / 2,747 / 9,493 /
#: 17,367 / 20,510): the generated set keeps them.
COVERTYPE_SHARES = (0.3646, 0.4876, 0.0615, 0.0047, 0.0163, 0.0299, 0.0353)
_COVER_NUMERIC = (
    ("Elevation", 2959, 280),
    ("Aspect", 156, 112),
    ("Slope", 14, 7.5),
    ("Horizontal_Distance_To_Hydrology", 269, 212),
    ("Vertical_Distance_To_Hydrology", 46, 58),
    ("Horizontal_Distance_To_Roadways", 2350, 1559),
    ("Hillshade_9am", 212, 27),
    ("Hillshade_Noon", 223, 20),
    ("Hillshade_3pm", 143, 38),
    ("Horizontal_Distance_To_Fire_Points", 1980, 1324),
)  # fmt: skip  (name, mean, std of the real column)


def covertype_like(out_dir: str | os.PathLike, *, quick: bool = False, seed: int = 0,
                   rows: int | None = None) -> list[AnomalySet]:  # fmt: skip
    """GENERATED data shaped like covertype: 54 features, 7 classes, the rarest one anomalous.

    ``sklearn.datasets.make_classification`` draws 14 features (10 informative, 2 redundant,
    one cluster per class, covertype's class shares); 10 become the numeric columns (scaled to
    the real columns' mean and std), two pick one of 4 ``Wilderness_Area`` one-hots (the
    quadrant of their signs) and two one of 40 ``Soil_Type`` one-hots (20 quantile bins of one
    x the sign of the other). 50,000 rows (``quick``: 8,000) where the real set has 581,012;
    a stratified 70/30 split. Normal: ``type_1..3, 5..7``; anomaly: ``type_4``.
    """
    import pandas as pd
    from sklearn.datasets import make_classification

    n = rows or (8000 if quick else 50000)
    x, y = make_classification(
        n_samples=n, n_features=14, n_informative=10, n_redundant=2, n_classes=7,
        n_clusters_per_class=1, weights=list(COVERTYPE_SHARES), flip_y=0.0, random_state=seed,
    )  # fmt: skip
    frame = pd.DataFrame(
        {name: np.round(mean + std * x[:, j], 1) for j, (name, mean, std) in
         enumerate(_COVER_NUMERIC)}
    )  # fmt: skip
    wilderness = (x[:, 10] > 0).astype(int) * 2 + (x[:, 11] > 0).astype(int)  # 0..3
    edges = np.quantile(x[:, 12], np.linspace(0, 1, 21)[1:-1])
    soil = np.searchsorted(edges, x[:, 12]) * 2 + (x[:, 13] > 0).astype(int)  # 0..39
    for k in range(4):
        frame[f"Wilderness_Area{k + 1}"] = (wilderness == k).astype(int)
    for k in range(40):
        frame[f"Soil_Type{k + 1}"] = (soil == k).astype(int)
    frame["Cover_Type"] = np.char.add("type_", (y + 1).astype(str))
    test = _split(n, y, seed)
    normal = [f"type_{k}" for k in (1, 2, 3, 5, 6, 7)]
    note = (f"GENERATED (make_classification, covertype's 54-column shape and class shares), "
            f"{n:,} rows (the real set: 581,012); anomaly = the rarest class type_4")  # fmt: skip
    return [_table_set("covertype_like", Path(out_dir), (frame[~test], frame[test]),
                       "Cover_Type", normal, note, epochs=3 if quick else 15)]  # fmt: skip


_MERCHANTS = ("grocery", "restaurant", "fuel", "travel", "clothing", "pharmacy", "utilities",
              "electronics", "jewelry", "online_gaming")  # fmt: skip
_MERCHANT_P = np.array([0.25, 0.18, 0.12, 0.06, 0.1, 0.08, 0.1, 0.06, 0.02, 0.03])
_FRAUD_MERCHANT_P = np.array([0.05, 0.05, 0.05, 0.1, 0.05, 0.02, 0.01, 0.3, 0.2, 0.17])


def fraud_like(out_dir: str | os.PathLike, *, quick: bool = False, seed: int = 0,
               rows: int | None = None) -> list[AnomalySet]:  # fmt: skip
    """GENERATED card transactions, exactly 0.2% frauds (``is_fraud`` 1), 100,000 rows
    (``quick``: 20,000; the real Kaggle credit-card set has 284,807 at 0.17%).

    Columns: ``amount`` log-normal (legit: log-mean 3.5, log-sd 1.0, a median of $33; fraud:
    4.5 and 1.2), ``hour`` of the day (legit: normal around 14:00, sd 4 h; fraud: half
    uniform, half around 03:00), ``merchant`` among 10 categories (frauds favour electronics,
    jewelry, online gaming and travel), ``V1..V8`` PCA-like (independent normals of falling
    std 3.0 .. 0.8, turned by a fixed random rotation; frauds shifted by -2.5, +2.0 and -1.5
    std in components 2, 4 and 7 before the rotation). A stratified 70/30 split. The config
    gives no ``normal``: the majority class (0) is normal.
    """
    import pandas as pd

    n = rows or (20000 if quick else 100000)
    rng = np.random.default_rng(seed)
    fraud = np.zeros(n, dtype=bool)
    fraud[rng.choice(n, size=round(0.002 * n), replace=False)] = True
    k = int(fraud.sum())
    amount = np.where(fraud, rng.lognormal(4.5, 1.2, n), rng.lognormal(3.5, 1.0, n))
    night = np.where(rng.random(n) < 0.5, rng.normal(3, 1.5, n), rng.uniform(0, 24, n))
    hour = np.where(fraud, night, rng.normal(14, 4, n)) % 24
    merchant = np.where(
        fraud, rng.choice(len(_MERCHANTS), n, p=_FRAUD_MERCHANT_P),
        rng.choice(len(_MERCHANTS), n, p=_MERCHANT_P),
    )  # fmt: skip
    stds = np.array([3.0, 2.0, 1.6, 1.3, 1.1, 1.0, 0.9, 0.8])
    z = rng.normal(size=(n, 8)) * stds  # (N, 8) independent components
    shift = np.zeros(8)
    shift[[1, 3, 6]] = np.array([-2.5, 2.0, -1.5]) * stds[[1, 3, 6]]
    z[fraud] += shift
    rotation, _ = np.linalg.qr(np.random.default_rng(seed + 1).normal(size=(8, 8)))
    v = z @ rotation  # (N, 8): correlated, like the PCA columns of a real set
    frame = pd.DataFrame({"amount": np.round(amount, 2), "hour": np.round(hour, 2),
                          "merchant": np.asarray(_MERCHANTS)[merchant]})  # fmt: skip
    for j in range(8):
        frame[f"V{j + 1}"] = np.round(v[:, j], 4)
    frame["is_fraud"] = fraud.astype(int)
    test = _split(n, fraud, seed)
    note = f"GENERATED, {n:,} rows, {k} frauds (0.2%); anomaly = is_fraud 1"
    task = {"name": "anomaly"}  # normal omitted: the majority class
    return [_table_set("fraud_like", Path(out_dir), (frame[~test], frame[test]), "is_fraud",
                       [0], note, epochs=3 if quick else 10, task=task)]  # fmt: skip


def fashion(out_dir: str | os.PathLike, *, quick: bool = False,
            classes: tuple[int, ...] = (0, 1, 7)) -> list[AnomalySet]:  # fmt: skip
    """Fashion-MNIST one class vs the rest (``quick``: class 0, first 6,000 training images)."""
    from deepfuse.datasets import load_fashion_mnist
    from deepfuse.datasets.catalog import FASHION_MNIST_CLASSES

    (x, y), (x_test, y_test) = load_fashion_mnist()
    limit = 6000 if quick else None
    if limit:
        x, y = x[:limit], y[:limit]
    sets = []
    for k in classes[:1] if quick else classes:
        data: dict[str, Any] = {"dataset": "fashion_mnist"}
        if limit:
            data["limit"] = limit
        named = ", ".join(f"{c} {FASHION_MNIST_CLASSES[c]}" for c in classes)
        note = (f"normal = the row's class ({named}): its training images; test = the "
                "standard 10,000 test images" + (" (quick: of the first 6,000 training images)"
                                                 if quick else ""))  # fmt: skip
        sets.append(AnomalySet(f"fashion/{k}", "images", data, {"name": "anomaly", "normal": [k]},
                               "y", [k], (x, y), (x_test, y_test), note, 2 if quick else 10))  # fmt: skip
    return sets


#: Dataset name -> ``(out_dir, *, quick) -> rows``.
SETS = {
    "adult": adult,
    "digits": digits,
    "covertype_like": covertype_like,
    "fraud_like": fraud_like,
    "fashion": fashion,
}
