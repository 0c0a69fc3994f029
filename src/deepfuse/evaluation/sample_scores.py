"""The numbers that score a generator's samples against real images, in a classifier's feature
space (pure math on feature arrays; :mod:`deepfuse.evaluation.generative` feeds it).

* :func:`frechet_distance` - ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between the
  Gaussians fitted to two feature sets. Computed in float64 by the symmetric eigenvalue form:
  ``Tr (S1 S2)^(1/2) = sum sqrt(eig(R S2 R))`` with ``R = S1^(1/2)``, whose eigenvalues are those
  of ``S1 S2`` (similar matrices) but come from a symmetric PSD matrix, so there is no complex
  part to drop and no offset to add when a covariance is singular; tiny negative eigenvalues
  from rounding are clipped to 0. Named ``classifier_fd`` in runs: the features are those of a
  classifier trained on the run's own data, so it is *not* the Inception FID.
* :func:`precision_recall` - Kynkäänniemi et al. 2019 ("Improved precision and recall metric
  for assessing generative models"): each set's manifold is the union of balls around its
  points reaching their k-th nearest neighbour (k = 3); precision is the share of samples inside
  the real manifold (are the samples realistic?), recall the share of real images inside the
  samples' manifold (do the samples cover the data?). Read the two together: a few
  near-identical samples that fall inside the real manifold (a collapsed or untrained
  generator) can score a high precision, never a high recall.
* :func:`class_histogram` - how the samples spread over the classes (by the scorer's
  predictions) and the mode-collapse warning: raised when the normalised entropy of the
  histogram is below :data:`MIN_ENTROPY` (0.9; 1.0 = uniform), when the most common class holds
  over :data:`MAX_SHARE_RATIO` (2.5) times its uniform share, or when a class gets under
  :data:`MIN_SHARE_RATIO` (0.25) times its share (a missing mode).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4))
    >>> classifier_fd(a, b) < 0.05, 3.8 < classifier_fd(a, b + 1.0) < 4.2  # ||shift||^2 = 4
    (True, True)
    >>> hist = class_histogram(np.array([0] * 90 + [1] * 10), 2)
    >>> hist["counts"], hist["mode_collapse"]
    ([90, 10], True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from deepfuse._utils.errors import DataError, format_message

__all__ = [
    "MAX_SHARE_RATIO",
    "MIN_ENTROPY",
    "MIN_SHARE_RATIO",
    "class_histogram",
    "classifier_fd",
    "frechet_distance",
    "gaussian_stats",
    "precision_recall",
]

#: Below this normalised entropy (entropy / log K) the class histogram is called collapsed.
MIN_ENTROPY = 0.9
#: The most common class over this many times its uniform share 1/K: collapse.
MAX_SHARE_RATIO = 2.5
#: A class under this many times its uniform share counts as a missing mode.
MIN_SHARE_RATIO = 0.25
_CHUNK = 1024  # rows of a distance matrix at a time (memory: _CHUNK x N floats)


def _array(features: Any, what: str) -> np.ndarray:
    a = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features)
    a = a.astype(np.float64).reshape(len(a), -1)
    if len(a) < 2 or not np.isfinite(a).all():
        raise DataError(
            format_message(f"The {what} features must hold at least 2 finite rows.", got=a.shape)
        )
    return a


def gaussian_stats(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` (unbiased, float64) of ``(N, D)`` features.

    Example:
        >>> mu, sigma = gaussian_stats([[0.0, 1.0], [2.0, 3.0]])
        >>> mu.tolist(), sigma.tolist()
        ([1.0, 2.0], [[2.0, 2.0], [2.0, 2.0]])
    """
    a = _array(features, "sample")
    return a.mean(axis=0), np.cov(a, rowvar=False).reshape(a.shape[1], a.shape[1])


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """The symmetric square root of a PSD matrix (negative rounding eigenvalues clipped)."""
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet (2-Wasserstein) distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    Example:
        >>> import numpy as np
        >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))  # 2 + 2*(1-2)^2
        4.0
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != mu1.shape * 2:
        raise DataError(
            format_message(
                "frechet_distance needs two means (D,) and two covariances (D, D) of one D.",
                got=f"{mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}",
            )
        )
    root = _sqrt_psd(s1)
    middle = root @ s2 @ root  # symmetric PSD, same eigenvalues as s1 @ s2
    eig = np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.sqrt(eig).sum())
    return max(value, 0.0)  # rounding can leave -1e-12 for identical Gaussians


