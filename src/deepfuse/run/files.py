"""The file formats inside a run folder, read without torch: ``history.csv`` / ``steps.csv``
(CSV, one row per epoch or per step), ``histograms.json`` and a checkpoint's ``state.json``
checked against its ``manifest.json``. :class:`~deepfuse.run.reader.RunReader` uses them.

Every file is opened through :func:`deepfuse._utils.safefiles.open_regular`: a regular file
(never a FIFO, device or socket), no larger than its kind's limit in :data:`MAX_BYTES`, checked
before a byte is read. A live ``steps.csv`` is read from a byte cursor on (:func:`read_tail`), so
polling a run with millions of steps reads only what is new.

Example:
    >>> finite_number("12"), finite_number("inf")
    (12, None)
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deepfuse._utils.bounded import loads_json
from deepfuse._utils.errors import ConfigError, DataError
from deepfuse._utils.io import read_json
from deepfuse._utils.safefiles import open_regular, read_regular, regular_file
from deepfuse.run.layout import (
    CHECKPOINT_MANIFEST,
    CHECKPOINT_STATE,
    CONFIG_FILE,
    CV_FILE,
    CV_TABLE_FILE,
    EVALUATION_FILE,
    HISTOGRAMS_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    REPORT_FILE,
    STEPS_FILE,
)

__all__ = [
    "MAX_BYTES",
    "MAX_CONFIG_VALUES",
    "MAX_TAIL_BYTES",
    "MAX_TAIL_ROWS",
    "STEP_COLUMNS",
    "confusion_counts",
    "csv_rows",
    "finite_number",
    "iter_csv",
    "limit_of",
    "read_config",
    "read_histograms",
    "read_history",
    "read_tail",
    "state_history",
]

#: Columns of history.csv / steps.csv that count steps, not values.
STEP_COLUMNS = ("epoch", "step", "global_step")
_HISTOGRAM_KINDS = ("weights", "gradients")
_MB = 1_000_000
#: The largest file of each kind a reader opens (bytes, checked before reading). deepfuse never
#: writes files near these sizes; a larger one is refused with a DataError naming the limit
#: instead of taking gigabytes to parse. ``evaluation-<stem>.json`` counts as evaluation.json;
#: any other name gets :data:`DEFAULT_MAX_BYTES`.
MAX_BYTES: dict[str, int] = {
    CONFIG_FILE: 4 * _MB,  # the resolved config (YAML parsing is slow: kept small)
    METRICS_FILE: 16 * _MB,
    CV_FILE: 16 * _MB,
    MODEL_FILE: 32 * _MB,  # architecture + preprocessing (vocabularies included)
    EVALUATION_FILE: 64 * _MB,  # curves and per-class tables
    HISTOGRAMS_FILE: 64 * _MB,
    REPORT_FILE: 64 * _MB,  # self-contained HTML with inline images
    CHECKPOINT_MANIFEST: 1 * _MB,
    CHECKPOINT_STATE: 64 * _MB,  # trainer, data position, metric states (tensors are apart)
    HISTORY_FILE: 512 * _MB,  # one row per step: ~40 bytes a row, 12 million steps
    STEPS_FILE: 512 * _MB,  # read whole only by the report; the dashboard reads its tail
    CV_TABLE_FILE: 16 * _MB,
}
DEFAULT_MAX_BYTES = 64 * _MB
#: One live poll returns at most this many step rows, read from at most this many bytes.
MAX_TAIL_ROWS = 10_000
MAX_TAIL_BYTES = 1_000_000
_MAX_HEADER = 64_000  # a CSV header line longer than this is not a deepfuse log


def limit_of(name: str) -> int:
    """The byte limit of the run file ``name`` (see :data:`MAX_BYTES`).

    Example:
        >>> limit_of("metrics.json"), limit_of("evaluation-b.json") == limit_of("evaluation.json")
        (16000000, True)
    """
    if name.startswith("evaluation-") and name.endswith(".json"):
        name = EVALUATION_FILE
    return MAX_BYTES.get(name, DEFAULT_MAX_BYTES)


_STATE_CACHE: dict[tuple[str, int, int], list[dict[str, Any]]] = {}


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """Per-epoch values from a run's ``history.csv`` (per-step rows keep the epoch's last row).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "history.csv"
        >>> _ = p.write_text("epoch,loss,val_loss,step\\n1,0.9,,1\\n1,0.8,0.85,2\\n2,0.5,0.6,3\\n")
        >>> read_history(p)
        {'loss': [0.8, 0.5], 'val_loss': [0.85, 0.6]}
    """
    header, rows = iter_csv(Path(path), complete_only=False)
    last: dict[str, dict[str, str]] = {}
    for row in rows:  # several rows per epoch (one per step): the last one holds the epoch's values
        last[row.get("epoch") or ""] = row
    skip = {*STEP_COLUMNS, "lr", "time"}
    keys = [k for k in header if k not in skip]
    try:
        return {
            k: [float(r[k]) if r.get(k) not in ("", None) else math.nan for r in last.values()]
            for k in keys
        }
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"The history file '{path}' holds a value that is not a number: {exc}."
        ) from None


#: The most values (mappings, lists and scalars, counted as if every YAML alias were copied)
#: a run's config.yaml may expand to.
MAX_CONFIG_VALUES = 100_000
_CONFIG_CACHE: dict[tuple[str, int, int, int], dict[str, Any] | str] = {}


def read_config(path: Path) -> dict[str, Any]:
    """A run's ``config.yaml``, parsed once per version of the file (the dashboard asks for
    every run's config on each page); each call gets its own copy.

    Raises:
        ConfigError: not valid YAML, nested too deeply, or expands to more than
            :data:`MAX_CONFIG_VALUES` values (YAML aliases inside aliases).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "config.yaml"
        >>> _ = p.write_text("a: &x [1, 2]\\nb: [*x, *x]\\n")
        >>> read_config(p)
        {'a': [1, 2], 'b': [[1, 2], [1, 2]]}
    """
    info = path.stat()
    key = (str(path.resolve()), info.st_ino, info.st_size, info.st_mtime_ns)
    if key not in _CONFIG_CACHE:
        if len(_CONFIG_CACHE) >= 256:
            _CONFIG_CACHE.clear()
        _CONFIG_CACHE[key] = _parse_config(path)
    cfg = _CONFIG_CACHE[key]
    if isinstance(cfg, str):
        raise ConfigError(cfg)  # a new error each time: a cached one would grow its traceback
    return copy.deepcopy(cfg)  # callers may change their copy, never the cached one


def _parse_config(path: Path) -> dict[str, Any] | str:
    """``config.yaml`` parsed and checked, or the message saying why it cannot be used."""
    from deepfuse.config import load_config

    try:
        cfg = load_config(path)
    except ConfigError as exc:
        return str(exc)
    except RecursionError:
        return f"The run file '{path}' is nested too deeply to read."
    if _expanded_size(cfg, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        return (
            f"The run file '{path}' expands to more than {MAX_CONFIG_VALUES} values (YAML "
            "aliases repeated inside each other); deepfuse never writes such a config, so "
            "it was not read. Replace it with the config the run was trained with."
        )
    return cfg


def _expanded_size(tree: Any, budget: int) -> int:
    """How many values ``tree`` holds when every shared (aliased) part is counted each time it
    appears, counting no further than ``budget + 1`` (so a YAML alias bomb costs ``budget``
    steps, never its expansion).

    Example:
        >>> a = [1, 2]
        >>> _expanded_size({"x": a, "y": [a, a]}, 100), _expanded_size([a] * 1000, 100)
        (11, 101)
    """
    count, stack = 0, [tree]
    while stack and count <= budget:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def read_histograms(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a ``HistogramLog`` file (``{"version": 1, "weights": ..., ...}``).

    Raises:
        DataError: The file is missing, not JSON, or not a version-1 histogram file.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "histograms.json")
        >>> _ = open(p, "w").write('{"version": 1, "weights": {}, "gradients": {}}')
        >>> sorted(read_histograms(p))
        ['gradients', 'version', 'weights']
    """
    doc = read_json(path, what="histogram file")
    if not isinstance(doc, Mapping) or doc.get("version") != 1:
        raise DataError(
            f"'{path}' is not a deepfuse histogram file: expected a JSON object with "
            f'"version": 1 (written by HistogramLog); got version '
            f"{doc.get('version') if isinstance(doc, Mapping) else type(doc).__name__!r}."
        )
    for kind in _HISTOGRAM_KINDS:
        if not isinstance(doc.get(kind), Mapping):
            raise DataError(f"The histogram file '{path}' has no {kind!r} object.")
    return dict(doc)


