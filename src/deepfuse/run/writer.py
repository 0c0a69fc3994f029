"""Writing a run folder atomically: built under a temp name, renamed into place when complete.

``deepfuse train`` builds a run in ``runs/<name>-<stamp>.partial/`` (:func:`new_run_dir`), a
visible temp folder, so that a killed run can be resumed from its ``checkpoints/`` with
``deepfuse train --resume``; when every file is written, :func:`finish_run_dir` renames it to
``runs/<name>-<stamp>``. A folder without the suffix is therefore always a finished run.
:class:`RunWriter` does the same with a hidden temp folder for runs that are not resumable
(``deepfuse cv``).

**Finishing protocol** (``deepfuse train`` after its last optimizer step). Every step can be
redone by ``deepfuse train --resume RUN`` from what is on disk, and nothing a step needs is
deleted before the run is complete:

1. The trainer's last checkpoint (the end of the final epoch, or of the epoch early stopping
   stopped at) marks training as done: resuming from it trains no step and goes on with 2.
2. ``model.safetensors`` + ``model.json``, ``history.csv`` (from ``steps.csv``),
   ``evaluation.json``, ``report.html``, then ``metrics.json``: each written atomically and
   recomputed from the checkpoint's weights and the data, so a redone file equals the first
   one (timings aside). ``steps.csv`` and ``checkpoints/`` stay.
3. ``metrics.json`` in a ``.partial`` folder means every file is written
   (:func:`all_written`): ``--resume`` then only redoes 4.
4. :func:`finish_run_dir`: delete ``steps.csv`` (it is in ``history.csv`` now), then rename
   ``<run>.partial`` to ``<run>`` (atomic). ``checkpoints/`` stays in the finished run.

A full disk during any of this raises :class:`~deepfuse._utils.io.DiskFullError`: the run stops
with one line, the ``.partial`` folder and every checkpoint already written stay, and
``--resume`` (with space) continues from the newest checkpoint.

**No symlink is followed** when writing or deleting inside a run: folders are made with
:func:`run_folder`, files appended or truncated with :func:`open_run_file`, entries deleted with
:func:`remove_run_entry` (a link is removed, never its target); atomic writes rename a new file
over the name, so they replace a link instead of writing through it. ``checkpoints/``,
``step-*/``, ``.tmp-*`` and ``steps.csv`` are handled only through these
(:mod:`deepfuse.training.checkpoint`, :class:`~deepfuse.training.callbacks.steplog.StepLog`).

Example:
    >>> import tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> with RunWriter(root, "demo") as tmp:
    ...     _ = (tmp / "metrics.json").write_text("{}")
    >>> os.listdir(root)[0].startswith("demo-")
    True
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from deepfuse._utils.errors import UserError
from deepfuse._utils.io import atomic_write_text
from deepfuse.run.layout import (
    CONFIG_FILE,
    DEFAULT_RUNS_DIR,
    METRICS_FILE,
    PARTIAL_SUFFIX,
    STEPS_FILE,
)

__all__ = [
    "RunWriter",
    "all_written",
    "finish_run_dir",
    "history_csv",
    "new_run_dir",
    "open_run_file",
    "partial_of",
    "remove_run_entry",
    "resumable_run",
    "run_folder",
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
    if final.exists():  # os.rename onto an empty folder would succeed: never overwrite a run
        raise UserError(f"Cannot finish the run '{partial}': '{final}' already exists.")
    # Step 4 of the finishing protocol: history.csv holds the steps now. A kill from here to
    # the rename leaves a .partial with metrics.json: --resume redoes only this function.
    remove_run_entry(partial / STEPS_FILE)
    _relax_permissions(partial)
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


def all_written(partial: str | os.PathLike) -> bool:
    """Whether every file of a ``.partial`` run is written (its ``metrics.json``, written last,
    is there): only :func:`finish_run_dir` is left to do (step 3 of the finishing protocol).

    Example:
        >>> import tempfile
        >>> partial = new_run_dir(tempfile.mkdtemp(), "demo")
        >>> before = all_written(partial)
        >>> _ = (partial / "metrics.json").write_text("{}")
        >>> before, all_written(partial)
        (False, True)
    """
    path = Path(partial) / METRICS_FILE
    return path.is_file() and not path.is_symlink()


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
        deepfuse._utils.errors.UserError: Cannot resume '/no/such/run': no such folder (and no '/no/such/run.partial' beside it). Pass the run directory 'deepfuse train' printed (runs/<name>-<timestamp>).
    """
    run = Path(path)
    partial = partial_of(run)
    if partial is None and (run / METRICS_FILE).is_file():
        raise UserError(f"Cannot resume '{path}': the run is already finished ({METRICS_FILE}).")
    if partial is None:
        hint = "Pass the run directory 'deepfuse train' printed (runs/<name>-<timestamp>)."
        if run.is_dir():  # a folder, but neither a run in progress nor one with a .partial twin
            raise UserError(
                f"Cannot resume '{path}': it is a folder but not a run in progress (no "
                f"'{run.name}{PARTIAL_SUFFIX}' beside it, and its name has no '{PARTIAL_SUFFIX}' "
                f"suffix). {hint}"
            )
        raise UserError(
            f"Cannot resume '{path}': no such folder (and no '{run}{PARTIAL_SUFFIX}' beside "
            f"it). {hint}"
        )
    if not (partial / CONFIG_FILE).is_file():
        raise UserError(
            f"Cannot resume '{path}': it has no {CONFIG_FILE}, so it is not a deepfuse run."
        )
    return partial.resolve()


