"""Loss modules: thin ``nn.Module`` wrappers over :mod:`deepfuse.losses.functional`.

Each class stores its constructor arguments (``get_config()`` returns them, JSON-able) and its
``forward(outputs, target)`` is one call into the functional form. Classification losses carry
``from_logits`` and ``as_logits()``: a model that strips its final softmax/sigmoid swaps its loss
for ``loss.as_logits()``, which is the numerically stable fused version.

Example:
    >>> import torch
    >>> loss = SparseCategoricalCrossentropy()          # Keras default: probabilities
    >>> loss.from_logits, loss.as_logits().from_logits
    (False, True)
    >>> float(Huber(delta=2.0)(torch.tensor([0.0]), torch.tensor([1.0])))
    0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from deepfuse._utils.errors import ConfigError, DataError, format_message, invalid_choice
from deepfuse.losses import functional as LF

__all__ = [
    "BinaryCrossEntropy",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CrossEntropy",
    "Huber",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
]

_REDUCTIONS = ("mean", "sum", "none")


class Loss(nn.Module):
    """Base class: stores ``reduction`` and provides ``get_config`` / ``from_config``.

    Subclasses set ``name`` (their registry name) and list their constructor arguments in
    ``_config_keys``.
    """

    name: ClassVar[str] = "loss"
    _config_keys: ClassVar[tuple[str, ...]] = ("reduction",)

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise invalid_choice(f"reduction for loss '{self.name}'", reduction, _REDUCTIONS)
        self.reduction = reduction

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-able dict (``type(self)(**cfg)`` rebuilds the loss)."""
        return {key: _jsonable(getattr(self, key)) for key in self._config_keys}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """Rebuild a loss from :meth:`get_config`'s output."""
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


