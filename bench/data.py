"""Prepare the benchmark arrays once into ``bench/_data/`` (gitignored) as ``.npy``.

Every cell then reads the identical arrays with ``np.load``, so no cell pays for parsing and all
cells see exactly the same samples in the same order.

- ``mnist_x.npy`` float32 (60000, 28, 28) in [0, 1]; ``mnist_y.npy`` int64 (60000,)
  parsed from the IDX gzip files with gzip + numpy.
- ``imdb_x.npy`` int64 (25000, 200) token ids (0 = pad, 1 = OOV, 2.. = the 19998 most frequent
  words of the train split), Keras ``pad_sequences`` style (pre-padding, keep the last 200 tokens);
  ``imdb_y.npy`` float32 (25000,), rows shuffled with seed 0.
- ``tabular_x.npy`` float32 (N, 100) standard normal; ``tabular_y.npy`` float32 (N,) a noisy
  linear threshold, seed 0.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "_data"
FORMAT_VERSION = 1

IMDB_VOCAB = 20_000
IMDB_LEN = 200
TABULAR_ROWS = 262_144
TABULAR_FEATURES = 100


def source_dir() -> Path:
    """Dataset root: ``$DEEPFUSE_DATA_DIR`` or ``/work/shared/datasets``."""
    return Path(os.environ.get("DEEPFUSE_DATA_DIR") or "/work/shared/datasets")


def _save(name: str, arr: np.ndarray) -> None:
    # Atomic: a killed preparation never leaves a truncated .npy under the final name.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".npy", dir=DATA_DIR)
    os.close(fd)
    try:
        np.save(tmp, np.ascontiguousarray(arr))
        os.replace(tmp, DATA_DIR / f"{name}.npy")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _prepare_mnist() -> None:
    src = source_dir() / "mnist"
    x = _read_idx(src / "train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = _read_idx(src / "train-labels-idx1-ubyte.gz").astype(np.int64)
    _save("mnist_x", x)
    _save("mnist_y", y)


_TOKEN = re.compile(r"[a-z0-9']+")


def _tokenise(text: str) -> list[str]:
    return _TOKEN.findall(text.replace("<br />", " ").lower())


def _prepare_imdb() -> None:
    import pandas as pd  # only needed once, to parse the quoted CSV

    df = pd.read_csv(source_dir() / "imdb" / "imdb_reviews.csv.gz")
    df = df[df["split"] == "train"].sample(frac=1.0, random_state=0)
    docs = [_tokenise(t) for t in df["review"]]
    counts = collections.Counter(tok for doc in docs for tok in doc)
    # ids: 0 = pad, 1 = OOV, then words by descending frequency (ties by word for determinism)
    vocab = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: IMDB_VOCAB - 2]
    index = {w: i + 2 for i, (w, _) in enumerate(vocab)}
    x = np.zeros((len(docs), IMDB_LEN), dtype=np.int64)
    for row, doc in enumerate(docs):
        ids = [index.get(tok, 1) for tok in doc][-IMDB_LEN:]
        if ids:
            x[row, IMDB_LEN - len(ids) :] = ids
    y = (df["sentiment"].to_numpy() == "positive").astype(np.float32)
    _save("imdb_x", x)
    _save("imdb_y", y)


def _prepare_tabular() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((TABULAR_ROWS, TABULAR_FEATURES), dtype=np.float32)
    w = rng.standard_normal(TABULAR_FEATURES).astype(np.float32)
    logit = x @ w / np.sqrt(TABULAR_FEATURES) + 0.5 * rng.standard_normal(TABULAR_ROWS)
    _save("tabular_x", x)
    _save("tabular_y", (logit > 0).astype(np.float32))


_PREPARERS = {"mnist": _prepare_mnist, "imdb": _prepare_imdb, "tabular": _prepare_tabular}


def _stamp(name: str) -> dict:
    """What the stored arrays were built from; a change rebuilds them."""
    files = {
        "mnist": ["mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"],
        "imdb": ["imdb/imdb_reviews.csv.gz"],
        "tabular": [],
    }[name]
    stamp: dict = {"version": FORMAT_VERSION}
    for rel in files:
        p = source_dir() / rel
        stamp[rel] = p.stat().st_size if p.exists() else None
    if name == "imdb":
        stamp.update(vocab=IMDB_VOCAB, maxlen=IMDB_LEN)
    if name == "tabular":
        stamp.update(rows=TABULAR_ROWS, features=TABULAR_FEATURES)
    return stamp


def prepare(names: list[str], log=print) -> None:
    """Build the arrays of the datasets in ``names`` unless they are already current."""
    manifest_path = DATA_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for name in dict.fromkeys(names):
        stamp = _stamp(name)
        have = all((DATA_DIR / f"{name}_{k}.npy").exists() for k in "xy")
        if have and manifest.get(name) == stamp:
            continue
        t0 = time.perf_counter()
        _PREPARERS[name]()
        manifest[name] = stamp
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, manifest_path)
        log(f"prepared {name} arrays in bench/_data/ ({time.perf_counter() - t0:.1f} s)")


def load(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` rows of dataset ``name`` as (x, y), fully in memory.

    Reads only those rows straight into one array (no memory map, no second copy), so the peak
    RSS of a cell is not inflated by the loader.
    """
    return _read_rows(DATA_DIR / f"{name}_x.npy", n), _read_rows(DATA_DIR / f"{name}_y.npy", n)


def _read_rows(path: Path, n: int) -> np.ndarray:
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }[version]
        shape, fortran, dtype = read_header(fh)
        if fortran or n > shape[0]:
            raise ValueError(f"{path}: want {n} C-order rows, have {shape} (fortran={fortran})")
        row = int(np.prod(shape[1:], dtype=np.int64))
        arr = np.fromfile(fh, dtype=dtype, count=n * row)
    return arr.reshape((n, *shape[1:]))
