"""Exact, crash-safe training checkpoints: safetensors for tensors, JSON for everything else.

A checkpoint is a folder ``<directory>/step-<global step, 8 digits>/``:

- ``<part>.safetensors`` for every top-level part of the state that holds tensors (``model``,
  ``optimizer``, ``rng``, ``data``, ...);
- ``state.json``: the whole state tree, each tensor replaced by ``{"$tensor": [part, name]}``,
  tuples by ``{"$tuple": [...]}`` and int-keyed dicts (optimizer state) by ``{"$intkeys": [...]}``,
  so the tree comes back exactly as it was saved;
- ``manifest.json`` (written last): the sha256 and size of every other file.

The folder is written under a hidden temporary name, every file fsynced, then renamed into
place and the parent folder fsynced: a crash leaves either the complete checkpoint or a hidden
``.tmp-*`` folder that is ignored (and removed by the next :class:`CheckpointManager`). A full
disk raises :class:`~deepfuse._utils.io.DiskFullError` naming the checkpoint; its temp folder is
removed and every checkpoint published before stays. The checkpoint folder, ``step-*`` and
``.tmp-*`` are created and deleted by the run contract's rules (:func:`deepfuse.run.writer.run_folder`,
:func:`~deepfuse.run.writer.remove_run_entry`): a symlinked ``checkpoints/`` is refused and a
symlink is never followed, so nothing outside the folder is ever written or deleted. A
checkpoint whose files do not match its manifest (truncated, altered) is skipped with a warning
by :meth:`CheckpointManager.latest_valid`, which falls back to the previous good one.

Example:
    >>> import tempfile, torch
    >>> manager = CheckpointManager(tempfile.mkdtemp(), keep=2)
    >>> state = {"model": {"w": torch.ones(2)}, "trainer": {"global_step": 7, "betas": (0.9, 0.99)}}
    >>> path = manager.save(state)
    >>> path.name
    'step-00000007'
    >>> back = load_checkpoint(manager.latest_valid())
    >>> back["trainer"]["betas"], back["model"]["w"].tolist()
    ((0.9, 0.99), [1.0, 1.0])
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import stat
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfuse._utils.errors import DataError, UserError
from deepfuse._utils.io import disk_full_names, read_json
from deepfuse._utils.safefiles import (
    check_name,
    load_safetensors,
    regular_file,
    weights_mismatch,
)
from deepfuse.run.layout import CHECKPOINT_MANIFEST, CHECKPOINT_PREFIX, CHECKPOINT_STATE
from deepfuse.run.writer import remove_run_entry, run_folder

__all__ = [
    "FORMAT",
    "CheckpointManager",
    "capture_rng",
    "checkpoint_manager",
    "isolated_rng",
    "load_checkpoint",
    "restore_rng",
    "resume_latest",
    "verify_checkpoint",
]

FORMAT = "deepfuse.checkpoint"
FORMAT_VERSION = 1
MANIFEST = CHECKPOINT_MANIFEST  # the file names are the run layout's (the dashboard reads them)
STATE = CHECKPOINT_STATE
_PREFIX = CHECKPOINT_PREFIX


# ------------------------------------------------------------------------------ manager
class CheckpointManager:
    """Writes checkpoints into ``directory`` and finds the newest valid one.

    Args:
        directory: Folder of the ``step-*`` checkpoints (created if needed).
        keep: How many of the newest checkpoints to keep (older ones are deleted after each save).
    """

    def __init__(self, directory: str | os.PathLike, *, keep: int = 3) -> None:
        if not isinstance(keep, int) or keep < 1:
            raise UserError(f"keep_checkpoints must be an int >= 1; got {keep!r}.")
        self.directory = Path(directory)
        self.keep = keep
        run_folder(self.directory)  # a real folder: a symlinked one is refused, never followed
        # A run killed during a save leaves a hidden temp folder: it was never published.
        for stale in self.directory.glob(".tmp-*"):
            _remove(stale)

    def checkpoints(self) -> list[Path]:
        """Published checkpoint folders, oldest first (valid or not)."""
        found = [
            p
            for p in self.directory.iterdir()
            if p.name.startswith(_PREFIX)
            and p.name[len(_PREFIX) :].isdigit()
            and stat.S_ISDIR(p.lstat().st_mode)  # a symlink is not a checkpoint
        ]
        return sorted(found, key=lambda p: int(p.name[len(_PREFIX) :]))

    def save(self, state: Mapping[str, Any], *, step: int | None = None) -> Path:
        """Write ``state`` as checkpoint ``step`` (default ``state["trainer"]["global_step"]``).

        Returns:
            The published folder ``<directory>/step-<step>``.
        """
        if step is None:
            step = int(state["trainer"]["global_step"])
        final = self.directory / f"{_PREFIX}{step:08d}"
        tmp = self.directory / f".tmp-{final.name}-{os.getpid()}"
        remove_run_entry(tmp)
        try:
            with disk_full_names(final):
                tmp.mkdir()
                _write_files(tmp, state, step)
                self._publish(tmp, final)
        except BaseException:
            _remove(tmp)  # never published; frees its space (a full disk) at once
            raise
        self._prune()
        return final

    def latest_valid(self) -> Path | None:
        """The newest checkpoint whose files match its manifest; warns about each damaged one."""
        for path in reversed(self.checkpoints()):
            try:
                verify_checkpoint(path)
            except DataError as exc:
                warnings.warn(
                    f"Skipping damaged checkpoint {path.name}: {exc} Using the previous one.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            return path
        return None

    def _publish(self, tmp: Path, final: Path) -> None:
        """Rename the complete temp folder into place (replacing a same-step one) and fsync."""
        if os.path.lexists(final):  # e.g. a damaged checkpoint of this step, written before a crash
            old = final.with_name(f".tmp-old-{final.name}-{os.getpid()}")
            os.replace(final, old)  # renames a symlink itself, never its target
            _remove(old)
        os.replace(tmp, final)
        _fsync_dir(self.directory)

    def _prune(self) -> None:
        for path in self.checkpoints()[: -self.keep]:
            _remove(path)


def checkpoint_manager(
    directory: str | os.PathLike | None, *, keep: int, resume: bool
) -> CheckpointManager | None:
    """``fit``'s ``checkpoint_dir``/``keep_checkpoints``/``resume``: a manager, or None (no folder).

    Raises:
        UserError: ``resume`` without a folder to resume from.
    """
    if directory is None:
        if resume:
            raise UserError("fit(resume=True) needs checkpoint_dir, the folder of the checkpoints.")
        return None
    return CheckpointManager(directory, keep=keep)


def resume_latest(trainer: Any, manager: CheckpointManager) -> Path | None:
    """Load the newest valid checkpoint of ``manager`` into ``trainer``; return its path.

    With no valid checkpoint (the run was killed before its first one) training starts from the
    beginning, with a warning.
    """
    path = manager.latest_valid()
    if path is None:
        warnings.warn(
            f"No valid checkpoint in '{manager.directory}': training starts from the beginning.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    state = load_checkpoint(path)
    problem = weights_mismatch(trainer.model.state_dict(), state.get("model") or {})
    if problem:  # named tensor by tensor; torch's "size mismatch" traceback otherwise
        raise DataError(
            f"The checkpoint '{path}' does not fit the model being trained: {problem}. Restore "
            "the run's config.yaml (the one it was trained with), or start a new run with "
            "'deepfuse train CONFIG'."
        )
    try:
        trainer.load_state_dict(state)
    except UserError:
        raise
    except (RuntimeError, ValueError) as exc:  # torch: optimizer groups, schedule, callbacks
        first = " ".join(str(exc).split())[:300]
        raise DataError(
            f"The checkpoint '{path}' does not fit the model and optimizer built from the run's "
            f"config ({first}). The config or the checkpoint was changed after training started: "
            "restore the run's config.yaml, or start a new run with 'deepfuse train CONFIG'."
        ) from exc
    return path


# ------------------------------------------------------------------------------ writing
def _write_files(folder: Path, state: Mapping[str, Any], step: int) -> None:
    from safetensors.torch import save

    parts: dict[str, dict[str, torch.Tensor]] = {}
    tree = {str(k): _encode(v, str(k), [], parts) for k, v in state.items()}
    files = {}
    for part, tensors in parts.items():
        # Serialized here and written by Python: safetensors' save_file drops a write error
        # (a full disk left a short file behind, silently).
        data = save(tensors, metadata={"format": "pt"})
        files[f"{part}.safetensors"] = _write_new(folder / f"{part}.safetensors", data)
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "step": step, "state": tree}
    files[STATE] = _write_new(folder / STATE, json.dumps(doc, allow_nan=True).encode("utf-8"))
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "step": step, "files": files}
    _write_new(folder / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
    _fsync_dir(folder)


def _write_new(path: Path, data: bytes) -> dict[str, Any]:
    """Create ``path`` (exclusively: nothing there is followed or reused), write, fsync; return
    its manifest entry."""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _remove(path: Path) -> None:
    """Delete a checkpoint entry without following links; a failure leaves it for the next run."""
    with contextlib.suppress(OSError):
        remove_run_entry(path)


def _encode(value: Any, part: str, path: list[str], parts: dict[str, dict]) -> Any:
    """The JSON form of ``value``; tensors go to ``parts[part]`` under a dotted name."""
    if isinstance(value, torch.Tensor):
        name = ".".join(path) or "value"
        check_name(name, path=f"{part}.safetensors")
        bucket = parts.setdefault(part, {})
        if name in bucket:
            raise UserError(f"Two tensors of the checkpoint part {part!r} are both named {name!r}.")
        bucket[name] = value.detach().cpu().contiguous().clone()
        return {"$tensor": [part, name]}
    if isinstance(value, np.ndarray):
        return _encode(torch.from_numpy(value.copy()), part, path, parts)
    if isinstance(value, Mapping):
        if value and all(isinstance(k, int) and not isinstance(k, bool) for k in value):
            items = [[k, _encode(v, part, [*path, str(k)], parts)] for k, v in value.items()]
            return {"$intkeys": items}
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k.startswith("$"):
                raise UserError(f"Checkpoint state key {k!r} at {'.'.join(path)!r} is not allowed.")
            out[k] = _encode(v, part, [*path, k], parts)
        return out
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, part, [*path, str(i)], parts) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, part, [*path, str(i)], parts) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise UserError(
        f"Cannot checkpoint {type(value).__name__} at {part}.{'.'.join(path)}: a state holds "
        "tensors, numbers, strings, lists, tuples and dicts only."
    )


# ------------------------------------------------------------------------------ reading
def verify_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Check the manifest of checkpoint ``path`` against its files; return the manifest.

    Raises:
        DataError: the manifest is missing or malformed, names an unsafe or missing file, or a
            file's size or sha256 differs (truncated or altered), or an unlisted file is present.
    """
    folder = Path(path)
    manifest = read_json(folder / MANIFEST, what="checkpoint manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"'{folder / MANIFEST}' is not a deepfuse checkpoint manifest.")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise DataError(f"'{folder}' was written by a newer deepfuse; upgrade to load it.")
    files = manifest.get("files")
    if not isinstance(files, dict) or STATE not in files:
        raise DataError(f"'{folder / MANIFEST}' lists no {STATE}; the checkpoint is incomplete.")
    for name, entry in files.items():
        check_name(name, path=folder / MANIFEST, what="file name")
        file = folder / name
        if not isinstance(entry, dict) or file.is_symlink() or not file.exists():
            # a link is never followed, even to a file with the right bytes (the read rule)
            raise DataError(f"Checkpoint file '{file}' listed in the manifest is missing.")
        size = regular_file(file, root=folder, what="checkpoint file").st_size
        if size != entry.get("size"):
            raise DataError(
                f"Checkpoint file '{file}' has {size} bytes, the manifest says "
                f"{entry.get('size')}: it is truncated or was changed."
            )
        if _sha256(file) != entry.get("sha256"):
            raise DataError(f"Checkpoint file '{file}' does not match its sha256: it is corrupt.")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in files and p.name != MANIFEST)
    if extra:
        raise DataError(f"Checkpoint '{folder}' holds files not in its manifest: {extra}.")
    return manifest


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Verify and read checkpoint ``path``; return the state tree exactly as it was saved.

    Tensors come back on the CPU; tuples as tuples, int-keyed dicts with int keys.

    Raises:
        DataError: the checkpoint is damaged or not a deepfuse checkpoint (nothing is loaded).
    """
    folder = Path(path)
    manifest = verify_checkpoint(folder)
    doc = read_json(folder / STATE, what="checkpoint state")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "state" not in doc:
        raise DataError(f"'{folder / STATE}' is not a deepfuse checkpoint state file.")
    parts = {
        name.removesuffix(".safetensors"): load_safetensors(folder / name)
        for name in manifest["files"]
        if name.endswith(".safetensors")
    }
    return _decode(doc["state"], parts, folder)


def _decode(value: Any, parts: Mapping[str, Mapping[str, torch.Tensor]], folder: Path) -> Any:
    if isinstance(value, list):
        return [_decode(v, parts, folder) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key == "$tensor":
            part, name = inner
            try:
                return parts[part][name]
            except (KeyError, TypeError):
                raise DataError(
                    f"'{folder / STATE}' refers to tensor {name!r} of {part!r}, which is not in "
                    "the checkpoint files."
                ) from None
        if key == "$tuple":
            return tuple(_decode(v, parts, folder) for v in inner)
        if key == "$intkeys":
            return {int(k): _decode(v, parts, folder) for k, v in inner}
    return {k: _decode(v, parts, folder) for k, v in value.items()}


# ------------------------------------------------------------------------------ RNG
def capture_rng() -> dict[str, Any]:
    """The global random states of python, numpy, torch (CPU and every CUDA device)."""
    state: dict[str, Any] = {
        "python": random.getstate(),  # (version, tuple of 625 ints, gauss) -> $tuple in JSON
        "numpy": _numpy_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    """Set the global random states saved by :func:`capture_rng`."""
    random.setstate(_tuples(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


@contextlib.contextmanager
def isolated_rng() -> Iterator[None]:
    """Run a block without a trace on the global random streams (python, numpy, torch, CUDA):
    they are captured before and restored after, whatever the block draws or seeds.

    Example:
        >>> import random
        >>> random.seed(0); before = random.random(); random.seed(0)
        >>> with isolated_rng():
        ...     random.seed(123); _ = random.random()
        >>> random.random() == before
        True
    """
    state = capture_rng()
    try:
        yield
    finally:
        restore_rng(state)


def _numpy_state() -> list[Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(gauss)]


def _tuples(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    return value


# ------------------------------------------------------------------------------ files
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
