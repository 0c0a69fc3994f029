"""Adversarial robustness: FGSM/PGD attacks, robust accuracy curves, adversarial training.

Example:
    >>> import torch
    >>> from deepfuse.adversarial import robust_accuracy
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> x, y = torch.rand(16, 1, 2, 2), torch.randint(0, 2, (16,))
    >>> sorted(robust_accuracy(net, (x, y), [0.0, 0.1]))
    [0.0, 0.1]
"""

from deepfuse.adversarial.attacks import ATTACKS, fgsm, pgd, robust_accuracy
from deepfuse.adversarial.training import AdversarialTraining

__all__ = ["ATTACKS", "AdversarialTraining", "fgsm", "pgd", "robust_accuracy"]
