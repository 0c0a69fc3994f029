"""Merge layers: combine a list of tensors (Keras ``Add()([a, b])``, ``concatenate([a, b])``).

Each layer's ``forward`` takes one list of tensors. The lowercase functions (``add``,
``concatenate`` ...) build the layer and call it on the list, so they work on tensors and, with
the functional API, on ``keras.Input`` tensors. ``Concatenate``'s axis is Keras' axis: on 4-D
image tensors ``-1`` means channels (torch axis 1); ``data_format="channels_first"`` reads it
as torch does.

Example:
    >>> import torch
    >>> from deepfuse.layers import Add, concatenate
    >>> a, b = torch.ones(2, 3), torch.full((2, 3), 2.0)
    >>> Add()([a, b]).tolist()
    [[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]
    >>> concatenate([a, b]).shape
    torch.Size([2, 6])
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers.base import Layer, check_choice
from deepfuse.layers.keras_api import keras_axis

__all__ = [
    "Add",
    "Average",
    "Concatenate",
    "Dot",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]


class _Merge(Layer):
    """Element-wise merge of two or more tensors of the same shape (batch may broadcast)."""

    min_inputs = 2
    max_inputs: int | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.built = True

    def _inputs(self, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        cls = type(self).__name__
        if isinstance(inputs, torch.Tensor) or not isinstance(inputs, list | tuple):
            raise DataError(
                f"{cls} '{self.name}' takes a list of tensors, e.g. {cls}()([a, b]); got "
                f"{type(inputs).__name__}."
            )
        n = len(inputs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            count = (
                self.min_inputs
                if self.max_inputs == self.min_inputs
                else f"at least {self.min_inputs}"
            )
            raise DataError(f"{cls} '{self.name}' takes {count} tensors; got {n}.")
        return list(inputs)

    def _check_same(self, tensors: list[torch.Tensor]) -> None:
        shapes = [tuple(t.shape) for t in tensors]
        if len({s[1:] for s in shapes}) > 1 or len({s[0] for s in shapes} - {1}) > 1:
            raise DataError(
                f"{type(self).__name__} '{self.name}' needs inputs of the same shape; got "
                f"{', '.join(map(str, shapes))}."
            )

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        tensors = self._inputs(inputs)
        self._check_same(tensors)
        return self._merge(tensors)

    def _merge(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError


class Add(_Merge):
    """Sum of the inputs.

    Example:
        >>> import torch
        >>> Add()([torch.ones(1, 2), torch.ones(1, 2), torch.ones(1, 2)]).tolist()
        [[3.0, 3.0]]
    """

    def _merge(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return functools.reduce(torch.add, tensors)


class Subtract(_Merge):
    """``a - b`` of exactly two inputs.

    Example:
        >>> import torch
        >>> Subtract()([torch.ones(1, 2), torch.ones(1, 2)]).tolist()
        [[0.0, 0.0]]
    """

    max_inputs = 2

    def _merge(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return tensors[0] - tensors[1]


class Multiply(_Merge):
    """Element-wise product of the inputs.

    Example:
        >>> import torch
        >>> Multiply()([torch.full((1, 2), 2.0), torch.full((1, 2), 3.0)]).tolist()
        [[6.0, 6.0]]
    """

    def _merge(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return functools.reduce(torch.mul, tensors)


class Average(_Merge):
    """Element-wise mean of the inputs.

    Example:
        >>> import torch
        >>> Average()([torch.zeros(1, 2), torch.full((1, 2), 2.0)]).tolist()
        [[1.0, 1.0]]
    """

    def _merge(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return functools.reduce(torch.add, tensors) / len(tensors)


class Maximum(_Merge):
    """Element-wise maximum of the inputs.

    Example:
        >>> import torch
        >>> Maximum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])]).tolist()
        [[3.0, 5.0]]
    """

    def _merge(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return functools.reduce(torch.maximum, tensors)


class Minimum(_Merge):
    """Element-wise minimum of the inputs.

    Example:
        >>> import torch
        >>> Minimum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])]).tolist()
        [[1.0, 2.0]]
    """

    def _merge(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return functools.reduce(torch.minimum, tensors)


class Concatenate(_Merge):
    """Concatenate along Keras' ``axis`` (default -1: features, or channels of NCHW images).

    Example:
        >>> import torch
        >>> Concatenate()([torch.zeros(2, 3, 4, 4), torch.zeros(2, 5, 4, 4)]).shape
        torch.Size([2, 8, 4, 4])
        >>> Concatenate(axis=1)([torch.zeros(2, 3, 4), torch.zeros(2, 1, 4)]).shape
        torch.Size([2, 4, 4])
    """

    def __init__(self, axis: int = -1, data_format: str = "channels_last", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"The 'axis' argument of Concatenate must be an int; got {axis!r}.")
        self.axis = axis
        self.data_format = check_choice(
            "Concatenate", "data_format", data_format, ("channels_last", "channels_first")
        )

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        tensors = self._inputs(inputs)
        ndim = tensors[0].dim()
        shapes = [tuple(t.shape) for t in tensors]
        axis = keras_axis(self.axis, ndim, self.data_format == "channels_last")
        if (
            any(len(s) != ndim for s in shapes)
            or len({s[:axis] + s[axis + 1 :] for s in shapes}) > 1
        ):
            raise DataError(
                f"Concatenate '{self.name}' (axis={self.axis}, torch axis {axis}) needs inputs "
                f"that match on every other axis; got {', '.join(map(str, shapes))}."
            )
        return torch.cat(tensors, axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "data_format": self.data_format}


class Dot(_Merge):
    """Dot product of two ``(N, ...)`` tensors along ``axes`` (Keras ``batch_dot``).

    Args:
        axes: int, or a pair (one axis of each input); axes count from 1 (0 is the batch).
        normalize: L2-normalise along the axes first (the result is cosine similarity).

    Example:
        >>> import torch
        >>> Dot(axes=1)([torch.ones(2, 3), torch.ones(2, 3)]).tolist()
        [[3.0], [3.0]]
        >>> Dot(axes=(2, 2))([torch.ones(2, 4, 3), torch.ones(2, 5, 3)]).shape
        torch.Size([2, 4, 5])
    """

    min_inputs = max_inputs = 2

    def __init__(self, axes: int | Sequence[int], normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pair = (axes, axes) if isinstance(axes, int) else tuple(axes)
        if len(pair) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in pair):
            raise ConfigError(
                f"The 'axes' argument of Dot must be an int or two ints; got {axes!r}."
            )
        self.axes = pair
        self.normalize = bool(normalize)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        a, b = self._inputs(inputs)
        if a.dim() not in (2, 3) or b.dim() not in (2, 3):
            raise DataError(
                f"Dot '{self.name}' takes 2-D or 3-D inputs; got {tuple(a.shape)} and "
                f"{tuple(b.shape)}."
            )
        ia, ib = self.axes[0] % a.dim(), self.axes[1] % b.dim()
        if ia == 0 or ib == 0 or a.shape[ia] != b.shape[ib]:
            raise DataError(
                f"Dot '{self.name}' (axes={list(self.axes)}) needs equal sizes on non-batch axes; "
                f"got {tuple(a.shape)} and {tuple(b.shape)}."
            )
        if self.normalize:
            a, b = F.normalize(a, dim=ia), F.normalize(b, dim=ib)
        # Move the contracted axis last on `a` and first (after batch) on `b`, then bmm.
        a3 = a.unsqueeze(-1 if ia == 1 else 1) if a.dim() == 2 else a
        b3 = b.unsqueeze(-1 if ib == 1 else 1) if b.dim() == 2 else b
        ia3, ib3 = (1 if ia == 1 else 2), (1 if ib == 1 else 2)
        a3 = a3.transpose(1, 2) if ia3 == 1 else a3  # (N, m, k)
        b3 = b3 if ib3 == 1 else b3.transpose(1, 2)  # (N, k, n)
        out = torch.bmm(a3, b3)
        # Drop the axes the 2-D inputs gained, keep Keras' (N, 1) for two vectors.
        if a.dim() == 2 and b.dim() == 2:
            return out.reshape(out.shape[0], 1)
        if a.dim() == 2:
            return out.squeeze(1)
        if b.dim() == 2:
            return out.squeeze(2)
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


def _functional(cls: type[_Merge], doc: str) -> Any:
    def merge(inputs: Sequence[Any], **kwargs: Any) -> Any:
        return cls(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = cls.__name__.lower()
    merge.__doc__ = (
        f"{doc} ``{cls.__name__}(**kwargs)(inputs)``; works on tensors and ``keras.Input``s.\n\n"
        f"    Example:\n        >>> import torch\n        >>> {cls.__name__.lower()}("
        f"[torch.ones(1, 2), torch.ones(1, 2)]{', axes=1' if cls is Dot else ''}).shape\n"
        f"        torch.Size([1, {1 if cls is Dot else 4 if cls is Concatenate else 2}])\n"
    )
    return merge


add = _functional(Add, "Sum of a list of tensors:")
subtract = _functional(Subtract, "Difference of two tensors:")
multiply = _functional(Multiply, "Element-wise product:")
average = _functional(Average, "Element-wise mean:")
maximum = _functional(Maximum, "Element-wise maximum:")
minimum = _functional(Minimum, "Element-wise minimum:")
concatenate = _functional(Concatenate, "Concatenation along Keras' axis:")
dot = _functional(Dot, "Dot product along axes:")
