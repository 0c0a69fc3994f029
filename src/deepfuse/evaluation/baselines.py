"""Standard scikit-learn baselines on exactly a run's split: does deep learning earn its place?

:func:`run_baselines` fits a few standard models on the training rows of a :class:`Prepared`
(validation rows included: a baseline needs no early stopping) and scores them on its test rows:

* a text column: TF-IDF (word 1-2 grams, sublinear tf, ``min_df=2``) + LinearSVC, and + logistic
  regression; the table's other columns are joined in (one ``ColumnTransformer``);
* a table: logistic regression (numbers imputed and scaled, categories one-hot), RandomForest(100)
  and HistGradientBoosting; regression: Ridge and a RandomForestRegressor(100);
* a built-in image set (no raw table): logistic regression on the flattened pixels of at most
  ``max_image_rows`` training rows (the result says it is subsampled).

Each model is fitted only while the time budget lasts, and nothing above the size limits is fitted;
every model left out is listed in ``skipped`` with the reason. scikit-learn is imported here only,
inside the functions.

Example:
    >>> import pyarrow as pa
    >>> from deepfuse.data.routes import Prepared
    >>> rows = {"x": [float(i % 10) for i in range(60)], "y": ["lo", "hi"] * 30}
    >>> rows["y"] = ["hi" if x > 4 else "lo" for x in rows["x"]]
    >>> t = pa.table(rows)
    >>> prep = Prepared("table", None, None, None, "y", "binary", ["hi", "lo"],
    ...                 features={"x": "numeric"}, raw={"train": t, "val": None, "test": t})
    >>> out = run_baselines(prep, seed=0)
    >>> [m["name"] for m in out["models"]][:2], out["models"][0]["accuracy"]
    (['LogisticRegression', 'RandomForest(100)'], 1.0)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepfuse._utils.errors import ConfigError

__all__ = ["DEFAULT_BUDGET_S", "MAX_CELLS", "MAX_IMAGE_ROWS", "MAX_ROWS", "run_baselines"]

#: Seconds all the baselines of a run may take together (models not started by then are skipped).
DEFAULT_BUDGET_S = 30.0
#: Training rows above which no baseline is fitted.
MAX_ROWS = 200_000
#: Training rows x input columns above which no baseline is fitted (and, for a model that needs a
#: dense matrix, rows x encoded features above which that model is skipped).
MAX_CELLS = 20_000_000
#: Training rows the pixel baseline of an image set is fitted on at most (subsampled above).
MAX_IMAGE_ROWS = 5_000
#: Pixels per image above which the pixel baseline is skipped.
MAX_PIXELS = 20_000


@dataclass
class _Candidate:
    name: str
    features: str  # which featurization it uses: "text", "linear", "tree" or "pixels"
    make: Callable[[], Any]  # -> an unfitted estimator
    dense: bool = False  # fitted on a dense matrix (needs it, or is much faster on it)


def _on(enabled: Any) -> bool:
    """``trainer.baselines``: ``"auto"`` and ``True`` run them, ``False`` / ``None`` do not."""
    if enabled is None or enabled is False:
        return False
    if enabled is True or enabled == "auto":
        return True
    raise ConfigError(
        f"trainer.baselines is {enabled!r}; expected 'auto', true or false. "
        "Set trainer.baselines=false to leave the scikit-learn baselines out."
    )


def run_baselines(
    prep: Any,
    *,
    seed: int = 0,
    enabled: Any = True,
    budget_s: float = DEFAULT_BUDGET_S,
    max_rows: int = MAX_ROWS,
    max_cells: int = MAX_CELLS,
    max_image_rows: int = MAX_IMAGE_ROWS,
) -> dict[str, Any] | None:
    """Fit standard scikit-learn models on ``prep``'s training rows; score them on its test rows.

    Args:
        prep: The run's :class:`~deepfuse.data.routes.Prepared` (``raw`` holds the raw rows of a
            table; an image set is read from its tensors).
        seed: Random state of every model.
        enabled: ``trainer.baselines``: ``"auto"`` or ``True`` run them; ``False`` or ``None``
            return ``None``.
        budget_s: Seconds for all models together; a model is started only while it lasts.
        max_rows: No model is fitted on more training rows (the reason is in ``skipped``).
        max_cells: No model is fitted on more training rows x input columns.
        max_image_rows: Training rows of an image set the pixel model is fitted on at most.

    Returns:
        ``None`` when disabled, else ``{"task", "metric", "rows": {"train", "test"},
        "models": [...], "skipped": [...], "best"}``. Each model is ``{"name", "accuracy",
        "macro_f1", "balanced_accuracy", "fit_seconds", "rows"}`` (regression: ``"r2"``,
        ``"mae"`` instead of the three scores), plus ``"note"`` where its rows were subsampled;
        ``fit_seconds`` includes the featurization it shares with other models and the
        prediction of the test rows (one OpenMP/BLAS thread; forests use every core). ``skipped``
        holds one sentence per model (or for all) left out; ``best`` is the name of the model
        with the highest ``metric`` (``macro_f1``, or ``r2`` for regression), ``None`` if none ran.

    Raises:
        ConfigError: ``enabled`` is none of the accepted values.
    """
    if not _on(enabled):
        return None
    regression = prep.task == "regression"
    out: dict[str, Any] = {
        "task": prep.task,
        "metric": "r2" if regression else "macro_f1",
        "rows": {},
        "models": [],
        "skipped": [],
        "best": None,
    }
    try:
        data = _split_data(prep, max_image_rows)
    except _Skip as why:
        out["skipped"].append(str(why))
        return out
    x_train, y_train, x_test, y_test, kind, note, all_train = data
    out["rows"] = {"train": all_train, "test": len(y_test)}  # the split's (before subsampling)
    columns = 1 if kind == "pixels" else max(1, x_train.shape[1])
    if len(y_train) > max_rows:
        out["skipped"].append(
            f"all baselines skipped: {_count(len(y_train))} training rows > "
            f"{_count(max_rows)} limit"
        )
        return out
    if kind != "pixels" and len(y_train) * columns > max_cells:
        out["skipped"].append(
            f"all baselines skipped: {_count(len(y_train))} rows x {columns} columns > "
            f"{_count(max_cells)} cells limit"
        )
        return out
    labels = None if regression else _labels(y_train, y_test)
    candidates = _candidates(kind, regression, seed)
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    # One OpenMP/BLAS thread: on a busy machine their spinning threads made
    # HistGradientBoosting 30x slower (digits: 70 s instead of 2 s on 2 shared cores).
    with threadpool_limits(limits=1):
        _fit_all(out, candidates, (x_train, y_train, x_test, y_test, note), prep.features,
                 labels, seed=seed, budget_s=budget_s, max_cells=max_cells)  # fmt: skip
    if out["models"]:
        out["best"] = max(out["models"], key=lambda m: m[out["metric"]])["name"]
    return out


def _fit_all(
    out: dict[str, Any],
    candidates: list[_Candidate],
    data: tuple,
    features: dict[str, str],
    labels: list[Any] | None,
    *,
    seed: int,
    budget_s: float,
    max_cells: int,
) -> None:
    """Fit each candidate while the budget lasts; append results and skip reasons to ``out``."""
    x_train, y_train, x_test, y_test, note = data
    start = time.perf_counter()
    featurized: dict[str, tuple[Any, Any, float]] = {}
    for cand in candidates:
        spent = time.perf_counter() - start
        if spent >= budget_s:
            out["skipped"].append(
                f"{cand.name} skipped: time budget of {budget_s:g} s spent "
                f"({spent:.1f} s on the models before it)"
            )
            continue
        t0 = time.perf_counter()
        if cand.features not in featurized:
            f_train, f_test = _featurize(cand.features, x_train, x_test, features, seed)
            featurized[cand.features] = (f_train, f_test, time.perf_counter() - t0)
        f_train, f_test, feat_s = featurized[cand.features]
        if cand.dense:
            cells = f_train.shape[0] * f_train.shape[1]
            if cells > max_cells:
                out["skipped"].append(
                    f"{cand.name} skipped: needs a dense matrix of {_count(cells)} cells > "
                    f"{_count(max_cells)} limit"
                )
                continue
            f_train, f_test = _dense(f_train), _dense(f_test)
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: a baseline, not a tuned model
            model = cand.make().fit(f_train, y_train)
            pred = model.predict(f_test)
        result = {"name": cand.name, **_scores(y_test, pred, labels)}
        result["fit_seconds"] = round(feat_s + time.perf_counter() - t1, 3)
        result["rows"] = len(y_train)
        if note:
            result["note"] = note
        out["models"].append(result)


class _Skip(Exception):
    """No baseline applies to this data (the message says why)."""


def _count(n: int) -> str:
    """``1.2M``, ``200k``, ``950``: row counts in a reason."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M".replace(".0M", "M")
    if n >= 1_000:
        return f"{n / 1e3:.1f}k".replace(".0k", "k")
    return str(n)


