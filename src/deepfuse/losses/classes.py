"""The loss base class and the torch-named losses (``CrossEntropy``, ``BinaryCrossEntropy``).

Every loss stores its constructor arguments (``get_config()`` returns them, JSON-able) and has
``compute(outputs, target)``: torch's order, the one deepfuse calls internally. Calling the object
follows the world its NAME comes from: the torch-named classes here are called torch's way,
``loss(input, target)``; the Keras-named ones (:mod:`deepfuse.losses.keras_classes`) Keras' way,
``loss(y_true, y_pred)``. Classification losses carry ``from_logits`` and ``as_logits()``: a model
that strips its final softmax/sigmoid swaps its loss for ``loss.as_logits()``, the numerically
stable fused version.

Example:
    >>> import torch
    >>> loss = CrossEntropy()                           # torch default: logits
    >>> loss.from_logits, loss.expects
    (True, 'logits')
    >>> round(float(loss(torch.tensor([[2.0, 0.0]]), torch.tensor([0]))), 4)   # (input, target)
    0.1269
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from deepfuse._utils.errors import ConfigError, format_message, invalid_choice
from deepfuse.losses import functional as LF

__all__ = ["BinaryCrossEntropy", "CrossEntropy", "Loss", "normalize_reduction", "weighted"]

# Every accepted spelling of ``reduction`` -> the stored one. Keras' names included:
# "sum_over_batch_size" (Keras 3's default) and "auto" (Keras 2's) are the mean, None is "none".
_REDUCTIONS = {
    "mean": "mean",
    "sum_over_batch_size": "mean",
    "auto": "mean",
    "sum": "sum",
    "none": "none",
    None: "none",
}


def normalize_reduction(reduction: str | None, loss: str) -> str:
    """``reduction`` in any accepted spelling -> ``"mean"``, ``"sum"`` or ``"none"``.

    Example:
        >>> normalize_reduction("sum_over_batch_size", "mse"), normalize_reduction(None, "mse")
        ('mean', 'none')
    """
    key = reduction.strip().lower() if isinstance(reduction, str) else reduction
    if key not in _REDUCTIONS:
        allowed = [k for k in _REDUCTIONS if k is not None] + ["None"]
        raise invalid_choice(f"reduction for loss '{loss}'", reduction, allowed)
    return _REDUCTIONS[key]


class Loss(nn.Module):
    """Base class: ``reduction``, ``compute``, ``get_config`` / ``from_config``.

    Subclasses set ``name`` (their registry name), list their constructor arguments in
    ``_config_keys`` and implement ``_loss(outputs, target, reduction)``. ``compute(outputs,
    target)`` (torch order) is what deepfuse's training and evaluation code calls; calling the
    object is torch's order here and Keras' in :class:`~deepfuse.losses.keras_classes.KerasLoss`.

    A Keras-style subclass that defines ``call(self, y_true, y_pred)`` (one value per sample) is
    Keras-world: called ``loss(y_true, y_pred, sample_weight=None)``, reduced as Keras
    (``"sum_over_batch_size"`` by default). ``name=`` and ``dtype=`` are accepted, as Keras'.

    Example:
        >>> import torch
        >>> class CustomMSE(Loss):
        ...     def __init__(self, factor=0.1, name="custom_mse"):
        ...         super().__init__(name=name)
        ...         self.factor = factor
        ...     def call(self, y_true, y_pred):
        ...         return ((y_true - y_pred) ** 2).mean(-1) + self.factor * y_pred.abs().mean(-1)
        >>> loss = CustomMSE()
        >>> loss.name, float(loss(torch.tensor([[1.0]]), torch.tensor([[3.0]])))
        ('custom_mse', 4.300000190734863)
        >>> float(loss.compute(torch.tensor([[3.0]]), torch.tensor([[1.0]])))  # torch order
        4.300000190734863
    """

    name: ClassVar[str] = "loss"
    _config_keys: ClassVar[tuple[str, ...]] = ("reduction",)
    _keras_call: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "call" in vars(cls):  # a user's Keras-style loss: Keras' order when called
            cls._keras_call = True
            cls.forward = _call_forward  # type: ignore[method-assign]

    def __init__(
        self, *, reduction: str | None = "mean", name: str | None = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.reduction = normalize_reduction(reduction, self.name)
        # ``dtype`` (Keras' compute dtype) is accepted and unused: losses compute in the inputs'
        # dtype. ``name`` renames only a user's Keras-style loss (deepfuse's name their class).
        if name is not None and self._keras_call:
            self.name = name  # type: ignore[misc]

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        if self._keras_call:
            return LF.reduce(self.call(target, outputs), reduction)  # type: ignore[attr-defined]
        if type(self).forward is not Loss.forward:  # a subclass written as forward(outputs, target)
            return self(outputs, target)
        raise NotImplementedError(f"{type(self).__name__} must implement _loss() or call().")

    def compute(self, outputs: Tensor, target: Tensor) -> Tensor:
        """The loss of ``outputs`` (predictions) against ``target``, in torch's order."""
        return self._loss(outputs, target, self.reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Torch's order ``loss(input, target)``, as ``torch.nn.CrossEntropyLoss``."""
        return self.compute(input, target)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-able dict (``type(self)(**cfg)`` rebuilds the loss)."""
        return {key: _jsonable(getattr(self, key)) for key in self._config_keys}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """Rebuild a loss from :meth:`get_config`'s output."""
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


def weighted(values: Tensor, sample_weight: Any, reduction: str) -> Tensor:
    """Keras' ``sample_weight``: per-sample ``values`` times one weight per sample, reduced."""
    weight = torch.as_tensor(sample_weight, dtype=values.dtype, device=values.device)
    while weight.dim() > values.dim() and weight.shape[-1] == 1:
        weight = weight.squeeze(-1)  # (N, 1) weights against (N,) losses
    weight = weight.reshape(weight.shape + (1,) * (values.dim() - weight.dim()))
    return LF.reduce(values * weight, reduction)


def _call_forward(self: Loss, y_true: Tensor, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
    """``forward`` of a user's Keras-style loss (one that defines ``call``): Keras' order."""
    if sample_weight is None:
        return self.compute(y_pred, y_true)
    return weighted(self.call(y_true, y_pred), sample_weight, self.reduction)  # type: ignore[attr-defined]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.tolist()
    return value


class _Classification(Loss):
    """Shared ``from_logits`` / ``expects`` / ``as_logits`` of the classification losses."""

    from_logits: bool

    @property
    def expects(self) -> str:
        """``"logits"`` or ``"probabilities"``: what the loss expects as predictions."""
        return "logits" if self.from_logits else "probabilities"

    def as_logits(self) -> _Classification:
        """The same loss taking logits (for a model that fused its final softmax/sigmoid).

        Example:
            >>> BinaryCrossEntropy(from_logits=False).as_logits()
            BinaryCrossEntropy(from_logits=True, pos_weight=None, label_smoothing=0.0, reduction='mean')
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
        reduction: str | None = "mean",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype)
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

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.cross_entropy(
            outputs,
            target,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            class_weights=self.class_weights,
            ignore_index=self.ignore_index,
            reduction=reduction,
        )


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
        reduction: str | None = "mean",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype)
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

    def _loss(self, outputs: Tensor, target: Tensor, reduction: str) -> Tensor:
        return LF.binary_cross_entropy(
            outputs,
            target,
            from_logits=self.from_logits,
            pos_weight=self.pos_weight,
            label_smoothing=self.label_smoothing,
            reduction=reduction,
        )