def confusion_counts(counts: Any, limit: int = 1_000) -> list[list[int]] | None:
    """The ``confusion_matrix.counts`` of an evaluation file as ints if it is a square table
    (at most ``limit`` classes) of finite non-negative whole numbers, else None (a damaged or
    foreign file: the dashboard and ``deepfuse plot`` never draw it).

    Example:
        >>> confusion_counts([[3, 1.0], [0, 4]]), confusion_counts([["a", 1], [0, 4]])
        ([[3, 1], [0, 4]], None)
        >>> confusion_counts([[1, 2]]) is None  # not square
        True
    """
    if not isinstance(counts, list) or not 0 < len(counts) <= limit:
        return None
    out = []
    for row in counts:
        if not isinstance(row, list) or len(row) != len(counts):
            return None
        numbers = [finite_number(c) for c in row]
        if any(n is None or n < 0 or n != int(n) for n in numbers):
            return None
        out.append([int(n) for n in numbers])  # type: ignore[arg-type]
    return out


def finite_number(value: Any) -> float | int | None:
    """A finite number as int/float (digit strings stay ints), else ``None`` (JSON has no NaN).

    Example:
        >>> finite_number("3"), finite_number("0.5"), finite_number("nan"), finite_number(True)
        (3, 0.5, None, None)
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)  # step and epoch numbers stay ints
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def csv_rows(path: Path | None, *, complete_only: bool) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file; with ``complete_only`` a last line without its newline
    (being written right now) is left out. A missing or unreadable file has no rows.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "steps.csv"
        >>> _ = p.write_text("epoch,loss\\n1,0.5\\n2,0.")
        >>> csv_rows(p, complete_only=True)
        (['epoch', 'loss'], [{'epoch': '1', 'loss': '0.5'}])
    """
    header, rows = iter_csv(path, complete_only=complete_only)
    return header, list(rows)


