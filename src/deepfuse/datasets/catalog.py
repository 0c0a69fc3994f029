"""What a config's ``data.dataset`` may name: each built-in dataset once, with its metadata.

A :class:`BuiltinDataset` says how to load the data (its loader's keyword arguments are what
``data.dataset: {name: ..., **options}`` accepts), which kind of data it is (``"images"``:
``uint8`` arrays, or ``"table"``: pyarrow tables), the target column and the feature types of a
table, and the class names of an image set. The data routes (:mod:`deepfuse.data.routes`) and
config validation read this registry; nothing else lists the built-in datasets.

Example:
    >>> entry, options = builtin({"name": "imdb", "seed": 1})
    >>> entry.kind, entry.target, dict(entry.features), options
    ('table', 'sentiment', {'review': 'text'}, {'seed': 1})
    >>> builtin("fashion_mnist")[0].classes[:2]
    ('T-shirt/top', 'Trouser')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deepfuse._utils.registry import Registry
from deepfuse.datasets.adult import load_adult
from deepfuse.datasets.imdb import load_imdb
from deepfuse.datasets.mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist

__all__ = ["BUILTIN_DATASETS", "BuiltinDataset", "builtin"]


@dataclass(frozen=True)
class BuiltinDataset:
    """One built-in dataset.

    Attributes:
        name: The name ``data.dataset`` uses.
        load: ``load(**options) -> (train, test)``: arrays ``(x, y)`` for images, tables else.
        kind: ``"images"`` or ``"table"``.
        target: The target column of a table (``None`` for images: keys ``x``/``y``).
        features: Feature types a table's columns take (``data.features`` of own files).
        classes: Class labels by index of an image set.
    """

    name: str
    load: Callable[..., Any]
    kind: str
    target: str | None = None
    features: Mapping[str, str] = field(default_factory=dict)
    classes: tuple[Any, ...] | None = None


def _imdb(data_dir: str | os.PathLike | None = None, seed: int | None = 113) -> Any:
    train, test = load_imdb(data_dir, as_table=True, seed=seed)
    keep = ["review", "sentiment"]  # split/file_id/rating would leak or mean nothing
    return train.select(keep), test.select(keep)


#: Every built-in dataset by name. A new one is ``BUILTIN_DATASETS.register(name,
#: BuiltinDataset(name, ...))``; the route of its ``kind`` serves it. Names match as config
#: validation matches them (case, ``_`` and ``-`` aside): what ``validate`` accepts is served.
BUILTIN_DATASETS: Registry[BuiltinDataset] = Registry(
    "built-in dataset", normalize=lambda n: n.replace("_", "").replace("-", "").lower()
)
for _entry in (
    BuiltinDataset("mnist", load_mnist, "images", classes=tuple(range(10))),
    BuiltinDataset("fashion_mnist", load_fashion_mnist, "images", classes=FASHION_MNIST_CLASSES),
    BuiltinDataset("imdb", _imdb, "table", target="sentiment", features={"review": "text"}),
    BuiltinDataset("adult", load_adult, "table", target="income"),
):
    BUILTIN_DATASETS.register(_entry.name, _entry)
del _entry


def builtin(spec: Any) -> tuple[BuiltinDataset, dict[str, Any]]:
    """``(dataset, loader options)`` for ``data.dataset`` given as a name or ``{name, ...}``.

    Raises:
        ConfigError: No built-in dataset has that name (the message lists the allowed names
            and a did-you-mean).

    Example:
        >>> builtin("mnst")
        Traceback (most recent call last):
        ...
        deepfuse._utils.errors.ConfigError: Unknown built-in dataset 'mnst'. Allowed values: 'adult', 'fashion_mnist', 'imdb', 'mnist'. Did you mean 'mnist'?
    """
    if isinstance(spec, Mapping):
        name, options = str(spec["name"]), {k: v for k, v in spec.items() if k != "name"}
    else:
        name, options = str(spec), {}
    return BUILTIN_DATASETS.get(name), options