def _jsonable(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.tolist()
    return value


class MeanSquaredError(Loss):
    """Mean squared error. ``(N, 1)`` outputs against ``(N,)`` targets are squeezed, not broadcast.

    Example:
        >>> float(MeanSquaredError()(torch.tensor([[1.0], [3.0]]), torch.tensor([1.0, 1.0])))
        2.0
    """

    name = "mse"

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        return LF.mse(outputs, target, reduction=self.reduction)


class MeanAbsoluteError(Loss):
    """Mean absolute error (L1).

    Example:
        >>> float(MeanAbsoluteError()(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0])))
        1.0
    """

    name = "mae"

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        return LF.mae(outputs, target, reduction=self.reduction)


class Huber(Loss):
    """Huber loss with threshold ``delta`` (Keras ``Huber``, torch ``huber_loss``).

    Example:
        >>> float(Huber(delta=1.0)(torch.tensor([3.0]), torch.tensor([0.0])))
        2.5
    """

    name = "huber"
    _config_keys = ("delta", "reduction")

    def __init__(self, delta: float = 1.0, *, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if not delta > 0:
            raise ConfigError(
                format_message(
                    "Bad 'delta' for loss 'huber'.", expected="a positive float", got=delta
                )
            )
        self.delta = float(delta)

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        return LF.huber(outputs, target, delta=self.delta, reduction=self.reduction)


class _Classification(Loss):
    """Shared ``from_logits`` / ``expects`` / ``as_logits`` of the classification losses."""

    from_logits: bool

    @property
    def expects(self) -> str:
        """``"logits"`` or ``"probabilities"``: what ``forward`` expects as ``outputs``."""
        return "logits" if self.from_logits else "probabilities"

    def as_logits(self) -> _Classification:
        """The same loss taking logits (for a model that fused its final softmax/sigmoid).

        Example:
            >>> BinaryCrossentropy().as_logits()
            BinaryCrossentropy(from_logits=True, pos_weight=None, label_smoothing=0.0, reduction='mean')
        """
        if self.from_logits:
            return self
        return type(self)(**{**self.get_config(), "from_logits": True})


def _weights(name: str, key: str, value: Any) -> Tensor:
    """``value`` (a number or a flat/nested list of numbers, each finite and >= 0) as a tensor.

    Anything else (``pos_weight: abc``, ``[1, "x"]``, ``-1``) is a one-line ConfigError.
    """
    items = value.tolist() if hasattr(value, "tolist") else value  # tensor, numpy
    items = items if isinstance(items, list | tuple) else [items]
    flat: list[Any] = []
    while items:
        head, *items = items
        if isinstance(head, list | tuple):
            items = [*head, *items]
        else:
            flat.append(head)
    good = all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < float("inf")
        for v in flat
    )
    if not good or not flat:
        shown = value if len(repr(value)) <= 60 else f"{repr(value)[:60]}..."
        raise ConfigError(
            format_message(
                f"Bad {key!r} for loss '{name}'.",
                expected="a finite number >= 0 (or a list of them)",
                got=shown,
                fix=f"e.g. {key}: 2.0",
            )
        )
    return torch.as_tensor(value, dtype=torch.float32).detach().clone()


def _check_smoothing(name: str, value: float) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not 0.0 <= value <= 1.0:
        raise ConfigError(
            format_message(
                f"Bad 'label_smoothing' for loss '{name}'.", expected="a float in [0, 1]", got=value
            )
        )
    return float(value)


class CrossEntropy(_Classification):
    """Multi-class cross-entropy; logits by default. See :func:`~deepfuse.losses.functional.cross_entropy`.

    Targets may be class indices ``(N,)`` or one-hot/soft rows ``(N, C)``.

    Example:
        >>> loss = CrossEntropy(label_smoothing=0.1, class_weights=[1.0, 2.0])
        >>> loss(torch.zeros(4, 2), torch.tensor([0, 1, 1, 0])).shape
        torch.Size([])
    """

    name = "cross_entropy"
    _config_keys = ("from_logits", "label_smoothing", "class_weights", "ignore_index", "reduction")
    _default_from_logits: ClassVar[bool] = True

    def __init__(
        self,
        *,
        from_logits: bool | None = None,
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=reduction)
        self.from_logits = self._default_from_logits if from_logits is None else bool(from_logits)
        self.label_smoothing = _check_smoothing(self.name, label_smoothing)
        self.ignore_index = int(ignore_index)
        weights = None
        if class_weights is not None:
            weights = _weights(self.name, "class_weights", class_weights)
            if weights.dim() != 1:
                raise ConfigError(
                    format_message(
                        f"Bad 'class_weights' for loss '{self.name}'.",
                        expected="one weight per class (a flat list)",
                        got=class_weights,
                    )
                )
        # A buffer follows .to(device) with the model; None is allowed (and stays None).
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        return LF.cross_entropy(
            outputs,
            target,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            class_weights=self.class_weights,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class SparseCategoricalCrossentropy(CrossEntropy):
    """Keras alias: class-index targets, **probabilities** by default (``from_logits=False``).

    Example:
        >>> p = torch.tensor([[0.9, 0.1]])
        >>> round(float(SparseCategoricalCrossentropy()(p, torch.tensor([0]))), 4)
        0.1054
    """

    name = "sparse_categorical_crossentropy"
    _default_from_logits = False


class CategoricalCrossentropy(CrossEntropy):
    """Keras alias: one-hot targets ``(N, C)``, **probabilities** by default (``from_logits=False``).

    Example:
        >>> p = torch.tensor([[0.9, 0.1]])
        >>> round(float(CategoricalCrossentropy()(p, torch.tensor([[1.0, 0.0]]))), 4)
        0.1054
    """

    name = "categorical_crossentropy"
    _default_from_logits = False

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        if target.shape != outputs.shape:
            raise DataError(
                format_message(
                    f"Loss 'categorical_crossentropy' needs one-hot targets shaped like the outputs "
                    f"{tuple(outputs.shape)}; got a target of shape {tuple(target.shape)}.",
                    fix="Use loss='sparse_categorical_crossentropy' for integer class labels.",
                )
            )
        return super().forward(outputs, target)


class BinaryCrossEntropy(_Classification):
    """Binary cross-entropy; logits by default. See :func:`~deepfuse.losses.functional.binary_cross_entropy`.

    Example:
        >>> loss = BinaryCrossEntropy(pos_weight=2.0)
        >>> round(float(loss(torch.zeros(2, 1), torch.tensor([1.0, 0.0]))), 4)
        1.0397
    """

    name = "binary_cross_entropy"
    _config_keys = ("from_logits", "pos_weight", "label_smoothing", "reduction")
    _default_from_logits: ClassVar[bool] = True

    def __init__(
        self,
        *,
        from_logits: bool | None = None,
        pos_weight: float | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=reduction)
        self.from_logits = self._default_from_logits if from_logits is None else bool(from_logits)
        self.label_smoothing = _check_smoothing(self.name, label_smoothing)
        weight = None
        if pos_weight is not None:
            weight = _weights(self.name, "pos_weight", pos_weight)
        self.register_buffer("pos_weight", weight, persistent=False)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if isinstance(config["pos_weight"], list) and len(config["pos_weight"]) == 1:
            config["pos_weight"] = config["pos_weight"][0]
        return config

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        return LF.binary_cross_entropy(
            outputs,
            target,
            from_logits=self.from_logits,
            pos_weight=self.pos_weight,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
        )


class BinaryCrossentropy(BinaryCrossEntropy):
    """Keras alias: binary cross-entropy on **probabilities** by default (``from_logits=False``).

    Example:
        >>> round(float(BinaryCrossentropy()(torch.tensor([0.5]), torch.tensor([1.0]))), 4)
        0.6931
    """

    name = "binary_crossentropy"
    _default_from_logits = False