def _split_data(prep: Any, max_image_rows: int) -> tuple:
    """``(x_train, y_train, x_test, y_test, kind, note, training rows of the split)``: raw rows
    (train + validation) as a pandas DataFrame (``kind`` ``"text"`` or ``"table"``), or the
    flattened pixels of at most ``max_image_rows`` of them (``"pixels"``, ``note`` says so)."""
    if prep.raw is not None:
        return _table_data(prep)
    if prep.kind == "image" and isinstance(prep.train, dict) and "x" in prep.train:
        return _pixel_data(prep, max_image_rows)
    why = "the splits are streamed" if prep.streaming else "the raw rows are not held in memory"
    raise _Skip(f"all baselines skipped: {why} (only in-memory tables and image sets have them)")


def _table_data(prep: Any) -> tuple:
    import pyarrow as pa

    raw, target = prep.raw, prep.target
    train = raw["train"] if raw.get("val") is None else pa.concat_tables([raw["train"], raw["val"]])
    test = raw["test"]
    used = [
        c for c, t in prep.features.items() if t in ("numeric", "binary", "categorical", "text")
    ]
    used = [c for c in used if c in train.column_names and c in test.column_names]
    if not used:
        raise _Skip("all baselines skipped: no numeric, categorical or text column to fit on")
    kind = "text" if any(prep.features[c] == "text" for c in used) else "table"
    x_train = train.select(used).to_pandas()
    x_test = test.select(used).to_pandas()
    y_train = _target(train, target)
    return x_train, y_train, x_test, _target(test, target), kind, None, len(y_train)


