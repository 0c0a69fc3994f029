"""Keras' variable methods (``assign``, ``assign_add``, ``assign_sub``, ``numpy``, ``value``) for
tensors: one mixin shared by metric state (``deepfuse.metrics``) and layer weights made by
``Layer.add_weight``. torch is imported inside the methods, so loading this module stays torch-free.

Example:
    >>> import torch
    >>> class V(KerasVariable, torch.Tensor): pass
    >>> v = torch.zeros(2).as_subclass(V)
    >>> v.assign_add([1.0, 2.0]).assign_sub(1.0).numpy().tolist()
    [0.0, 1.0]
"""

from __future__ import annotations

from typing import Any

__all__ = ["KerasVariable"]


class KerasVariable:
    """In-place Keras updates on a tensor subclass; gradients never flow through them."""

    def _value(self, value: Any) -> Any:
        import numpy as np
        import torch

        tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
        return tensor.detach().to(device=self.device, dtype=self.dtype)  # type: ignore[attr-defined]

    def assign(self, value: Any) -> Any:
        """Set every element to ``value`` (broadcast)."""
        import torch

        with torch.no_grad():
            self.copy_(self._value(value))  # type: ignore[attr-defined]
        return self

    def assign_add(self, value: Any) -> Any:
        """Add ``value`` in place."""
        import torch

        with torch.no_grad():
            self.add_(self._value(value))  # type: ignore[attr-defined]
        return self

    def assign_sub(self, value: Any) -> Any:
        """Subtract ``value`` in place."""
        import torch

        with torch.no_grad():
            self.sub_(self._value(value))  # type: ignore[attr-defined]
        return self

    def numpy(self) -> Any:
        """The values as a numpy array (Keras' ``variable.numpy()``; no gradient attached)."""
        import torch

        # torch.Tensor.numpy by name: on a tensor subclass detach() keeps the subclass
        return torch.Tensor.numpy(self.detach().cpu())  # type: ignore[attr-defined]

    @property
    def value(self) -> Any:
        """The tensor itself (Keras' ``variable.value``, so ``v.value.grad`` reads its gradient)."""
        return self
