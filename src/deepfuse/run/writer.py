"""Writing a run folder atomically: built under a temp name, renamed into place when complete.

``deepfuse train`` builds a run in ``runs/<name>-<stamp>.partial/`` (:func:`new_run_dir`), a
visible temp folder, so that a killed run can be resumed from its ``checkpoints/`` with
``deepfuse train --resume``; when every file is written, :func:`finish_run_dir` renames it to
``runs/<name>-<stamp>``. A folder without the suffix is therefore always a finished run.
:class:`RunWriter` does the same with a hidden temp folder for runs that are not resumable
(``deepfuse cv``).

Example:
    >>> import tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> with RunWriter(root, "demo") as tmp:
    ...     _ = (tmp / "metrics.json").write_text("{}")
    >>> os.listdir(root)[0].startswith("demo-")
    True
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import UserError
from deepfuse._utils.io import atomic_write_text
from deepfuse.run.layout import CONFIG_FILE, DEFAULT_RUNS_DIR, METRICS_FILE, PARTIAL_SUFFIX

__all__ = [
    "RunWriter",
    "finish_run_dir",
    "history_csv",
    "new_run_dir",
    "partial_of",
    "resumable_run",
]


class RunWriter:
    """Context manager: yields a temp folder; on success renames it to ``<root>/<name>-<time>``.

    On an exception the temp folder is deleted and the exception propagates: a failure never
    leaves a half-written run under a run's name.

    Attributes:
        run_dir: The final path (set after a successful exit).
    """

    def __init__(self, root: str | os.PathLike | None, name: str) -> None:
        self.root = Path(root if root is not None else DEFAULT_RUNS_DIR)
        self.name = name
        self.tmp: Path | None = None
        self.run_dir: Path | None = None

    def __enter__(self) -> Path:
        _make_root(self.root)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{self.name}-", dir=self.root))
        return self.tmp

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        _relax_permissions(self.tmp)
        for final in _free_names(self.root, self.name):
            try:
                # os.rename onto an existing non-empty folder fails: no run is ever overwritten.
                os.rename(self.tmp, final)
            except OSError:
                if final.exists():  # taken between the check and the rename: try the next
                    continue
                raise
            self.run_dir = final.resolve()
            return


def new_run_dir(root: str | os.PathLike | None, name: str) -> Path:
    """Create and return a fresh ``<root>/<name>-<timestamp>.partial`` folder for a resumable run.

    A resumable run is built in this visible temp folder (so ``deepfuse train --resume`` can
    find it after a kill) and renamed into place by :func:`finish_run_dir` when complete:
    readers never see a half-written ``<name>-<timestamp>``.

    Example:
        >>> import tempfile
        >>> new_run_dir(tempfile.mkdtemp(), "demo").name.endswith(".partial")
        True
    """
    root = Path(root if root is not None else DEFAULT_RUNS_DIR)
    _make_root(root)
    for final in _free_names(root, name):
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        try:
            partial.mkdir()  # exclusive: no run is ever reused
        except FileExistsError:
            continue
        return partial.resolve()
    raise AssertionError("unreachable: _free_names raises when it runs out of names")


def finish_run_dir(partial: Path) -> Path:
    """Rename a complete ``<run>.partial`` folder to ``<run>`` (atomic); returns the final path.

    Example:
        >>> import tempfile
        >>> finish_run_dir(new_run_dir(tempfile.mkdtemp(), "demo")).name.endswith(".partial")
        False
    """
    partial = Path(partial)
    if not partial.name.endswith(PARTIAL_SUFFIX):
        return partial
    final = partial.with_name(partial.name[: -len(PARTIAL_SUFFIX)])
    _relax_permissions(partial)
    if final.exists():  # os.rename onto an empty folder would succeed: never overwrite a run
        raise UserError(f"Cannot finish the run '{partial}': '{final}' already exists.")
    os.rename(partial, final)
    try:  # make the rename durable
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return final.resolve()


def partial_of(path: Path) -> Path | None:
    """The ``.partial`` folder of ``path`` (given with or without the suffix), if there is one.

    Example:
        >>> import tempfile
        >>> partial = new_run_dir(tempfile.mkdtemp(), "demo")
        >>> partial_of(partial.with_name(partial.name.removesuffix(".partial"))) == partial
        True
    """
    if path.name.endswith(PARTIAL_SUFFIX) and path.is_dir():
        return path
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    return partial if partial.is_dir() else None


def resumable_run(path: str | os.PathLike) -> Path:
    """Return the in-progress folder of a run that ``deepfuse train --resume`` can continue.

    ``path`` may name the run with or without its ``.partial`` suffix.

    Example:
        >>> resumable_run("/no/such/run")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.UserError: Cannot resume '/no/such/run': it is not a folder. Pass a run directory written by 'deepfuse train' (runs/<name>-<timestamp>).
    """
    run = Path(path)
    partial = partial_of(run)
    if partial is None and (run / METRICS_FILE).is_file():
        raise UserError(f"Cannot resume '{path}': the run is already finished ({METRICS_FILE}).")
    if partial is None:
        raise UserError(
            f"Cannot resume '{path}': it is not a folder. Pass a run directory written by "
            "'deepfuse train' (runs/<name>-<timestamp>)."
        )
    if not (partial / CONFIG_FILE).is_file():
        raise UserError(
            f"Cannot resume '{path}': it has no {CONFIG_FILE}, so it is not a deepfuse run."
        )
    return partial.resolve()


def _make_root(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"Cannot create the runs folder '{root}': {exc.strerror}. Choose another folder with --out."
        ) from None


def _free_names(root: Path, name: str) -> Iterator[Path]:
    """``<root>/<name>-<stamp>``, then ``-2``, ``-3``, ... : each name not taken by a finished
    run (the caller still creates or renames exclusively: another process may race it)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        final = root / f"{name}-{stamp}{'' if attempt == 0 else f'-{attempt + 1}'}"
        if not final.exists():
            yield final
    raise UserError(f"Too many runs named '{name}-{stamp}' in '{root}'.")