def classifier_fd(features_a: Any, features_b: Any) -> float:
    """:func:`frechet_distance` of the Gaussians fitted to two ``(N, D)`` feature sets."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def _kth_radius(points: torch.Tensor, k: int) -> torch.Tensor:
    """``(N,)`` distance of each point to its k-th nearest other point of the same set."""
    out = []
    for i in range(0, len(points), _CHUNK):
        d = torch.cdist(points[i : i + _CHUNK], points)  # (chunk, N)
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at distance 0
    return torch.cat(out)


def _covered(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """``(M,)`` bools: whether each query lies in a ball ``(centre, radius)``."""
    out = []
    for i in range(0, len(queries), _CHUNK):
        d = torch.cdist(queries[i : i + _CHUNK], centres)  # (chunk, N)
        out.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(out)


def precision_recall(real: Any, fake: Any, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``fake`` against ``real``.

    Args:
        real: ``(N, D)`` features of real images.
        fake: ``(M, D)`` features of samples.
        k: The neighbour whose distance sets each ball's radius.

    Returns:
        ``(precision, recall)`` in ``[0, 1]``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> real = rng.normal(size=(500, 2))
        >>> p, r = precision_recall(real, rng.normal(size=(500, 2)))
        >>> p > 0.9 and r > 0.9, precision_recall(real, real[:1].repeat(500, 0))[1] < 0.05
        (True, True)
    """
    r = torch.from_numpy(_array(real, "real"))
    f = torch.from_numpy(_array(fake, "sample"))
    if r.shape[1] != f.shape[1] or min(len(r), len(f)) <= k:
        raise DataError(
            format_message(
                f"precision_recall needs more than k={k} rows of one feature width on each side.",
                got=f"real {tuple(r.shape)}, samples {tuple(f.shape)}",
            )
        )
    precision = _covered(f, r, _kth_radius(r, k)).double().mean()
    recall = _covered(r, f, _kth_radius(f, k)).double().mean()
    return float(precision), float(recall)


def class_histogram(
    predicted: Any, num_classes: int, classes: Sequence[Any] | None = None
) -> dict[str, Any]:
    """The samples' class histogram and whether it looks collapsed (see the module docstring).

    Args:
        predicted: ``(N,)`` class indices the scorer predicts for the samples.
        num_classes: ``K``.
        classes: Class names by index, for the warning (default: the indices).

    Returns:
        ``{"classes", "counts", "shares", "normalised_entropy", "largest", "missing", "mode_collapse",
        "warning"}`` (``warning``: one sentence, or ``None``).
    """
    pred = np.asarray(predicted).astype(np.int64).reshape(-1)
    names = [str(c) for c in (classes if classes is not None else range(num_classes))]
    counts = np.bincount(pred, minlength=num_classes)[:num_classes]
    total = max(int(counts.sum()), 1)
    shares = counts / total
    nonzero = shares[shares > 0]
    # (nonzero * log(1 / nonzero)): one class alone gives +0.0, not -0.0
    entropy = (
        float((nonzero * np.log(1.0 / nonzero)).sum() / math.log(num_classes))
        if num_classes > 1
        else 1.0
    )
    uniform = 1.0 / num_classes
    top = int(counts.argmax())
    missing = [names[i] for i in range(num_classes) if shares[i] < MIN_SHARE_RATIO * uniform]
    reasons = []
    if entropy < MIN_ENTROPY:
        reasons.append(f"normalised entropy {entropy:.2f} (< {MIN_ENTROPY}; 1.0 is uniform)")
    if shares[top] > MAX_SHARE_RATIO * uniform:
        reasons.append(
            f"class {names[top]!r} is {shares[top]:.0%} of the samples "
            f"({shares[top] / uniform:.1f}x its uniform share {uniform:.0%})"
        )
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10]) + (", ..." if len(missing) > 10 else "")
        reasons.append(f"{len(missing)} of {num_classes} classes (almost) never generated: {shown}")
    warning = None
    if reasons and num_classes > 1:
        warning = (
            "Mode collapse suspected: the samples' classes (by the scorer) are far from uniform: "
            + "; ".join(reasons)
            + ". Train longer, lower the learning rates, or try wgan_gp."
        )
    return {
        "classes": names,
        "counts": [int(c) for c in counts],
        "shares": [round(float(s), 5) for s in shares],
        "normalised_entropy": round(entropy, 5),
        "largest": {"class": names[top], "share": round(float(shares[top]), 5)},
        "missing": missing,
        "mode_collapse": warning is not None,
        "warning": warning,
    }
