"""Recurrent layers on batch-first sequences ``(N, T, F)``: SimpleRNN, LSTM, GRU.

Each wraps torch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (built lazily as ``self.rnn``) and
initialises it like Keras: glorot_uniform input kernels, orthogonal recurrent kernels, zero biases
and, for LSTM, a forget-gate bias of 1 (``unit_forget_bias``).

Output: ``(N, units * dirs)`` — the final hidden state; bidirectional layers concatenate the
forward and the backward final states, as Keras does — or ``(N, T, units * dirs)`` with
``return_sequences=True``. ``forward(x, lengths=None)``: with ``lengths`` (valid steps per
sample, right padding) padding never reaches the final state (computed exactly, without the
slow ``pack_padded_sequence`` path).

Example:
    >>> import torch
    >>> from deepfuse.layers import LSTM, Bidirectional
    >>> LSTM(16)(torch.zeros(4, 10, 8)).shape
    torch.Size([4, 16])
    >>> Bidirectional(LSTM(16, return_sequences=True))(torch.zeros(4, 10, 8)).shape
    torch.Size([4, 10, 32])
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.layers import initializers, regularizers
from deepfuse.layers.base import Layer, check_choice, check_positive_int, check_rate

__all__ = ["GRU", "LSTM", "Bidirectional", "SimpleRNN"]


class _Recurrent(Layer):
    expected_ndim = (3,)
    _torch_cls: type[nn.RNNBase] = nn.RNN
    _gates = 1

    def __init__(
        self,
        units: int,
        *,
        return_sequences: bool = False,
        bidirectional: bool = False,
        num_layers: int = 1,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.units = check_positive_int(cls, "units", units)
        self.return_sequences = bool(return_sequences)
        self.bidirectional = bool(bidirectional)
        self.num_layers = check_positive_int(cls, "num_layers", num_layers)
        self.dropout = check_rate(cls, "dropout", dropout)
        # Keras' recurrent_dropout masks the hidden state inside the cell at every step. torch's
        # fused RNN kernels have no such mask and a Python step loop is 10-50x slower, so it is
        # accepted for compatibility and not applied (said once, as a warning).
        self.recurrent_dropout = check_rate(cls, "recurrent_dropout", recurrent_dropout)
        if self.recurrent_dropout:
            warnings.warn(
                f"{cls}: recurrent_dropout={self.recurrent_dropout} is accepted for Keras "
                "compatibility but not applied (torch's fused RNN kernels have no recurrent "
                "mask). Use dropout= for regularisation.",
                UserWarning,
                stacklevel=3,
            )
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.check(kernel_initializer)
        self.recurrent_initializer = initializers.check(recurrent_initializer)
        self.bias_initializer = initializers.check(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._dirs = 2 if self.bidirectional else 1

    def _expected_layout(self) -> str:
        return "(batch, steps, features)"

    def _torch_kwargs(self) -> dict[str, Any]:
        return {}

    def _build(self, shape: tuple[int | None, ...], factory: dict[str, Any]) -> None:
        if shape[-1] is None:
            raise DataError(
                f"{type(self).__name__} '{self.name}' needs a known feature size; got {shape}."
            )
        self.input_size = shape[-1]
        # torch applies ``dropout`` between stacked layers; it warns when there is only one.
        self.rnn = self._torch_cls(
            shape[-1],
            self.units,
            self.num_layers,
            bias=self.use_bias,
            batch_first=True,
            dropout=self.dropout if self.num_layers > 1 else 0.0,
            bidirectional=self.bidirectional,
            **self._torch_kwargs(),
            **factory,
        )
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        for name, p in self.rnn.named_parameters():
            if name.startswith("weight_ih"):
                initializers.apply(self.kernel_initializer, p)
            elif name.startswith("weight_hh"):
                initializers.apply(self.recurrent_initializer, p)
            elif name.startswith("bias_ih"):
                initializers.apply(self.bias_initializer, p)
                if getattr(self, "unit_forget_bias", False):
                    p[self.units : 2 * self.units] = 1.0  # torch gate order: i, f, g, o
            else:  # bias_hh: torch adds it to bias_ih; Keras has a single bias
                p.zero_()

    def _build_shape_from_state(self, state: dict, prefix: str) -> list[int | None] | None:
        w = state.get(prefix + "rnn.weight_ih_l0")
        return None if w is None else [None, None, int(w.shape[1])]

    #: Keras' gate blocks as indices into torch's (LSTM i,f,c,o = torch i,f,g,o; GRU below).
    _keras_gates: tuple[int, ...] = (0,)
    #: Keras keeps the input and recurrent biases apart (GRU's ``reset_after=True``: (2, 3u)).
    _keras_two_biases = False

    def _reorder(self, t: torch.Tensor, order: Sequence[int]) -> torch.Tensor:
        """Reorder the gate blocks of ``t`` (stacked on dim 0) by ``order``."""
        blocks = t.chunk(len(order), 0)
        return torch.cat([blocks[i] for i in order], 0)

    def _directions(self) -> list[str]:
        """Parameter suffixes in Keras' order: per stacked layer, forward then backward."""
        dirs = ("", "_reverse")[: self._dirs]
        return [f"_l{layer}{d}" for layer in range(self.num_layers) for d in dirs]

    def keras_weights(self) -> list[torch.Tensor]:
        """Keras' ``[kernel (in, k*units), recurrent_kernel (units, k*units), bias]`` per
        direction (forward, then backward as in ``Bidirectional``; per stacked layer).

        Exact for all three layers: torch adds two biases where Keras has one, so the bias is
        their sum (LSTM, SimpleRNN) and :meth:`set_keras_weights` puts it in ``bias_ih`` with
        ``bias_hh`` zero; GRU's torch formula is Keras' ``reset_after=True``, whose bias is the
        pair ``(2, 3*units)`` = (input bias, recurrent bias) with the gates reordered.
        """
        if not self.built:
            return []
        keras = self._keras_gates
        out: list[torch.Tensor] = []
        for sfx in self._directions():
            p = {n: getattr(self.rnn, f"{n}{sfx}").detach() for n in ("weight_ih", "weight_hh")}
            out += [self._reorder(p["weight_ih"], keras).T, self._reorder(p["weight_hh"], keras).T]
            if self.use_bias:
                b_ih = self._reorder(getattr(self.rnn, f"bias_ih{sfx}").detach(), keras)
                b_hh = self._reorder(getattr(self.rnn, f"bias_hh{sfx}").detach(), keras)
                out.append(torch.stack((b_ih, b_hh)) if self._keras_two_biases else b_ih + b_hh)
        return out

    @torch.no_grad()
    def set_keras_weights(self, values: Sequence[torch.Tensor]) -> None:
        back = [self._keras_gates.index(i) for i in range(len(self._keras_gates))]
        per = 3 if self.use_bias else 2
        for d, sfx in enumerate(self._directions()):
            kernel, recurrent, *bias = values[d * per : (d + 1) * per]
            getattr(self.rnn, f"weight_ih{sfx}").copy_(self._reorder(kernel.T, back))
            getattr(self.rnn, f"weight_hh{sfx}").copy_(self._reorder(recurrent.T, back))
            if bias:
                b = bias[0]
                b_ih, b_hh = (b[0], b[1]) if self._keras_two_biases else (b, torch.zeros_like(b))
                getattr(self.rnn, f"bias_ih{sfx}").copy_(self._reorder(b_ih, back))
                getattr(self.rnn, f"bias_hh{sfx}").copy_(self._reorder(b_hh, back))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Run the sequence ``x`` ``(N, T, F)``; ``lengths`` ``(N,)`` marks right padding."""
        if not self.built:
            self._lazy_build(x)
        if self.dropout and self.training:
            x = F.dropout(x, self.dropout, True)  # Keras ``dropout``: on the layer's inputs
        if lengths is not None:
            return self._forward_lengths(x, lengths)
        try:
            out, h = self.rnn(x)
        except RuntimeError as exc:
            if x.dim() != 3 or x.shape[-1] != self.input_size:
                raise DataError(
                    f"{type(self).__name__} '{self.name}' was built for "
                    f"{self.input_size} features (batch, steps, features); got "
                    f"input of shape {tuple(x.shape)}."
                ) from exc
            raise
        if self.return_sequences:
            return out
        return self._final(h)

    def _final(self, h: Any) -> torch.Tensor:
        h_n = h[0] if isinstance(h, tuple) else h  # LSTM returns (h_n, c_n)
        if self._dirs == 1:
            return h_n[-1]  # (N, units): the last layer's final state
        return torch.cat((h_n[-2], h_n[-1]), 1)  # forward final ++ backward final

    def _forward_lengths(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # Exact for right-padded batches without packing (packed RNNs are 1.5-10x slower on CPU):
        # the forward direction's final state is its output at step length-1; the backward
        # direction runs on each row reversed within its length, so it starts at the last token.
        n, steps = x.shape[0], x.shape[1]
        lengths = lengths.to(x.device, torch.int64).clamp(1, steps)
        rows = torch.arange(n, device=x.device)
        if self._dirs == 1:
            out, _ = self.rnn(x)
        else:
            t = torch.arange(steps, device=x.device)[None, :]
            rev = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # an involution
            out = x
            for layer in range(self.num_layers):
                if layer and self.dropout:
                    out = F.dropout(out, self.dropout, self.training)
                index = rev[:, :, None].expand(n, steps, out.shape[2])
                fwd = self._direction(out, layer, "")
                bwd = self._direction(out.gather(1, index), layer, "_reverse")
                out = torch.cat((fwd, bwd.gather(1, rev[:, :, None].expand_as(bwd))), 2)
        if self.return_sequences:
            valid = torch.arange(steps, device=x.device)[None, :] < lengths[:, None]
            return out * valid[:, :, None].to(out.dtype)  # zeros after each row's end
        last = out[rows, lengths - 1]  # (N, units*dirs): forward state at the last real step
        if self._dirs == 1:
            return last
        return torch.cat((last[:, : self.units], out[:, 0, self.units :]), 1)

    def _direction(self, x: torch.Tensor, layer: int, suffix: str) -> torch.Tensor:
        """One direction of one stacked layer, with the fused kernel and ``self.rnn``'s weights."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")[: 4 if self.use_bias else 2]
        params = [getattr(self.rnn, f"{name}_l{layer}{suffix}") for name in names]
        h0 = x.new_zeros(1, x.shape[0], self.units)
        return self._run(x, h0, params)

    def _run(self, x: torch.Tensor, h0: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        fn = torch.rnn_relu if getattr(self, "activation", "tanh") == "relu" else torch.rnn_tanh
        return fn(x, h0, params, self.use_bias, 1, 0.0, self.training, False, True)[0]

    def regularization_loss(self) -> torch.Tensor | None:
        pairs = []
        for name, p in self.rnn.named_parameters() if self.built else ():
            penalty = (
                self.kernel_regularizer
                if name.startswith("weight_ih")
                else self.recurrent_regularizer
                if name.startswith("weight_hh")
                else self.bias_regularizer
                if name.startswith("bias_ih")
                else None
            )
            pairs.append((penalty, p))
        return regularizers.total(pairs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "return_sequences": self.return_sequences,
            "bidirectional": self.bidirectional,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "recurrent_initializer": self.recurrent_initializer,
            "bias_initializer": self.bias_initializer,
            "kernel_regularizer": regularizers.config_value(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.config_value(self.recurrent_regularizer),
            "bias_regularizer": regularizers.config_value(self.bias_regularizer),
        }


def _fixed(layer: str, arg: str, value: Any, allowed: str) -> None:
    if value is not None and value != allowed:
        raise ConfigError(
            f"The '{arg}' argument of {layer} must be '{allowed}' (torch's fused "
            f"kernel); got {value!r}."
        )


class SimpleRNN(_Recurrent):
    """Elman RNN ``h_t = activation(W x_t + U h_{t-1} + b)`` (``activation`` tanh or relu).

    Example:
        >>> import torch
        >>> SimpleRNN(8, activation="relu")(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 8])
    """

    _torch_cls = nn.RNN

    def __init__(self, units: int, activation: str = "tanh", **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.activation = check_choice("SimpleRNN", "activation", activation, ("tanh", "relu"))

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"nonlinearity": self.activation}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation}


class LSTM(_Recurrent):
    """Long short-term memory (torch ``nn.LSTM`` inside, Keras initialisation).

    Args:
        units: Hidden size per direction.
        return_sequences: Return every step ``(N, T, units*dirs)`` instead of the final state.
        bidirectional: Also read the sequence backwards and concatenate.
        num_layers: Stacked layers inside one fused kernel.
        dropout: Dropout on the layer's inputs and between stacked layers.
        unit_forget_bias: Start the forget-gate bias at 1 (Keras default).

    Example:
        >>> import torch
        >>> LSTM(4, bidirectional=True)(torch.zeros(2, 6, 3)).shape
        torch.Size([2, 8])
    """

    _torch_cls = nn.LSTM
    _keras_gates = (0, 1, 2, 3)  # Keras i, f, c, o = torch i, f, g, o

    def __init__(
        self,
        units: int,
        activation: str | None = "tanh",
        recurrent_activation: str | None = "sigmoid",
        *,
        unit_forget_bias: bool = True,
        **kwargs: Any,
    ) -> None:
        _fixed("LSTM", "activation", activation, "tanh")
        _fixed("LSTM", "recurrent_activation", recurrent_activation, "sigmoid")
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _run(self, x: torch.Tensor, h0: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        return torch.lstm(x, (h0, h0), params, self.use_bias, 1, 0.0, self.training, False, True)[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(_Recurrent):
    """Gated recurrent unit (torch ``nn.GRU``; equals Keras' default ``reset_after=True``).

    Example:
        >>> import torch
        >>> GRU(4, return_sequences=True)(torch.zeros(2, 6, 3)).shape
        torch.Size([2, 6, 4])
    """

    _torch_cls = nn.GRU
    _keras_gates = (1, 0, 2)  # Keras z, r, h = torch's blocks r, z, n reordered
    _keras_two_biases = True  # Keras' reset_after=True bias: (2, 3*units)

    def __init__(
        self,
        units: int,
        activation: str | None = "tanh",
        recurrent_activation: str | None = "sigmoid",
        *,
        reset_after: bool = True,
        **kwargs: Any,
    ) -> None:
        _fixed("GRU", "activation", activation, "tanh")
        _fixed("GRU", "recurrent_activation", recurrent_activation, "sigmoid")
        if not reset_after:
            raise ConfigError(
                "GRU supports only reset_after=True (torch's formulation, the Keras 2+ default)."
            )
        super().__init__(units, **kwargs)

    def _run(self, x: torch.Tensor, h0: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        return torch.gru(x, h0, params, self.use_bias, 1, 0.0, self.training, False, True)[0]


def Bidirectional(layer: _Recurrent, merge_mode: str = "concat", **kwargs: Any) -> _Recurrent:
    """Keras' ``Bidirectional(LSTM(64))``: returns the same layer with ``bidirectional=True``.

    The result is a plain LSTM/GRU/SimpleRNN (one fused torch kernel, concatenated outputs), so it
    serialises as that layer. Only ``merge_mode="concat"`` is supported.

    Example:
        >>> Bidirectional(GRU(8)).bidirectional
        True
    """
    if not isinstance(layer, _Recurrent):
        raise ConfigError(
            f"Bidirectional wraps a SimpleRNN, LSTM or GRU layer; got {type(layer).__name__}."
        )
    if merge_mode != "concat":
        raise ConfigError(f"Bidirectional supports merge_mode='concat' only; got {merge_mode!r}.")
    if layer.built:
        raise ConfigError("Bidirectional needs an unbuilt layer; wrap it before its first call.")
    config = {**layer.get_config(), **kwargs, "bidirectional": True}
    return type(layer).from_config(config)  # type: ignore[return-value]
