"""Model zoo: ready-made architectures by name, built from JSON-able keyword arguments.

A zoo model is a plain ``nn.Module`` of deepfuse layers that outputs logits; it records
``zoo_name`` and ``zoo_config`` so saving it is ``name + kwargs + state_dict``.

Example:
    >>> import torch
    >>> from deepfuse.models import zoo
    >>> zoo.names()
    ['autoencoder', 'bag', 'cnn', 'dcgan', 'mlp', 'tabular', 'text', 'vae', 'wgan_gp']
    >>> model = zoo.get("mlp", hidden=[64], out_features=10, input_shape=[784])
    >>> model(torch.zeros(2, 784)).shape
    torch.Size([2, 10])
    >>> model.zoo_config["hidden"]
    [64]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from deepfuse._utils.errors import ConfigError, did_you_mean
from deepfuse._utils.registry import Registry
from deepfuse.models.zoo.autoencoder import autoencoder, vae
from deepfuse.models.zoo.bag import RECIPE as BAG_RECIPE
from deepfuse.models.zoo.bag import bag
from deepfuse.models.zoo.gan import dcgan, wgan_gp
from deepfuse.models.zoo.tabular import tabular
from deepfuse.models.zoo.text import text
from deepfuse.models.zoo.vision import cnn, mlp

__all__ = [
    "MODELS",
    "RECIPES",
    "autoencoder",
    "bag",
    "cnn",
    "dcgan",
    "get",
    "mlp",
    "names",
    "register",
    "tabular",
    "text",
    "vae",
    "wgan_gp",
]

#: Zoo model names (exact: they are recorded as ``zoo_name``) -> builders (JSON-able keyword
#: arguments -> ``nn.Module``); a builder's parameters are the ``model:`` keys of a config.
MODELS: Registry[Callable[..., nn.Module]] = Registry("zoo model", normalize=None)
MODELS.register("mlp", mlp)
MODELS.register("cnn", cnn)
MODELS.register("text", text)
MODELS.register("tabular", tabular)
MODELS.register("bag", bag)
MODELS.register("dcgan", dcgan)  # GANs: Model subclasses with their own train_step
MODELS.register("wgan_gp", wgan_gp)
MODELS.register("autoencoder", autoencoder)  # autoencoders and VAEs: the same, reconstructing
MODELS.register("vae", vae)

#: Measured training recipes of the families whose good settings differ from the generic
#: ``auto`` ones (:mod:`deepfuse.models.auto_defaults`): ``{"optimizer": {"name", "lr"},
#: "batch_size", "max_epochs", "patience"}``, each measured (bench/results/), not assumed.
RECIPES: dict[str, dict[str, Any]] = {"bag": BAG_RECIPE}


def names() -> list[str]:
    """Names accepted by :func:`get`.

    Example:
        >>> names() == MODELS.names()
        True
    """
    return MODELS.names()


def register(name: str, builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Add a builder (JSON-able kwargs -> ``nn.Module``) under ``name``; returns ``builder``.

    Registering a name again replaces its builder (here with itself: the zoo stays as shipped).

    Example:
        >>> register("mlp", mlp) is mlp is MODELS.get("mlp")
        True
    """
    return MODELS.register(name, builder)


def get(name: str, **kwargs: Any) -> nn.Module:
    """Build the zoo model ``name`` with keyword arguments ``kwargs``.

    Raises:
        ConfigError: unknown name, unknown argument, or a bad value (the message names it).

    Example:
        >>> get("cnn", filters=[32, 64], dense=[], dropout=0.5).zoo_name
        'cnn'
    """
    builder = MODELS.get(name)  # unknown: ConfigError with the names and a did-you-mean
    params = inspect.signature(builder).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        for key in kwargs:
            if key not in params:
                raise ConfigError(
                    f"Unknown argument '{key}' for zoo model '{name}'. Allowed: "
                    f"{', '.join(params)}.{did_you_mean(key, params)}"
                )
        missing = [k for k, p in params.items() if p.default is p.empty and k not in kwargs]
        if missing:
            raise ConfigError(f"Zoo model '{name}' needs the argument(s) {', '.join(missing)}.")
    module = builder(**kwargs)
    if not hasattr(module, "zoo_name"):
        module.zoo_name, module.zoo_config = name, dict(kwargs)
    return module
