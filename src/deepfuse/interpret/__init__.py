"""Interpretation: which inputs a model's decision depends on.

* :func:`saliency`, :func:`integrated_gradients` — per-pixel / per-feature attributions.
* :func:`token_attributions` — per-token scores for text models (through the first embedding).
* :func:`permutation_importance` — raw table columns ranked by the score drop when shuffled.
* :func:`attribute` — one entry point; ``method="captum:<Name>"`` delegates to Captum
  (``pip install 'deepfuse[interpret]'``).

Example:
    >>> import torch
    >>> from deepfuse.interpret import attribute
    >>> net = torch.nn.Linear(3, 2)
    >>> attribute(net, torch.ones(2, 3), method="saliency", target=0).shape
    torch.Size([2, 3])
"""

from deepfuse.interpret.api import METHODS, attribute
from deepfuse.interpret.gradients import integrated_gradients, saliency
from deepfuse.interpret.permutation import PermutationImportance, permutation_importance
from deepfuse.interpret.text import token_attributions

__all__ = [
    "METHODS",
    "PermutationImportance",
    "attribute",
    "integrated_gradients",
    "permutation_importance",
    "saliency",
    "token_attributions",
]