def iter_csv(
    path: Path | None, *, complete_only: bool
) -> tuple[list[str], Iterator[dict[str, str]]]:
    """Header and a stream of rows of a run's CSV log (bounded memory: nothing is kept);
    ``complete_only`` as in :func:`csv_rows`. A missing or unreadable file has no rows; one
    that is not a regular file or over its :data:`MAX_BYTES` limit raises a DataError.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "history.csv"
        >>> _ = p.write_text("epoch,loss\\n1,0.5\\n2,0.4\\n")
        >>> header, rows = iter_csv(p, complete_only=False)
        >>> header, [r["loss"] for r in rows]
        (['epoch', 'loss'], ['0.5', '0.4'])
    """
    if path is None:
        return [], iter(())
    try:
        fh = open_regular(path, limit=limit_of(path.name), what="run file")
    except OSError:
        return [], iter(())
    text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
    reader = csv.reader(_lines(text, complete_only))
    header = next(reader, None)
    if header is None:
        text.close()
        return [], iter(())

    def rows() -> Iterator[dict[str, str]]:
        with text:
            for cells in reader:
                if cells:
                    yield dict(zip(header, cells))

    return list(header), rows()


def _lines(text: io.TextIOWrapper, complete_only: bool) -> Iterator[str]:
    for line in text:
        if complete_only and not line.endswith("\n"):
            return  # being written right now
        yield line


