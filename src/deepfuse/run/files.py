"""The file formats inside a run folder, read without torch: ``history.csv`` / ``steps.csv``
(CSV, one row per epoch or per step), ``histograms.json`` and a checkpoint's ``state.json``
checked against its ``manifest.json``. :class:`~deepfuse.run.reader.RunReader` uses them.

Example:
    >>> finite_number("12"), finite_number("inf")
    (12, None)
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepfuse._utils.bounded import loads_json
from deepfuse._utils.errors import DataError
from deepfuse._utils.io import read_json
from deepfuse.run.layout import CHECKPOINT_MANIFEST, CHECKPOINT_STATE

__all__ = [
    "STEP_COLUMNS",
    "csv_rows",
    "finite_number",
    "read_histograms",
    "read_history",
    "state_history",
]

#: Columns of history.csv / steps.csv that count steps, not values.
STEP_COLUMNS = ("epoch", "step", "global_step")
_HISTOGRAM_KINDS = ("weights", "gradients")
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
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    last: dict[str, dict[str, str]] = {}
    for row in rows:  # several rows per epoch (one per step): the last one holds the epoch's values
        last[row["epoch"]] = row
    skip = {*STEP_COLUMNS, "lr", "time"}
    keys = [k for k in (rows[0] if rows else {}) if k not in skip]
    try:
        return {
            k: [float(r[k]) if r.get(k) not in ("", None) else math.nan for r in last.values()]
            for k in keys
        }
    except ValueError as exc:
        raise DataError(
            f"The history file '{path}' holds a value that is not a number: {exc}."
        ) from None


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
    if path is None:
        return [], []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], []
    if complete_only and text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def state_history(folder: Path) -> list[dict[str, Any]] | None:
    """The trainer history in ``folder/state.json`` if it matches the manifest's size and
    sha256 (else None: being written, truncated or altered). Cached by size and mtime.

    Example:
        >>> import tempfile, pathlib
        >>> state_history(pathlib.Path(tempfile.mkdtemp()) / "step-00000001") is None
        True
    """
    state, manifest = folder / CHECKPOINT_STATE, folder / CHECKPOINT_MANIFEST
    try:
        if state.is_symlink() or manifest.is_symlink():
            return None
        stat = state.stat()
    except OSError:
        return None
    key = (str(state), stat.st_size, stat.st_mtime_ns)
    if key in _STATE_CACHE:
        return _STATE_CACHE[key]
    try:
        entry = (
            read_json(manifest, what="checkpoint manifest").get("files", {}).get(CHECKPOINT_STATE)
        )
        data = state.read_bytes()
    except (OSError, DataError, AttributeError):
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
