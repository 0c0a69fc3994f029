"""Keras optimizer objects: ``deepfuse.optimizers.Adam(learning_rate=3e-4)``.

Passed to ``compile(optimizer=...)`` they are a specification: the model builds its own
``torch.optim`` optimizer once its lazy layers have parameters. Used directly, as in a custom
``train_step`` or a GAN's ``compile(d_optimizer=..., g_optimizer=...)``, they work as in Keras:
``opt.apply_gradients(zip(grads, variables))`` (Keras 2/3) or ``opt.apply(grads, variables)``
(Keras 3) builds the torch optimizer over those variables on the first call and reuses it (a later
call with other variables is an error: use one optimizer per model). ``learning_rate`` (alias
``lr``) reads and sets the rate, ``iterations`` counts the steps, ``minimize(loss, var_list)``
takes the gradients for you, ``get_config()`` / ``from_config()`` round-trip.

Keras argument names map onto torch's: ``learning_rate`` -> ``lr``, ``beta_1``/``beta_2`` ->
``betas``, ``epsilon`` -> ``eps``, ``rho`` -> ``alpha`` (RMSprop); ``momentum``, ``nesterov``,
``amsgrad``, ``centered``, ``initial_accumulator_value`` keep their names; ``clipnorm``,
``global_clipnorm`` and ``clipvalue`` clip as Keras does. ``weight_decay`` is decoupled for Adam
and Nadam, as Keras 3 (torch's ``decoupled_weight_decay=True``); for SGD, RMSprop and Adagrad it
is torch's L2 term. Torch's own names (``lr``, ``betas``, ...) work too; any other name is a
one-line error listing the allowed ones. Learning-rate schedule objects are not supported: use
``compile(schedule=...)`` or set ``learning_rate`` from a callback.

Example:
    >>> import torch
    >>> Adam(learning_rate=0.01).get_config()
    {'name': 'adam', 'lr': 0.01}
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = SGD(learning_rate=0.1)
    >>> opt.apply_gradients(zip([torch.tensor([1.0, -1.0])], [w]))
    1
    >>> w.tolist(), opt.iterations
    ([-0.10000000149011612, 0.10000000149011612], 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch

from deepfuse._utils.errors import ConfigError, UserError, did_you_mean, format_message
from deepfuse.training.optim import _DEFAULTS, CLIP_OPTIONS, OPTIMIZERS, _allowed, build_optimizer

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Nadam",
    "Optimizer",
    "OptimizerSpec",
    "RMSprop",
    "UnsupportedKerasFeature",
]

_COMMON = ("learning_rate", "weight_decay", *CLIP_OPTIONS, "name")


class Optimizer:
    """A Keras optimizer: a name plus options, bound to variables on first use.

    Subclasses set ``name`` (a registered optimizer name) and ``keras_args`` (the Keras argument
    names they accept besides ``learning_rate``, ``weight_decay``, the clipping options and
    ``name``).
    """

    name: ClassVar[str] = ""
    keras_args: ClassVar[tuple[str, ...]] = ()
    #: Keras' positional order after ``learning_rate`` when it differs from ``keras_args``.
    positional_args: ClassVar[tuple[str, ...]] = ()
    _decoupled_decay: ClassVar[bool] = False

    def __init__(self, learning_rate: float | None = None, *args: Any, **options: Any) -> None:
        # Keras' positional order after learning_rate: Adam(2e-4, 0.5) sets beta_1 = 0.5.
        order = self.positional_args or self.keras_args
        if len(args) > len(order):
            raise ConfigError(
                f"keras.optimizers.{type(self).__name__} takes at most {len(order) + 1} "
                f"positional arguments (learning_rate, {', '.join(order)}); got {len(args) + 1}."
            )
        for key, value in zip(order, args):
            if key in options:
                raise ConfigError(
                    f"keras.optimizers.{type(self).__name__} got {key!r} twice (by position "
                    "and by name)."
                )
            options[key] = value
        allowed = [*_COMMON, *self.keras_args, *_allowed(OPTIMIZERS.get(self.name))]
        for key in options:
            if key not in allowed:
                raise ConfigError(
                    f"Unknown argument {key!r} for keras.optimizers.{type(self).__name__}. "
                    f"Allowed: {', '.join(dict.fromkeys(allowed))}.{did_you_mean(key, allowed)}"
                )
        options.pop("name", None)  # Keras' display name; deepfuse names optimizers by class
        if learning_rate is None and "lr" in options:
            learning_rate = options.pop("lr")
        self.options = dict(options)
        if learning_rate is not None:
            self.options = {"lr": _check_rate(learning_rate, type(self).__name__), **self.options}
        if self._decoupled_decay and self.options.get("weight_decay"):
            self.options.setdefault("decoupled_weight_decay", True)  # Keras 3's weight decay
        self._torch: torch.optim.Optimizer | None = None
        self._pending_state: dict[str, Any] | None = None  # see load_state_dict

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """``{"name": ..., **options}``: what ``compile`` and ``build_optimizer`` read."""
        return {"name": self.name, **self.options}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Rebuild from :meth:`get_config`'s output.

        Example:
            >>> Adam.from_config(Adam(learning_rate=0.5, beta_1=0.8).get_config()).get_config()
            {'name': 'adam', 'lr': 0.5, 'beta_1': 0.8}
        """
        return cls(**{k: v for k, v in config.items() if k != "name"})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options})"

    # ------------------------------------------------------------------ Keras state
    @property
    def learning_rate(self) -> float:
        """The learning rate (Keras' default for this optimizer until one is set)."""
        if self._torch is not None:
            return float(self._torch.param_groups[0]["lr"])
        if "lr" in self.options:
            return float(self.options["lr"])
        torch_class = OPTIMIZERS.get(self.name)
        return float(_DEFAULTS[torch_class]["lr"])  # every Keras class here has a Keras default

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.options["lr"] = _check_rate(value, type(self).__name__)
        if self._torch is not None:
            for group in self._torch.param_groups:
                group["lr"] = self.options["lr"]

    lr = learning_rate  # Keras 2's name

    @property
    def iterations(self) -> int:
        """Steps taken so far."""
        return 0 if self._torch is None else int(self._torch.iterations)  # type: ignore[attr-defined]

    @property
    def built(self) -> bool:
        """Whether the torch optimizer exists (after ``build`` or the first ``apply_gradients``)."""
        return self._torch is not None

    def build(self, var_list: Iterable[torch.Tensor]) -> None:
        """Create the torch optimizer over ``var_list`` (Keras 3's ``optimizer.build``)."""
        if self._torch is None:
            unique = list({id(v): v for v in var_list}.values())  # shared weights listed once
            self._torch = build_optimizer(self.get_config(), unique)
            if self._pending_state is not None:  # restored from a checkpoint before its 1st step
                self._torch.load_state_dict(self._pending_state)
                self._pending_state = None

    # ------------------------------------------------------------------ steps
    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, torch.Tensor]]) -> int:
        """One step: ``zip(grads, variables)``; binds to ``variables`` on the first call.

        Returns:
            ``iterations`` after the step.

        Raises:
            UserError: Variables other than the ones of the first call.
        """
        pairs = list(grads_and_vars)
        if self._torch is None:
            self.build([v for _, v in pairs])
        return self._torch.apply_gradients(pairs)  # type: ignore[union-attr]

    def apply(
        self, grads: Iterable[Any], trainable_variables: Iterable[torch.Tensor] | None = None
    ) -> int:
        """Keras 3's ``optimizer.apply(grads, trainable_variables)``."""
        if trainable_variables is None:
            if self._torch is None:
                raise UserError(
                    f"{type(self).__name__}.apply(grads) without variables needs a built optimizer; "
                    "pass trainable_variables on the first call (or call build(variables))."
                )
            return self._torch.apply(list(grads))  # type: ignore[attr-defined]
        return self.apply_gradients(zip(list(grads), list(trainable_variables)))

    def minimize(
        self,
        loss: torch.Tensor | Callable[[], torch.Tensor],
        var_list: Iterable[torch.Tensor],
        tape: Any = None,
    ) -> int:
        """Gradients of ``loss`` (a scalar tensor, or a function returning one) for ``var_list``,
        then :meth:`apply_gradients`. ``tape`` (TensorFlow's) is not needed and ignored."""
        variables = list(var_list)
        value = loss() if callable(loss) else loss
        grads = torch.autograd.grad(value, variables, allow_unused=True)
        return self.apply_gradients(zip(grads, variables))

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The torch optimizer's ``state_dict`` (an empty one before the first step)."""
        return {} if self._torch is None else self._torch.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load a :meth:`state_dict`; before the optimizer is built, the state is kept and
        loaded when it is (a resumed GAN's optimizers are built by their first step)."""
        if self._torch is None:
            self._pending_state = state
            return
        self._torch.load_state_dict(state)


#: The name this class had before it could apply gradients itself.
OptimizerSpec = Optimizer


def _check_rate(value: Any, name: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if callable(value):
        raise ConfigError(
            format_message(
                f"keras.optimizers.{name} got a learning-rate schedule object; deepfuse does not "
                "support keras.optimizers.schedules.",
                fix="Pass a float and use compile(schedule=...) (e.g. {'name': 'cosine'}), or set "
                "optimizer.learning_rate from a callback.",
            )
        )
    raise ConfigError(
        format_message(
            f"Bad learning_rate for keras.optimizers.{name}.", expected="a float >= 0", got=value
        )
    )


class UnsupportedKerasFeature(UserError, AttributeError):
    """A Keras name deepfuse refuses on purpose (an AttributeError too, so ``hasattr`` works)."""


def __getattr__(name: str) -> Any:
    """``keras.optimizers.schedules`` is refused with the alternative, not a bare AttributeError."""
    if name == "schedules":
        raise UnsupportedKerasFeature(
            "keras.optimizers.schedules (ExponentialDecay, CosineDecay, ...) is not supported by "
            "deepfuse: pass a float learning_rate and use compile(schedule=...), e.g. "
            "{'name': 'cosine'} (per step) or {'name': 'exponential', 'gamma': 0.9} (per epoch)."
        )
    raise AttributeError(f"module 'deepfuse.optimizers' has no attribute {name!r}")


class SGD(Optimizer):
    """Stochastic gradient descent (``momentum``, ``nesterov``, ``weight_decay``)."""

    name = "sgd"
    keras_args = ("momentum", "nesterov")


class Adam(Optimizer):
    """Adam (``beta_1``, ``beta_2``, ``epsilon``, ``amsgrad``, ``weight_decay``)."""

    name = "adam"
    keras_args = ("beta_1", "beta_2", "epsilon", "amsgrad")
    _decoupled_decay = True


class AdamW(Optimizer):
    """Adam with decoupled weight decay (``weight_decay``, ``beta_1``, ``beta_2``, ``epsilon``)."""

    name = "adamw"
    keras_args = ("beta_1", "beta_2", "epsilon", "amsgrad")
    positional_args = ("weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad")


class Nadam(Optimizer):
    """Adam with Nesterov momentum (``beta_1``, ``beta_2``, ``epsilon``)."""

    name = "nadam"
    keras_args = ("beta_1", "beta_2", "epsilon")
    _decoupled_decay = True


class RMSprop(Optimizer):
    """RMSprop (``rho``, ``momentum``, ``epsilon``, ``centered``)."""

    name = "rmsprop"
    keras_args = ("rho", "momentum", "epsilon", "centered")


class Adagrad(Optimizer):
    """Adagrad (``initial_accumulator_value``, ``epsilon``)."""

    name = "adagrad"
    keras_args = ("initial_accumulator_value", "epsilon")
