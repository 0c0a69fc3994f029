"""Training: the loop (:class:`Trainer`), callbacks, optimizers and learning-rate schedules."""

from deepfuse.training.trainer import Trainer

__all__ = ["Trainer"]
