"""Tasks: what a run learns (``task:`` in a config); see :mod:`deepfuse.api.tasks.base`.

=============  ==============================================================
task           learns
=============  ==============================================================
``auto``       the data's target: binary, multiclass or regression (default)
``generate``   to draw new images like the training images (GANs, VAEs)
``anomaly``    what normal rows look like; flags the others (reconstruction error)
=============  ==============================================================

Example:
    >>> from deepfuse.api.tasks import TASKS
    >>> "auto" in TASKS.names()
    True
"""

from __future__ import annotations

from deepfuse.api.tasks.anomaly import Anomaly
from deepfuse.api.tasks.base import TASKS, Task, register_task, task_for, task_options
from deepfuse.api.tasks.generate import Generate
from deepfuse.api.tasks.supervised import Supervised

__all__ = [
    "TASKS",
    "Anomaly",
    "Generate",
    "Supervised",
    "Task",
    "register_task",
    "task_for",
    "task_options",
    "task_signatures",
]


def task_signatures() -> dict[str, type[Task]]:
    """Task names -> classes, for config validation (``task: {name: ..., option: ...}`` is
    checked against the class's ``__init__``)."""
    return {name: TASKS.get(name) for name in TASKS.names()}