def _target(table: Any, target: str) -> np.ndarray:
    y = np.asarray(table.column(target).to_numpy(zero_copy_only=False))
    return y.astype(str) if y.dtype.kind in "OUSb" else y


def _pixel_data(prep: Any, max_rows: int) -> tuple:
    def arrays(split: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(split["x"].reshape(len(split["x"]), -1).cpu().numpy(), dtype=np.float32)
        return x, np.asarray(split[prep.target].cpu().numpy())

    x_train, y_train = arrays(prep.train)
    if prep.val is not None:
        x_val, y_val = arrays(prep.val)
        x_train, y_train = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
    x_test, y_test = arrays(prep.test)
    if x_train.shape[1] > MAX_PIXELS:
        raise _Skip(
            f"all baselines skipped: {_count(x_train.shape[1])} pixel features per image > "
            f"{_count(MAX_PIXELS)} limit"
        )
    note, all_train = None, len(y_train)
    if len(y_train) > max_rows:
        keep = np.random.default_rng(0).choice(len(y_train), max_rows, replace=False)
        note = f"subsampled: {_count(max_rows)} of {_count(len(y_train))} training rows"
        x_train, y_train = x_train[np.sort(keep)], y_train[np.sort(keep)]
    return x_train, y_train, x_test, y_test, "pixels", note, all_train


def _labels(y_train: np.ndarray, y_test: np.ndarray) -> list[Any]:
    """Every class of the run (train and test): a class never predicted counts in macro-F1,
    as in deepfuse's own evaluation."""
    return sorted(set(y_train.tolist()) | set(y_test.tolist()), key=str)


def _candidates(kind: str, regression: bool, seed: int) -> list[_Candidate]:
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.svm import LinearSVC

    def logreg() -> Any:
        return LogisticRegression(max_iter=1000, random_state=seed)

    if kind == "pixels":  # sklearn's default iterations: a baseline, not a converged fit
        pixels = lambda: LogisticRegression(random_state=seed)  # noqa: E731
        return [_Candidate("LogisticRegression (pixels)", "pixels", pixels)]
    if kind == "text":
        if regression:
            return [_Candidate("TF-IDF + Ridge", "text", Ridge)]
        return [
            _Candidate("TF-IDF + LinearSVC", "text", lambda: LinearSVC(random_state=seed)),
            _Candidate("TF-IDF + LogisticRegression", "text", logreg),
        ]
    if regression:
        return [
            _Candidate("Ridge", "linear", Ridge),
            _Candidate(
                "RandomForestRegressor(100)",
                "tree",
                lambda: RandomForestRegressor(100, n_jobs=-1, random_state=seed),
                dense=True,
            ),
        ]
    return [
        _Candidate("LogisticRegression", "linear", logreg),
        _Candidate(
            "RandomForest(100)",
            "tree",
            lambda: RandomForestClassifier(100, n_jobs=-1, random_state=seed),
            dense=True,  # trees on sparse one-hot columns: several times slower
        ),
        _Candidate(
            "HistGradientBoosting",
            "tree",
            lambda: HistGradientBoostingClassifier(random_state=seed),
            dense=True,
        ),
    ]


def _featurize(
    how: str, x_train: Any, x_test: Any, features: dict[str, str], seed: int
) -> tuple[Any, Any]:
    """Fit the featurization on the training rows; ``(train matrix, test matrix)``."""
    if how == "pixels":
        return x_train / 255.0 if x_train.max() > 1 else x_train, x_test
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts: list[tuple[str, Any, Any]] = []
    x_train, x_test = x_train.copy(), x_test.copy()
    for i, col in enumerate(x_train.columns):
        kind = features[col]
        if kind == "text":
            for x in (x_train, x_test):  # a missing cell is an empty text
                x[col] = x[col].fillna("").astype(str)
            tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
            parts.append((f"text{i}", tfidf, col))  # one column name: a 1-D array of strings
        elif kind == "numeric":
            for x in (x_train, x_test):
                x[col] = x[col].astype("float64")
            steps = [SimpleImputer(strategy="median", keep_empty_features=True)]
            if how != "tree":
                steps.append(StandardScaler())
            parts.append((f"num{i}", make_pipeline(*steps), [col]))
        else:  # binary / categorical: one-hot, a missing value is a category of its own
            for x in (x_train, x_test):
                x[col] = x[col].astype(str)
            onehot = OneHotEncoder(handle_unknown="ignore", min_frequency=None)
            parts.append((f"cat{i}", onehot, [col]))
    transformer = ColumnTransformer(parts, sparse_threshold=1.0 if how == "text" else 0.3)
    return transformer.fit_transform(x_train), transformer.transform(x_test)


def _dense(x: Any) -> np.ndarray:
    return x.toarray() if hasattr(x, "toarray") else np.asarray(x)


def _scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[Any] | None) -> dict[str, float]:
    """scikit-learn's metrics of one model's test predictions."""
    from sklearn import metrics as skm

    if labels is None:
        return {
            "r2": float(skm.r2_score(y_true, y_pred)),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class never predicted: its F1 is 0, as in deepfuse's
        return {
            "accuracy": float(skm.accuracy_score(y_true, y_pred)),
            "macro_f1": float(
                skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
            ),
            "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        }