def read_tail(
    path: Path | None,
    start: int = 0,
    *,
    complete_only: bool,
    max_rows: int = MAX_TAIL_ROWS,
    max_bytes: int = MAX_TAIL_BYTES,
) -> tuple[list[str], list[dict[str, str]], int, bool]:
    """The rows of a CSV log from byte ``start`` on, reading at most ``max_bytes`` bytes.

    ``start`` is 0 or a position returned before (just after a newline). Returns ``(header,
    rows, end, more)``: ``end`` is the byte after the last row returned (pass it back to get
    the next rows), ``more`` whether complete rows remain after it. A ``start`` that is not
    such a position any more (the file was cut back or replaced) raises ValueError; the caller
    starts over from 0.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "steps.csv"
        >>> _ = p.write_text("step,loss\\n1,0.5\\n2,0.4\\n3,0.")
        >>> header, rows, end, more = read_tail(p, complete_only=True, max_rows=1)
        >>> rows, more
        ([{'step': '1', 'loss': '0.5'}], True)
        >>> read_tail(p, end, complete_only=True)[1:]
        ([{'step': '2', 'loss': '0.4'}], 22, False)
    """
    if path is None:
        return [], [], 0, False
    try:
        fh = open_regular(path, what="run file")
    except OSError:
        return [], [], 0, False
    with fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.readline(_MAX_HEADER)
        if not head.endswith(b"\n"):
            return [], [], 0, False  # no complete header yet
        header = next(csv.reader([head.decode("utf-8", "replace")]), [])
        start = max(start, len(head))
        if start > size:
            raise ValueError(f"position {start} is past the end of {path.name} ({size} bytes)")
        fh.seek(start - 1)
        if fh.read(1) != b"\n":
            raise ValueError(f"position {start} of {path.name} is not the start of a row")
        chunk = fh.read(max_bytes)
    lines = chunk.split(b"\n")
    tail = lines.pop()  # after the last newline: a partial line (or b"" at a row boundary)
    at_end = start + len(chunk) >= size
    if tail and at_end and not complete_only:
        lines.append(tail)  # a finished file's last line without its newline
    rows: list[dict[str, str]] = []
    end = start
    for line in lines[:max_rows]:
        end += len(line) + 1
        cells = next(csv.reader([line.decode("utf-8", "replace")]), [])
        if cells:
            rows.append(dict(zip(header, cells)))
    end = min(end, size)
    more = end < size and (len(lines) > max_rows or not at_end)
    return header, rows, end, more


def state_history(folder: Path) -> list[dict[str, Any]] | None:
    """The trainer history in ``folder/state.json`` if it matches the manifest's size and
    sha256 (else None: being written, truncated or altered). Cached by size and mtime.

    Example:
        >>> import tempfile, pathlib
        >>> state_history(pathlib.Path(tempfile.mkdtemp()) / "step-00000001") is None
        True
    """
    state, manifest = folder / CHECKPOINT_STATE, folder / CHECKPOINT_MANIFEST
    root = folder.parent.parent  # run/checkpoints/step-*/: nothing outside the run is read
    try:
        stat = regular_file(state, limit=limit_of(CHECKPOINT_STATE), root=root)
        regular_file(manifest, limit=limit_of(CHECKPOINT_MANIFEST), root=root)
    except (OSError, DataError):
        return None  # missing, being written, a FIFO or a link out of the run: not a checkpoint
    key = (str(state), stat.st_size, stat.st_mtime_ns)
    if key in _STATE_CACHE:
        return _STATE_CACHE[key]
    try:
        entry = (
            read_json(manifest, what="checkpoint manifest").get("files", {}).get(CHECKPOINT_STATE)
        )
        data = read_regular(state, limit=limit_of(CHECKPOINT_STATE), root=root)
    except (OSError, DataError, AttributeError, RecursionError):
        return None
    if (
        not isinstance(entry, Mapping)
        or entry.get("size") != len(data)
        or entry.get("sha256") != hashlib.sha256(data).hexdigest()
    ):
        return None
    try:
        history = loads_json(data, what="checkpoint state")["state"]["trainer"]["history"]
    except (ValueError, KeyError, TypeError):  # DataError is a ValueError
        return None
    if not isinstance(history, list):
        return None
    clean = [
        {str(k): finite_number(v) for k, v in epoch.items()}
        for epoch in history
        if isinstance(epoch, Mapping)
    ]
    if len(_STATE_CACHE) > 256:
        _STATE_CACHE.clear()
    _STATE_CACHE[key] = clean
    return clean