def _relax_permissions(folder: Path) -> None:
    """mkdtemp/mkstemp create 0700/0600 entries; give the run the usual umask-based modes."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def history_csv(
    history: Mapping[str, list[float]], path: Path, *, steps: Path | None = None
) -> None:
    """Write ``{"loss": [...], "val_loss": [...]}`` as ``epoch,loss,val_loss`` rows (atomically).

    With ``steps`` (a :class:`~deepfuse.training.callbacks.steplog.StepLog` file) there is one row
    per optimizer step instead: ``epoch,loss,<epoch keys>,step,global_step,lr``. ``loss`` is the
    running mean loss of the epoch so far; the epoch-level values (metrics, ``val_*``, ``time``)
    fill only the last row of each epoch, whose ``loss`` is the epoch's loss.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "s.csv").write_text("epoch,step,global_step,loss,lr\\n1,1,1,0.5,0.1\\n1,2,2,0.25,0.1\\n")
        >>> history_csv({"loss": [0.25], "val_loss": [0.3]}, d / "h.csv", steps=d / "s.csv")
        >>> print((d / "h.csv").read_text(), end="")
        epoch,loss,val_loss,step,global_step,lr
        1,0.5,,1,1,0.1
        1,0.25,0.3,2,2,0.1
    """
    if steps is not None:
        _history_with_steps(history, path, steps)
        return
    keys = list(history)
    rows = max((len(v) for v in history.values()), default=0)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(rows):
        writer.writerow([i + 1, *(_cell(history[k], i) for k in keys)])
    atomic_write_text(path, buf.getvalue())


def _cell(values: list[Any], i: int) -> Any:
    if i >= len(values):
        return ""
    v = values[i]
    return repr(float(v)) if isinstance(v, float | int) else v


def _history_with_steps(history: Mapping[str, list[Any]], path: Path, steps: Path) -> None:
    with open(steps, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    epoch_keys = [k for k in history if k not in ("loss", "lr")]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", "loss", *epoch_keys, "step", "global_step", "lr"])
    for i, row in enumerate(rows):
        epoch = int(row["epoch"])
        last = i + 1 == len(rows) or rows[i + 1]["epoch"] != row["epoch"]
        done = last and epoch <= max((len(v) for v in history.values()), default=0)
        loss = _cell(history["loss"], epoch - 1) if done and "loss" in history else row["loss"]
        values = [_cell(history[k], epoch - 1) if done else "" for k in epoch_keys]
        writer.writerow([epoch, loss, *values, row["step"], row["global_step"], row["lr"]])
    atomic_write_text(path, buf.getvalue())
