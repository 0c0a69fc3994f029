"""Helpers shared by tests that interrupt training or read the real datasets.

``Interrupt`` stops a ``fit`` the way Ctrl-C would, after a given global step (the checkpoints
written before it stay, as after a kill). ``needs_dataset`` skips a test, with the reason, when
a dataset that is not vendored (Fashion-MNIST, Adult, IMDB) is not beside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deepfuse.training.callbacks import Callback


class Interrupt(Callback):
    """Stops the process (as Ctrl-C would) once ``at`` steps are done."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, step, logs):
        if self.trainer.global_step == self.at:
            raise KeyboardInterrupt


def needs_dataset(folder: str) -> pytest.MarkDecorator:
    """Skip unless ``$DEEPFUSE_DATA_DIR/<folder>/`` exists (``scripts/test.sh`` points the
    variable at ``../shared/datasets`` when that folder is there)."""
    root = os.environ.get("DEEPFUSE_DATA_DIR")
    return pytest.mark.skipif(
        not (root and (Path(root) / folder).is_dir()),
        reason=f"{folder} is not vendored: set DEEPFUSE_DATA_DIR to a folder holding {folder}/",
    )
