"""``SampleGrid``: a generator's samples from the same fixed noise at the end of every epoch.

Each epoch end writes ``<directory>/epoch-XXXX.png`` (1-based, :func:`deepfuse.run.layout.
sample_grid_file`), the grid a run's ``samples/`` folder holds: the same noise every epoch, so
the grids show the generator learning. The model is anything with the
:class:`~deepfuse.models.generative.Generator` protocol (``noise(n, seed=)``,
``generate(noise, labels)``).

The callback is RNG-neutral: the noise comes from a local generator and the global random
state is restored after sampling, so a run is bit-identical with or without it (and a resumed
run writes the same grids). It keeps no state: a resumed run rewrites the grid of an epoch that
a kill interrupted, with the same pixels.

Example:
    >>> import tempfile, torch, numpy as np
    >>> class Gen:
    ...     latent_dim, num_classes = 2, 0
    ...     def noise(self, n, *, seed=0):
    ...         return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)), None
    ...     def generate(self, noise, labels=None):
    ...         return torch.sigmoid(noise[:, :1, None, None]).expand(-1, 1, 4, 4)
    >>> written = []
    >>> cb = SampleGrid(tempfile.mkdtemp(), n=4, save=lambda images, path, ncols: written.append(
    ...     (tuple(np.shape(images)), path.name)))
    >>> cb.set_model(Gen()); cb.on_epoch_end(0, {})
    >>> written
    [((4, 1, 4, 4), 'epoch-0001.png')]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import ConfigError
from deepfuse.run.layout import sample_grid_file
from deepfuse.training.callbacks.base import Callback
from deepfuse.training.checkpoint import isolated_rng

__all__ = ["SampleGrid"]


class SampleGrid(Callback):
    """Write a grid of ``n`` samples from fixed noise at every epoch end.

    Args:
        directory: The folder of the grids (a run's ``samples/``); created when needed.
        n: Samples per grid.
        seed: Seed of the fixed noise (the same noise every epoch).
        ncols: Samples per row of the grid.
        save: ``save(images, path, ncols)`` writes a PNG of images ``(N, C, H, W)`` in
            ``[0, 1]``: :func:`deepfuse.viz.tiles.save_image_grid` (``training`` does not import
            ``viz``; the task that adds the callback passes it).
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        n: int = 64,
        seed: int = 1234,
        ncols: int = 8,
        save: Callable[..., Any],
    ) -> None:
        for key, value in (("n", n), ("ncols", ncols)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"SampleGrid's '{key}' must be a positive int; got {value!r}.")
        self.directory = Path(directory)
        self.n, self.seed, self.ncols = n, int(seed), ncols
        self._save = save
        self.model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        images = self.samples()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._save(images, self.directory / sample_grid_file(epoch + 1), ncols=self.ncols)

    def samples(self) -> Any:
        """The grid's images ``(n, C, H, W)`` in ``[0, 1]`` as a numpy array."""
        # a generator whose sampling draws from the global streams (a VAE's decoder with
        # noise, say) still leaves the run's random state as it was.
        with isolated_rng():
            noise, labels = self.model.noise(self.n, seed=self.seed)
            images = self.model.generate(noise, labels)
        return images.detach().float().cpu().numpy()
