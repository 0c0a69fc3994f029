"""The data-route protocol: one class per kind of data, picked from the config's ``data`` section.

A :class:`DataRoute` turns a resolved ``data`` section into what the verbs need:

* :meth:`~DataRoute.prepare` - train / validation / test feeds plus the fitted preprocessing
  (a :class:`Prepared`), for ``train``;
* :meth:`~DataRoute.test_feed` - the same test rows again, through a run's saved preprocessing,
  for ``evaluate``, ``explain``, ``attack`` and the report;
* :meth:`~DataRoute.load_input` - raw rows of a user's file as model inputs, for ``predict`` and
  ``evaluate --data``;
* :meth:`~DataRoute.fold_rows` - the training rows held in memory, cut into folds by ``cv``.

:func:`route_for` asks each registered class, in order, whether it :meth:`~DataRoute.matches`
the section; a new kind of data is a new class passed to :func:`register_route`, not a branch.

Example:
    >>> route_for({"dataset": "mnist"}).name, route_for({"dataset": "adult"}).name
    ('builtin_images', 'builtin_table')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from deepfuse._utils.errors import ConfigError, invalid_choice

__all__ = [
    "ROUTES",
    "DataRoute",
    "FoldRows",
    "Prepared",
    "data_kinds",
    "register_route",
    "route_for",
    "test_feed_of",
]


@dataclass
class Prepared:
    """Everything training needs from the data section.

    Attributes:
        kind: ``"image"`` (arrays, keys ``x``/``y``) or ``"table"`` (Preprocessor output).
        train, val, test: Tensor dicts holding the inputs and the target (``val`` may be None),
            or lazy batch streams (the streamed route).
        target: The key of the target in those dicts.
        task: ``"multiclass"``, ``"binary"`` or ``"regression"``.
        classes: Original class labels by index (``None`` for regression).
        preprocessor: The fitted Preprocessor (tables only).
        features: Resolved feature types ``{column: type}`` (written to config.yaml).
        rows: Rows per split ``{"train", "validation", "test"}``; set by the streamed route,
            whose splits are lazy batch streams rather than tensors.
        raw: The raw rows of each split before preprocessing (``{"train", "val", "test"}`` ->
            pyarrow Table; ``val`` may be None), for routes that hold them in memory: the
            scikit-learn baselines are fitted on exactly these rows. ``None`` elsewhere.
    """

    kind: str
    train: Any
    val: Any
    test: Any
    target: str
    task: str
    classes: list[Any] | None
    preprocessor: Any = None
    features: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] | None = None
    raw: dict[str, Any] | None = None

    @property
    def streaming(self) -> bool:
        """True when the splits are lazy batch streams."""
        return self.rows is not None

    @property
    def num_classes(self) -> int:
        """Number of classes (1 for regression)."""
        return len(self.classes) if self.classes else 1


class FoldRows(ABC):
    """The training rows of a config in memory, for k-fold cross-validation.

    Attributes:
        labels: ``(N,)`` targets, to cut stratified folds.
        stratified: Whether folds are stratified by class (not for a regression target).
    """

    labels: np.ndarray
    stratified: bool = True

    @property
    def num_rows(self) -> int:
        """Number of rows the folds are cut from."""
        return len(self.labels)

    @abstractmethod
    def prepared(self, train_idx: np.ndarray, test_idx: np.ndarray, seed: int) -> Prepared:
        """One fold as :meth:`DataRoute.prepare` would give it (validation rows included)."""


class DataRoute(ABC):
    """One kind of data, from the ``data`` section to feeds. Subclasses set :attr:`name`.

    Attributes:
        name: The route's name (``deepfuse info`` and the docs name routes by it).
        by_kind: Whether ``data.kind: <name>`` selects the route (a kind that cannot be told
            from the section alone, such as a folder of images); config validation accepts
            the names of these routes (:func:`data_kinds`).
        own_keys: ``data`` keys that only this route takes (``image_size``): config validation
            refuses them under another ``data.kind`` (they must be in ``config.DATA_KEYS``).
        refused_keys: ``data`` keys this route does not take, with the reason config
            validation gives (``{"target": "the classes are the subfolders"}``).
    """

    name: ClassVar[str]
    by_kind: ClassVar[bool] = False
    own_keys: ClassVar[tuple[str, ...]] = ()
    refused_keys: ClassVar[Mapping[str, str]] = {}

    @classmethod
    @abstractmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        """Whether this route serves the resolved ``data`` section."""

    @abstractmethod
    def prepare(self, data: Mapping[str, Any], *, seed: int, batch_size: int) -> Prepared:
        """Load, split and preprocess the data for training.

        Args:
            data: The resolved ``data`` section.
            seed: Seed of the held-out splits (and of a streamed shuffle).
            batch_size: Rows per batch (streamed splits only).

        Raises:
            DataError: Missing file, unknown target column, bad values, no rows.
        """

    @abstractmethod
    def test_feed(
        self, data: Mapping[str, Any], *, seed: int, preprocessor: Any, batch_size: int = 1024
    ) -> Any:
        """The test rows of a run (the same rows as at training time) as model inputs."""

    @abstractmethod
    def load_input(self, table: Any, model: Any, *, need_target: bool, source: str) -> Any:
        """Raw rows (a pyarrow table) as inputs of ``model`` (its ``preprocessor``,
        ``target_key`` and ``input_spec``), with the target when ``need_target``."""

    def fold_rows(self, data: Mapping[str, Any]) -> FoldRows:
        """The training rows in memory, for ``cv``; routes that cannot hold them say so."""
        raise ConfigError(
            f"'deepfuse cv' holds the training rows in memory; the {self.name} route cannot."
        )


#: Registered routes, asked in order by :func:`route_for` (the first that matches serves).
ROUTES: list[type[DataRoute]] = []


def register_route(
    cls: type[DataRoute] | None = None, *, before: type[DataRoute] | None = None
) -> Any:
    """Add a route class; ``before`` puts it ahead of a route it is a special case of.

    Used as ``@register_route`` or ``@register_route(before=OtherRoute)``; returns the class.
    """

    def add(route: type[DataRoute]) -> type[DataRoute]:
        if route not in ROUTES:
            ROUTES.insert(ROUTES.index(before) if before in ROUTES else len(ROUTES), route)
        return route

    return add if cls is None else add(cls)


def data_kinds() -> dict[str, type[DataRoute]]:
    """The values ``data.kind`` takes: the routes selected by it (:attr:`DataRoute.by_kind`),
    by name.

    Example:
        >>> list(data_kinds())
        ['image_folder', 'text_folder']
    """
    return {cls.name: cls for cls in ROUTES if cls.by_kind}


def route_for(data: Mapping[str, Any]) -> DataRoute:
    """The route serving the resolved ``data`` section.

    Raises:
        ConfigError: No registered route serves it, or ``data.kind`` names no route.
    """
    kind = data.get("kind")
    if kind is not None and (not isinstance(kind, str) or kind not in data_kinds()):
        raise invalid_choice("data.kind", kind, data_kinds())
    for cls in ROUTES:
        if cls.matches(data):
            return cls()
    raise ConfigError(
        "No data route serves this 'data' section. Set 'data.dataset' (a built-in dataset) "
        "or 'data.train' and 'data.target' (your own files)."
    )


def test_feed_of(cfg: Mapping[str, Any], *, preprocessor: Any, batch_size: int = 1024) -> Any:
    """The test rows of a finished run, from its ``config.yaml`` (its data route and seed).

    Example:
        >>> test_feed_of({"data": {"dataset": "mnist"}}, preprocessor=None)["x"].shape
        torch.Size([10000, 1, 28, 28])
    """
    seed = (cfg.get("trainer") or {}).get("seed")
    data = cfg["data"]
    return route_for(data).test_feed(
        data, seed=seed if seed is not None else 0, preprocessor=preprocessor, batch_size=batch_size
    )
