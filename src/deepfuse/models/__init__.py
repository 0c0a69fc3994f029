"""Models: :class:`Model` (wraps any ``nn.Module``), :class:`Sequential`, save/load, the zoo."""

from deepfuse.models.model import Model
from deepfuse.models.results import Scores
from deepfuse.models.sequential import Sequential
from deepfuse.models.serialization import load_model
from deepfuse.training.callbacks.base import History  # the public name; one History

__all__ = ["History", "Model", "Scores", "Sequential", "build", "load_model"]


def build(name: str, **kwargs: object) -> Model:
    """Build a zoo model by name as a :class:`Model` that remembers how to rebuild itself.

    Example:
        >>> import deepfuse as df
        >>> model = df.models.build("mlp", hidden=[32], out_features=10)
        >>> model.architecture["name"]
        'mlp'
    """
    from deepfuse.models import zoo

    built = zoo.get(name, **kwargs)
    model = built if isinstance(built, Model) else Model(built, name=name)  # a GAN is a Model
    model.architecture = {"kind": "zoo", "name": name, "kwargs": dict(kwargs)}
    return model
