"""Zoo families ``autoencoder`` and ``vae``: reconstruct the input, score rows by how badly.

Both are :class:`~deepfuse.models.Model` subclasses with their own ``train_step`` /
``test_step`` (the loss is the model's: no ``loss`` in the config), trained through the one
``fit``. They implement :class:`~deepfuse.models.generative.Reconstructor` (``encode``,
``decode``, ``reconstruct``, ``anomaly_score``); a ``vae`` is also a
:class:`~deepfuse.models.generative.Generator` (``noise``, ``generate``: decoded prior samples).

The net follows the data (:mod:`.autoencoder_nets`): images (``input_shape`` given) get a
convolutional encoder/decoder, tables (``num_numeric`` / ``cardinalities``) a dense one that
reconstructs numeric columns by squared error and categorical columns by cross-entropy.

* ``autoencoder``: loss = reconstruction error per row (summed over pixels / columns), averaged
  over the batch; anomaly score = the row's reconstruction error.
* ``vae``: mean / log-variance heads, reparameterised code; loss = reconstruction + ``beta`` *
  KL, logging ``loss``, ``reconstruction`` and ``kl``; anomaly score = the negative ELBO
  (``score: elbo``, reconstruction + KL at the posterior mean) or ``score: reconstruction``.

Scoring and validation use the posterior mean, never a random draw: the same rows always get
the same scores, and evaluation takes nothing from the global random stream.

Example:
    >>> import torch
    >>> from deepfuse.models import build
    >>> model = build("autoencoder", input_shape=[1, 28, 28], hidden=[8, 16], latent_dim=4)
    >>> model.compile(optimizer="adam")
    >>> x = torch.rand(64, 1, 28, 28)
    >>> _ = model.fit({"x": x}, epochs=1, batch_size=32, verbose=0, seed=0)
    >>> tuple(model.anomaly_score({"x": x[:5]}).shape), tuple(model.reconstruct(x[:5]).shape)
    ((5,), (5, 1, 28, 28))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.models.model import Model
from deepfuse.models.zoo._common import embedding_dims, int_list, positive_int, rate, tag
from deepfuse.models.zoo.autoencoder_nets import any_net, kl_divergence
from deepfuse.training.optim import clip_gradients

__all__ = ["VAE", "Autoencoder", "autoencoder", "vae"]

#: Default widths: convolution channels for images, Dense widths for tables.
IMAGE_HIDDEN, TABLE_HIDDEN = (32, 64), (64, 32)
#: Default code width for images, and the widest default for tables (see :func:`table_latent`).
IMAGE_LATENT, TABLE_LATENT = 8, 8


def table_latent(columns: int) -> int:
    """Default code width of a table: a quarter of its columns, 2 to :data:`TABLE_LATENT`.

    A code nearly as wide as the row lets the net copy it, anomalies included: on a fraud-like
    table of 11 columns whose numeric part has no low-dimensional structure (independent
    normals, rotated), a code of 8 scored test ROC-AUC 0.75, a code of 2 0.98
    (IsolationForest 0.97).

    Example:
        >>> table_latent(11), table_latent(14), table_latent(64)
        (2, 3, 8)
    """
    return max(2, min(TABLE_LATENT, columns // 4))


class Autoencoder(Model):
    """A reconstructing model (see the module): ``net`` is an :mod:`.autoencoder_nets` net.

    Args:
        net: The encoder/decoder.
        denoising: Std of the Gaussian noise added to the encoder's input while training.
        variational: The net has mean / log-variance heads (a VAE).
        beta: Weight of the KL term (VAE).
        score: ``"reconstruction"`` or ``"elbo"`` (VAE: reconstruction + KL).
    """

    def __init__(
        self,
        net: torch.nn.Module,
        *,
        denoising: float = 0.0,
        variational: bool = False,
        beta: float = 1.0,
        score: str = "reconstruction",
    ) -> None:
        super().__init__(name="vae" if variational else "autoencoder")
        self.net = net
        self.latent_dim = int(net.heads.mu.out_features)
        self.denoising, self.variational = float(denoising), bool(variational)
        self.beta, self.score = float(beta), score
        self.is_image = hasattr(net, "input_shape")

    # ------------------------------------------------------------------ inputs
    def _inputs(self, batch: Any) -> Any:
        """The net's input from a batch: images ``(N, C, H, W)``, or the table's dict."""
        if isinstance(batch, Mapping):
            if not self.is_image:
                return batch
            key = self._input_keys[0] if self._input_keys else "x"
            if key not in batch:
                raise DataError(
                    f"The {self.name} model expects images under batch[{key!r}]; the batch "
                    f"holds {sorted(map(str, batch))}."
                )
            return batch[key]
        if self.is_image:
            return batch
        # a bare tensor: the only kind of table feature the net has
        return {"numeric": batch} if self.net.num_numeric else {"categorical": batch}

    # ------------------------------------------------------------------- terms
    def _terms(self, x: Any, *, sample: bool) -> dict[str, torch.Tensor]:
        """Per-row ``loss`` (and, for a VAE, ``reconstruction`` and ``kl``), shape ``(N,)``.

        ``sample``: draw the code (training a VAE); otherwise decode the posterior mean.
        """
        noise = self.denoising if self.training else 0.0  # denoising: training only
        mu, logvar = self.net.encode(x, noise)
        z = mu
        if logvar is not None and sample:  # reparameterisation: z = mu + sigma * eps
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        rec = self.net.row_error(x, self.net.decode_logits(z))
        if logvar is None:
            return {"loss": rec}
        kl = kl_divergence(mu, logvar)
        return {"loss": rec + self.beta * kl, "reconstruction": rec, "kl": kl}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimizer step on the batch's mean loss (targets, if any, are ignored)."""
        x, _ = self.split_batch(batch)
        terms = self._terms(self._inputs(x), sample=True)
        loss = terms["loss"].mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self._grad_clip is not None:
            clip_gradients(self.parameters(), self._grad_clip)
        self.optimizer.step()
        return {k: v.detach().mean() for k, v in terms.items()}

    def test_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The same terms at the posterior mean (deterministic), averaged over the batch."""
        x, _ = self.split_batch(batch)
        return {k: v.mean() for k, v in self._terms(self._inputs(x), sample=False).items()}

    def forward(self, x: Any) -> torch.Tensor:
        """The reconstruction of ``x`` in the input's space (see :meth:`decode`)."""
        mu, _ = self.net.encode(self._inputs(x))
        return self.net.to_output(self.net.decode_logits(mu))

    # ----------------------------------------------------- Reconstructor protocol
    @torch.no_grad()
    def encode(self, batch: Any) -> torch.Tensor:
        """Codes ``(N, latent_dim)`` (a VAE: the posterior means), in eval mode."""
        with _eval(self):
            return self.net.encode(self._inputs(batch))[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` in [0, 1], or table rows ``(N, k + c)``: numeric values
        then the most likely code of each categorical column."""
        with _eval(self):
            return self.net.to_output(self.net.decode_logits(z))

    def reconstruct(self, batch: Any) -> torch.Tensor:
        """``decode(encode(batch))``."""
        return self.decode(self.encode(batch))

    @torch.no_grad()
    def anomaly_score(self, batch: Any) -> torch.Tensor:
        """``(N,)``: the reconstruction error (``score: elbo``: plus the KL term)."""
        with _eval(self):
            terms = self._terms(self._inputs(batch), sample=False)
        if self.score == "elbo" and "kl" in terms:
            return terms["reconstruction"] + terms["kl"]
        return terms.get("reconstruction", terms["loss"])


class VAE(Autoencoder):
    """A variational autoencoder; also a :class:`~deepfuse.models.generative.Generator`."""

    num_classes = 0  # unconditional

    def noise(self, n: int, *, seed: int = 0) -> tuple[torch.Tensor, None]:
        """``n`` prior draws ``(n, latent_dim)`` from a local generator (the global random
        state is untouched); no labels."""
        g = torch.Generator().manual_seed(int(seed))
        return torch.randn(n, self.latent_dim, generator=g), None

    def generate(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decoded prior samples (images in [0, 1] for an image VAE)."""
        device = next(self.parameters()).device
        return self.decode(noise.to(device))


class _eval:
    """Eval mode inside the block, the previous mode after it."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module, self.was = module, module.training

    def __enter__(self) -> None:
        self.module.train(False)

    def __exit__(self, *exc: Any) -> None:
        self.module.train(self.was)


# ------------------------------------------------------------------------- builders


def _config(
    family: str,
    input_shape: Sequence[int] | None,
    num_numeric: int,
    cardinalities: Sequence[int],
    hidden: Sequence[int] | None,
    latent_dim: int | None,
    denoising: float,
    dropout: float,
    reconstruction: str,
    embed_dim: int | Sequence[int] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(recorded builder config, net config)`` with every argument checked."""
    image = input_shape is not None
    if image:
        shape = int_list(family, "input_shape", list(input_shape), allow_empty=False)
        if len(shape) != 3:
            raise ConfigError(
                f"The 'input_shape' argument of zoo model '{family}' must be [channels, "
                f"height, width]; got {list(input_shape)!r}."
            )
    cards = [] if image else int_list(family, "cardinalities", list(cardinalities))
    if not image and (isinstance(num_numeric, bool) or not isinstance(num_numeric, int)
                      or num_numeric < 0):  # fmt: skip
        raise ConfigError(
            f"The 'num_numeric' argument of zoo model '{family}' must be an int >= 0; "
            f"got {num_numeric!r}."
        )
    if not image and not num_numeric and not cards:
        raise ConfigError(
            f"Zoo model '{family}' needs inputs: images (input_shape=[C, H, W]) or table "
            "columns (num_numeric > 0 and/or cardinalities=[...]). In a config these come "
            "from the data."
        )
    if (
        isinstance(denoising, bool)
        or not isinstance(denoising, int | float)
        or not (0 <= denoising <= 1)
    ):
        raise ConfigError(
            f"The 'denoising' argument of zoo model '{family}' is the std of the input noise, "
            f"a number in [0, 1]; got {denoising!r}."
        )
    if reconstruction not in ("bce", "mse"):
        raise ConfigError(
            f"The 'reconstruction' argument of zoo model '{family}' must be 'bce' or 'mse' "
            f"(images); got {reconstruction!r}."
        )
    default_hidden = IMAGE_HIDDEN if image else TABLE_HIDDEN
    widths = int_list(family, "hidden", list(hidden if hidden is not None else default_hidden),
                      allow_empty=not image)  # fmt: skip
    latent = positive_int(
        family, "latent_dim", latent_dim if latent_dim is not None else
        (IMAGE_LATENT if image else table_latent(int(num_numeric) + len(cards))),
    )  # fmt: skip
    config = {
        "input_shape": shape if image else None,
        "num_numeric": 0 if image else int(num_numeric),
        "cardinalities": cards,
        "hidden": hidden if hidden is None else widths,
        "latent_dim": latent_dim if latent_dim is None else latent,
        "denoising": float(denoising),
        "dropout": rate(family, "dropout", dropout),
        "reconstruction": reconstruction,
        "embed_dim": embed_dim if embed_dim is None or isinstance(embed_dim, int)
        else list(embed_dim),
    }  # fmt: skip
    net = {
        **config,
        "hidden": widths,
        "latent_dim": latent,
        "embed_dims": embedding_dims(family, cards, embed_dim),
    }
    return config, net


def _example(model: Autoencoder, config: dict[str, Any]) -> Any:
    """Two dummy rows to build and check the net with."""
    if config["input_shape"]:
        return torch.zeros(2, *config["input_shape"])
    batch: dict[str, torch.Tensor] = {}
    if config["num_numeric"]:
        batch["numeric"] = torch.zeros(2, config["num_numeric"])
    if config["cardinalities"]:
        batch["categorical"] = torch.zeros(2, len(config["cardinalities"]), dtype=torch.long)
    return batch


def autoencoder(
    input_shape: Sequence[int] | None = None,
    num_numeric: int = 0,
    cardinalities: Sequence[int] = (),
    hidden: Sequence[int] | None = None,
    latent_dim: int | None = None,
    denoising: float = 0.0,
    dropout: float = 0.0,
    reconstruction: str = "bce",
    embed_dim: int | Sequence[int] | None = None,
) -> Autoencoder:
    """An autoencoder: convolutional for images, dense for tables (see the module).

    Args:
        input_shape: ``[C, H, W]`` of images (from the data); ``None`` for a table.
        num_numeric: Numeric columns of a table (from the data).
        cardinalities: Categories per categorical column of a table (from the data).
        hidden: Convolution channels (images, default ``[32, 64]``) or Dense widths (tables,
            default ``[64, 32]``) of the encoder; the decoder mirrors them.
        latent_dim: Width of the code (default: 8 for images, :func:`table_latent` of the
            table's columns).
        denoising: Std of Gaussian noise added to the encoder's input in training only.
        dropout: Dropout rate in the encoder and decoder.
        reconstruction: Images: ``"bce"`` (per-pixel binary cross-entropy) or ``"mse"``.
        embed_dim: Embedding width of categorical columns (``None``: by cardinality).

    Example:
        >>> m = autoencoder(num_numeric=3, cardinalities=[4], hidden=[8], latent_dim=2)
        >>> batch = {"numeric": torch.randn(5, 3), "categorical": torch.randint(0, 5, (5, 1))}
        >>> tuple(m.reconstruct(batch).shape), tuple(m.anomaly_score(batch).shape)
        ((5, 4), (5,))
    """
    config, net = _config(
        "autoencoder", input_shape, num_numeric, cardinalities, hidden, latent_dim,
        denoising, dropout, reconstruction, embed_dim,
    )  # fmt: skip
    model = Autoencoder(any_net({**net, "variational": False}), denoising=config["denoising"])
    model.forward(_example(model, config))  # the net's sizes agree with the data
    return tag(model, "autoencoder", config)


def vae(
    input_shape: Sequence[int] | None = None,
    num_numeric: int = 0,
    cardinalities: Sequence[int] = (),
    hidden: Sequence[int] | None = None,
    latent_dim: int | None = None,
    beta: float = 1.0,
    score: str = "elbo",
    denoising: float = 0.0,
    dropout: float = 0.0,
    reconstruction: str = "bce",
    embed_dim: int | Sequence[int] | None = None,
) -> Autoencoder:
    """A variational autoencoder (the ``autoencoder``'s nets with mean / log-variance heads);
    for images a :class:`VAE` (also a Generator), for tables an :class:`Autoencoder`.

    Args:
        beta: Weight of the KL term in the loss (1: the ELBO).
        score: Anomaly score: ``"elbo"`` (negative ELBO: reconstruction + KL) or
            ``"reconstruction"``.
        input_shape, num_numeric, cardinalities, hidden, latent_dim, denoising, dropout,
            reconstruction, embed_dim: As for :func:`autoencoder`.

    Example:
        >>> m = vae(input_shape=[1, 28, 28], hidden=[8], latent_dim=2)
        >>> tuple(m.generate(*m.noise(3, seed=1)).shape)
        (3, 1, 28, 28)
    """
    if isinstance(beta, bool) or not isinstance(beta, int | float) or beta < 0:
        raise ConfigError(f"The 'beta' argument of zoo model 'vae' must be >= 0; got {beta!r}.")
    if score not in ("elbo", "reconstruction"):
        raise ConfigError(
            f"The 'score' argument of zoo model 'vae' must be 'elbo' or 'reconstruction'; "
            f"got {score!r}."
        )
    config, net = _config(
        "vae", input_shape, num_numeric, cardinalities, hidden, latent_dim,
        denoising, dropout, reconstruction, embed_dim,
    )  # fmt: skip
    # images: also a Generator (prior samples are images); a table VAE decodes rows, not
    # pictures, so it is only a Reconstructor (sample grids are for images)
    model = (VAE if config["input_shape"] else Autoencoder)(
        any_net({**net, "variational": True}),
        denoising=config["denoising"], variational=True, beta=float(beta), score=score,
    )  # fmt: skip
    model.forward(_example(model, config))
    return tag(model, "vae", {**config, "beta": float(beta), "score": score})
