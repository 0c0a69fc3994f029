"""The optimizers a model really trains with, and the random generators its steps draw from.

``model.optimizer`` is the one ``compile`` built. A custom ``train_step`` may step others that
the model keeps as attributes: a Keras GAN's ``self.d_optimizer`` / ``self.g_optimizer`` (Keras
optimizer objects, bound to their variables on first use), the zoo GANs' two Adams. The trainer
finds them once when ``fit`` starts (:class:`OptimizersInUse`): ``model.optimizer`` first, then
every public attribute of the model holding an optimizer, by attribute name. A checkpoint holds
the state of each of them, and of each random generator the model's modules hold
(``torch.Generator``, Keras' ``SeedGenerator``), so a resumed run continues bit-identically.

Learning rates in the epoch logs (:meth:`OptimizersInUse.lr_logs`): ``lr`` when no optimizer
other than ``model.optimizer`` has taken a step (every plain run), else ``<attribute>_lr`` for
each optimizer that has (``d_optimizer_lr``, ``g_optimizer_lr``; ``lr`` for ``model.optimizer``
if it stepped too).

Example:
    >>> import torch, deepfuse as df
    >>> class TwoNets(df.Model):
    ...     def __init__(self):
    ...         super().__init__(torch.nn.Linear(2, 1))
    ...         self.extra = torch.nn.Linear(2, 1)
    ...         self.g_optimizer = torch.optim.SGD(self.extra.parameters(), lr=0.5)
    >>> model = TwoNets()
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> model.setup({"x": torch.zeros(2, 2), "y": torch.zeros(2, 1)})  # fit builds model.optimizer
    >>> in_use = OptimizersInUse(model)
    >>> in_use.names(), in_use.lr_logs()
    (['optimizer', 'g_optimizer'], {'lr': 0.01})
    >>> model.extra(torch.ones(1, 2)).sum().backward(); model.g_optimizer.step()
    >>> in_use.lr_logs()
    {'g_optimizer_lr': 0.5}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from deepfuse._utils.errors import DataError

__all__ = ["MAIN", "OptimizersInUse", "is_lr_key"]

#: The name of ``model.optimizer`` among the optimizers in use (its checkpoint key, too).
MAIN = "optimizer"
_LR_SUFFIX = "_lr"


def is_lr_key(key: str) -> bool:
    """Whether an epoch-log key is a learning rate the trainer added (``lr``, ``<name>_lr``).

    Example:
        >>> is_lr_key("lr"), is_lr_key("d_optimizer_lr"), is_lr_key("d_loss")
        (True, True, False)
    """
    return key == "lr" or (key.endswith(_LR_SUFFIX) and not key.startswith("val_"))


def _is_optimizer(value: Any) -> bool:
    """A ``torch.optim.Optimizer``, or a Keras optimizer object (``deepfuse.optimizers``: it
    builds its torch optimizer on its first ``apply_gradients``)."""
    if isinstance(value, torch.optim.Optimizer):
        return True
    return not isinstance(value, nn.Module | type) and all(
        callable(getattr(value, m, None))
        for m in ("apply_gradients", "state_dict", "load_state_dict")
    )


def _generator_of(value: Any) -> torch.Generator | None:
    """The ``torch.Generator`` a value is or holds (Keras' ``SeedGenerator.generator``)."""
    if isinstance(value, torch.Generator):
        return value
    held = getattr(value, "generator", None) if not isinstance(value, nn.Module) else None
    return held if isinstance(held, torch.Generator) else None


def _mark_stepped(optimizer: Any, args: Any, kwargs: Any) -> None:
    optimizer._deepfuse_stepped = True


def _count_steps(optimizer: Any) -> None:
    """Register (once per optimizer) a hook that records its first step."""
    if isinstance(optimizer, torch.optim.Optimizer) and not vars(optimizer).get(
        "_deepfuse_counts_steps"
    ):
        optimizer.register_step_post_hook(_mark_stepped)
        optimizer._deepfuse_counts_steps = True


def _has_stepped(optimizer: Any) -> bool:
    # Keras optimizers (and every optimizer deepfuse builds) count `iterations`; the hook covers
    # a plain torch optimizer.
    return int(getattr(optimizer, "iterations", 0) or 0) > 0 or bool(
        vars(optimizer).get("_deepfuse_stepped")
    )


def _learning_rate(optimizer: Any) -> float:
    if isinstance(optimizer, torch.optim.Optimizer):
        return float(optimizer.param_groups[0]["lr"])
    return float(optimizer.learning_rate)


class OptimizersInUse:
    """The optimizers and random generators of ``model``, found once (see the module).

    Args:
        model: The model being trained.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        found: dict[str, Any] = {}
        seen: set[int] = set()
        main = getattr(model, "optimizer", None)
        if main is not None:
            found[MAIN] = main
            seen.add(id(main))
        for name in sorted(vars(model)):  # deterministic: by attribute name
            value = vars(model)[name]
            if name.startswith("_") or name == MAIN or id(value) in seen:
                continue
            if _is_optimizer(value):
                found[name] = value
                seen.add(id(value))
        self._optimizers = found
        for optimizer in found.values():
            _count_steps(optimizer)
        self._generators = _generators(model)

    def names(self) -> list[str]:
        """Names of the optimizers in use: ``"optimizer"`` first, then attribute names."""
        return list(self._optimizers)

    # ----------------------------------------------------------------- logs
    def lr_logs(self) -> dict[str, float]:
        """The learning rates an epoch logs (see the module): ``{"lr": ...}`` for a plain run."""
        stepped = {n: o for n, o in self._optimizers.items() if n == MAIN or _has_stepped(o)}
        if MAIN in stepped and not _has_stepped(stepped[MAIN]) and len(stepped) > 1:
            del stepped[MAIN]  # compile()'s optimizer, unused by a step that has its own
        return {
            ("lr" if n == MAIN else f"{n}{_LR_SUFFIX}"): _learning_rate(o)
            for n, o in stepped.items()
        }

    # ---------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """``{"optimizer": model.optimizer's state (None without one), "optimizers": {attribute:
        state} for the others, "generators": {name: generator state}}``."""
        main = self._optimizers.get(MAIN)
        return {
            MAIN: main.state_dict() if main is not None else None,
            "optimizers": {n: o.state_dict() for n, o in self._optimizers.items() if n != MAIN},
            "generators": {n: g.get_state() for n, g in self._generators.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load the optimizer states of a :meth:`state_dict` (a checkpoint of a run from before
        several optimizers were saved holds ``optimizer`` only); generators: :meth:`load_generators`.

        Raises:
            DataError: The checkpoint holds an optimizer the model does not have.
        """
        main = self._optimizers.get(MAIN)
        if main is not None and state.get(MAIN) is not None:
            main.load_state_dict(state[MAIN])
        saved = state.get("optimizers") or {}
        missing = sorted(set(saved) - set(self._optimizers))
        if missing:
            raise DataError(
                f"The checkpoint holds the state of optimizer(s) {missing} that the model does "
                f"not have (it has {self.names()}). Resume with the code and config the run "
                "was started with."
            )
        for name, optimizer_state in saved.items():
            if optimizer_state:  # {}: a Keras optimizer that had not taken a step yet
                self._optimizers[name].load_state_dict(optimizer_state)

    def load_generators(self, state: Mapping[str, Any]) -> None:
        """Set the model's random generators to a :meth:`state_dict`'s (when fit starts, with
        the global random state)."""
        for name, generator_state in (state.get("generators") or {}).items():
            if name in self._generators:
                self._generators[name].set_state(generator_state)


def _generators(model: Any) -> dict[str, torch.Generator]:
    """The random generators the model's modules hold as attributes, by dotted name."""
    out: dict[str, torch.Generator] = {}
    seen: set[int] = set()
    modules = model.named_modules() if isinstance(model, nn.Module) else [("", model)]
    for prefix, module in modules:
        for name in sorted(vars(module)):
            generator = _generator_of(vars(module)[name])
            if generator is not None and id(generator) not in seen:
                seen.add(id(generator))
                out[f"{prefix}.{name}" if prefix else name] = generator
    return out