# ------------------------------------------------------------------ no symlink followed
def _not_regular(path: Path, what: str) -> UserError:
    return UserError(
        f"'{path}' is a symbolic link or not a regular {what}: deepfuse writes a run folder only "
        f"as regular files and folders inside it and never writes or deletes through a link. "
        f"Remove '{path}' and run again."
    )


def run_folder(path: str | os.PathLike) -> Path:
    """Create the folder ``path`` inside a run (parents included), or check the one there is a
    real folder: a symlink or a file in its place is refused, never followed.

    Raises:
        UserError: ``path`` is a symlink, a file or anything but a folder.

    Example:
        >>> import tempfile, os, pathlib
        >>> run = pathlib.Path(tempfile.mkdtemp())
        >>> run_folder(run / "checkpoints").is_dir()
        True
        >>> os.symlink(tempfile.mkdtemp(), run / "elsewhere")
        >>> run_folder(run / "elsewhere")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.UserError: '...elsewhere' is a symbolic link or not a regular folder: ...
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir()
    if not stat.S_ISDIR(os.lstat(path).st_mode):  # lstat: a link to a folder is a link
        raise _not_regular(path, "folder")
    return path


#: open() modes of :func:`open_run_file` and their os.open flags.
_MODES = {
    "r": os.O_RDONLY,
    "w": os.O_WRONLY | os.O_CREAT,  # truncated only once it is known to be a file of its own
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "r+": os.O_RDWR,
}


def open_run_file(path: str | os.PathLike, mode: str, *, binary: bool = False) -> IO[Any]:
    """Open a file inside a run without following a symlink; only a regular file is opened.

    ``mode`` is ``"r"``, ``"w"`` (create or truncate), ``"a"`` (create or append) or ``"r+"``.
    A symlink, a FIFO, a device or (for writing) a file with another hard link is refused before
    a byte is read or written, and a FIFO never blocks the open.

    Raises:
        UserError: ``path`` is not a regular file of its own.

    Example:
        >>> import tempfile, os, pathlib
        >>> run = pathlib.Path(tempfile.mkdtemp())
        >>> with open_run_file(run / "steps.csv", "a") as fh:
        ...     _ = fh.write("epoch\\n")
        >>> os.symlink(run / "steps.csv", run / "link.csv")
        >>> open_run_file(run / "link.csv", "a")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.UserError: '...link.csv' is a symbolic link or not a regular file: ...
    """
    path = Path(path)
    flags = _MODES[mode] | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        # ELOOP: the last part is a symlink (O_NOFOLLOW); ENXIO: a FIFO nobody reads
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise _not_regular(path, "file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (mode != "r" and info.st_nlink > 1):
            raise _not_regular(path, "file")
        if mode == "w":
            os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
        if binary:
            return os.fdopen(fd, mode.replace("+", "") + "b" + ("+" if "+" in mode else ""))
        return os.fdopen(fd, mode, encoding="utf-8", newline="")
    except BaseException:
        os.close(fd)
        raise


def remove_run_entry(path: str | os.PathLike) -> None:
    """Delete a file or folder inside a run without following a symlink: a link (or a link
    inside the folder) is removed itself, never what it points to. A missing entry is fine.

    Example:
        >>> import tempfile, os, pathlib
        >>> run, outside = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
        >>> _ = (outside / "keep.txt").write_text("x")
        >>> os.symlink(outside, run / "checkpoints")
        >>> remove_run_entry(run / "checkpoints")
        >>> os.path.lexists(run / "checkpoints"), (outside / "keep.txt").exists()
        (False, True)
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        # rmtree refuses a top-level link (a swap after lstat fails) and never follows the
        # links inside (it walks with file descriptors and O_NOFOLLOW).
        shutil.rmtree(path)
    else:
        os.unlink(path)


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
    with open_run_file(steps, "r") as fh:  # a symlinked steps.csv is refused, not read
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
        # a step's own running value where the step log has one (d_loss, g_loss of a GAN)
        values = [_cell(history[k], epoch - 1) if done else row.get(k) or "" for k in epoch_keys]
        writer.writerow([epoch, loss, *values, row["step"], row["global_step"], row["lr"]])
    atomic_write_text(path, buf.getvalue())
