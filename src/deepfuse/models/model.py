"""``deepfuse.Model``: Keras' ``compile``/``fit``/``evaluate``/``predict`` on any ``torch.nn.Module``.

Wrap a module (``Model(my_module)``) or subclass ``Model`` and write ``forward`` as in plain
PyTorch. Training goes through one loop (:class:`deepfuse.training.Trainer`); customise a step by
overriding :meth:`Model.train_step`, exactly like Keras' "Customizing what happens in fit()"
(the step receives Keras' ``data``; see :mod:`deepfuse.models.keras_steps`). ``trainable`` is
Keras 2's (captured at compile, see :mod:`deepfuse.models.freezing`).

Example:
    >>> import torch, deepfuse as df
    >>> model = df.Model(torch.nn.Linear(4, 3))
    >>> model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    >>> _ = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    >>> model.predict(x).shape
    (32, 3)
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfuse._utils.errors import DataError, UserError
from deepfuse._utils.seed import seed_everything
from deepfuse.data.tensors import Y_KEY
from deepfuse.models import feeding, freezing, keras_steps, layout, multi_io, weighting
from deepfuse.models.functional import Functional, GraphAccess, network_of
from deepfuse.models.results import Scores
from deepfuse.training.callbacks.base import History
from deepfuse.training.optim import clip_gradients
from deepfuse.training.protocols import StepExtension
from deepfuse.training.trainer import Trainer

__all__ = ["Model"]


class Model(keras_steps.KerasSurface, GraphAccess, nn.Module):
    """A trainable model: any ``nn.Module`` plus ``compile``/``fit``/``evaluate``/``predict``.

    Args:
        module: The network. Leave it out when subclassing ``Model`` and defining ``forward``.
        name: A display name (used by ``summary``).
    """

    def __init__(
        self,
        module: Any = None,
        outputs: Any = None,
        *,
        inputs: Any = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if kwargs:
            raise UserError(
                f"Model() got unexpected argument(s) {sorted(kwargs)}; it takes a module, or "
                "inputs= and outputs= (the functional API), and name=."
            )
        module = network_of(module, inputs, outputs)  # a module, or the functional graph
        self.module = module
        self.name = name or (
            "functional"
            if isinstance(module, Functional)
            else type(module).__name__
            if module is not None
            else type(self).__name__
        )
        self.optimizer: torch.optim.Optimizer | None = None
        # Loss and metrics are not submodules: their buffers must not enter state_dict().
        # "compiled_loss", not "loss_fn": Keras programs keep their own self.loss_fn.
        object.__setattr__(self, "compiled_loss", None)
        object.__setattr__(self, "metric_set", None)
        self.output_activation: str | None = None  # predict's softmax/sigmoid on a logits net
        self.input_layout: str | None = None  # "channels_last" | "add_channel" | None
        self.input_spec: dict[str, dict[str, Any]] | None = None  # per key: shape (no batch), dtype
        self.preprocessor: Any = None  # deepfuse.data.Preprocessor fitted on raw rows
        self.target_key = Y_KEY
        self.architecture: dict[str, Any] | None = None  # how to rebuild (see serialization.py)
        self._compile_args: dict[str, Any] | None = None
        self._optimizer_spec: Any = "adam"
        self._schedule_spec: Any = None
        self._l1 = self._l2 = 0.0
        self._grad_clip: Any = None
        # A feature that replaces the plain training step (adversarial training, see compile)
        self.step_extension: StepExtension | None = None
        self._penalized: list[nn.Parameter] = []
        self._regularized_layers: list[nn.Module] = []
        self._input_keys: list[str] | None = None
        self._single_input = True
        self.stop_training = False
        if isinstance(module, Functional) and module._image_inputs:
            self.input_layout = "channels_last"  # Input(shape=(H, W, C)): Keras images
        self._trainable = True  # Keras' model.trainable (see freezing.py)
        self._train_params: list[nn.Parameter] | None = None  # captured at compile
        self._applied_generation = -1
        self._fusion: layout.Fusion | None = None  # final activation computed in the loss

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        keras_steps.adapt_overrides(cls)  # a user's train_step gets Keras' data
        cls._forward_takes_training = "training" in inspect.signature(cls.forward).parameters

    # ------------------------------------------------------------------ forward
    def forward(self, x: Any) -> Any:
        if self.module is None:
            call = getattr(self, "call", None)
            if callable(call):  # a Keras-style subclass defines call(inputs[, training])
                if _takes_training(type(self)):
                    return call(x, training=self.training)
                return call(x)
            raise NotImplementedError(
                "Model has no module: pass one (Model(my_module)), use the functional API "
                "(Model(inputs, outputs)), or subclass Model and define forward() or call()."
            )
        return self.module(x)

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer: Any = "adam",
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        *,
        l1: float = 0.0,
        l2: float = 0.0,
        grad_clip: float | Mapping[str, float] | None = None,
        schedule: Any = None,
        adversarial: Mapping[str, Any] | None = None,
        loss_weights: Any = None,
        run_eagerly: bool | None = None,
        jit_compile: Any = None,
        steps_per_execution: int = 1,
    ) -> None:
        """Choose the optimizer, loss, metrics, penalties and learning-rate schedule.

        The weights trained are those trainable now (Keras 2: ``trainable`` is captured here).
        A final softmax/sigmoid stays in the network (``model(x)`` gives probabilities); only
        this model's own built-in steps skip it and use the from-logits loss.

        Args:
            optimizer: A name ("adam", "sgd", "adamw", "rmsprop"), a dict ``{"name": "sgd",
                "lr": 0.1, "momentum": 0.9}``, or a ``torch.optim.Optimizer``.
            loss: A name ("cross_entropy", "mse", Keras names like
                "sparse_categorical_crossentropy"), a dict with options, or a callable
                ``loss(outputs, target)``. May be left out when ``train_step`` is overridden.
            metrics: Names ("accuracy", "f1", ...), dicts or ``Metric`` objects.
            l1: Global L1 penalty on weights (not biases).
            l2: Global L2 penalty on weights (not biases).
            grad_clip: Clip the gradient norm to this value, or ``{"value": v}`` / ``{"norm": n}``.
            schedule: A learning-rate schedule name or dict (``"cosine"``, ``{"name": "step",
                "step_size": 10, "gamma": 0.5}``, ...).
            adversarial: Adversarial training, e.g. ``{"attack": "fgsm", "eps": 0.1,
                "ratio": 0.5}``: that share of every training batch is replaced by attacked
                rows (see :mod:`deepfuse.adversarial.training`).
            loss_weights: Several outputs: a list or dict of loss weights (Keras'); ``loss`` and
                ``metrics`` may then be lists or dicts keyed by output name
                (see :mod:`deepfuse.models.multi_io`).
            run_eagerly: Accepted for Keras code and ignored: deepfuse always runs eagerly.
            jit_compile: Accepted for Keras code and ignored (no effect on results).
            steps_per_execution: Accepted for Keras code; only 1 (one step per call) exists.
        """
        from deepfuse.models.compiling import compile_model

        keras_steps.check_steps_per_execution(steps_per_execution)
        compile_model(
            self,
            optimizer,
            loss,
            metrics,
            l1=l1,
            l2=l2,
            grad_clip=grad_clip,
            schedule=schedule,
            adversarial=adversarial,
            loss_weights=loss_weights,
        )

    # --------------------------------------------------------------------- steps
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimisation step on ``batch``; override it for custom training (GAN, ...).

        Returns:
            A dict of scalars (``"loss"`` for the built-in step); everything it holds is shown
            by the progress bar and recorded in the callbacks' logs and ``History``.
        """
        x, y = self.split_batch(batch)
        freezing.apply(self)  # the weights this model trains (captured at compile)
        with layout.logits_outputs(self):
            if self.step_extension is not None:  # e.g. compile(adversarial=...)
                return self.step_extension.train_step(self, x, y)
            return self.optimize_step(x, y, weighting.of_batch(batch))  # fit(sample_weight=)

    def optimize_step(self, x: Any, y: Any, sample_weight: Any = None) -> dict[str, torch.Tensor]:
        """The plain step on inputs ``x`` and target ``y`` (rows weighted by ``sample_weight``):
        forward, loss, backward, (clip), optimizer step, metrics (unweighted, as Keras')."""
        outputs = self(x)
        loss = self.compute_loss(x, y, outputs, sample_weight)
        self.optimizer.zero_grad(set_to_none=True)
        if not loss.requires_grad:  # every weight frozen (trainable=False): nothing to update
            return {"loss": loss}
        loss.backward()
        if self._grad_clip is not None:
            clip_gradients(self.parameters(), self._grad_clip)
        self.optimizer.step()
        self.update_metrics(outputs, y)
        return {"loss": loss}

    def test_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Loss and metric update for one evaluation batch (called under ``no_grad``)."""
        x, y = self.split_batch(batch)
        with layout.logits_outputs(self):
            return self._evaluate_batch(x, y, weighting.of_batch(batch))

    def _evaluate_batch(self, x: Any, y: Any, weight: Any = None) -> dict[str, torch.Tensor]:
        self._require_loss("test_step")
        outputs = self(x)
        loss = weighting.weighted_loss(self.compiled_loss, outputs, y, weight)
        self.update_metrics(outputs, y)
        return {"loss": loss}

    def predict_step(self, batch: dict[str, torch.Tensor]) -> Any:
        """The outputs for one batch of inputs (override it like Keras' ``predict_step``)."""
        x, _ = self.split_batch(batch)
        return self.apply_output_activation(self(x))

    def split_batch(self, batch: Any) -> tuple[Any, torch.Tensor | None]:
        """``batch`` → ``(inputs, target)``; inputs are a tensor for single-input models.

        ``batch`` is deepfuse's dict batch or Keras' ``data`` (``x``, ``(x, y)``, ...).
        """
        if not isinstance(batch, Mapping):
            return keras_steps.from_keras_data(batch)
        target = multi_io.targets_from_batch(self, batch)
        if self._single_input:
            return batch[self._input_keys[0]], target
        return {k: batch[k] for k in self._input_keys}, target

    def compute_loss(
        self,
        x: Any = None,
        y: torch.Tensor | None = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> torch.Tensor:
        """Keras 3's: the compiled loss (rows weighted by ``sample_weight``) plus penalties."""
        self._require_loss("compute_loss")
        outputs, target = (self(x) if y_pred is None else y_pred), y
        if target is None:
            raise DataError(f"The batch has no target '{self.target_key}'. Pass y to fit().")
        loss = weighting.weighted_loss(self.compiled_loss, outputs, target, sample_weight)
        if self._l2:
            loss = loss + self._l2 * sum(p.pow(2).sum() for p in self._penalized)
        if self._l1:
            loss = loss + self._l1 * sum(p.abs().sum() for p in self._penalized)
        for layer in self._regularized_layers:
            loss = loss + layer.regularization_loss()
        return loss

    def update_metrics(self, outputs: Any, target: torch.Tensor | None) -> None:
        if self.metric_set is not None and target is not None and len(self.metric_set):
            self.metric_set.update(
                outputs.detach() if isinstance(outputs, torch.Tensor) else outputs, target
            )

    def reset_metrics(self) -> None:
        """Reset the compiled metrics and a subclass's own ``metrics`` (``reset_state()``)."""
        if self.metric_set is not None:
            self.metric_set.reset()
        self.reset_own_metrics()

    def compute_metrics(self) -> dict[str, float]:
        if self.metric_set is None or not len(self.metric_set):
            return {}
        return self.metric_set.compute()

    # ---------------------------------------------------------------------- fit
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        validation_split: float = 0.0,
        validation_data: Any = None,
        callbacks: Sequence[Any] | None = None,
        shuffle: bool = True,
        seed: int | None = None,
        verbose: int | str = "auto",
        initial_epoch: int = 0,
        strategy: Any = None,
        checkpoint_every: int = 0,
        keep_checkpoints: int = 3,
        checkpoint_dir: str | os.PathLike | None = None,
        resume: bool = False,
        steps_per_epoch: int | None = None,
        sample_weight: Any = None,
        class_weight: Mapping[int, float] | None = None,
        **keras_options: Any,
    ) -> History:
        """Train the model.

        Args:
            x: Inputs: numpy/torch/pandas, a dict of arrays, or an iterable of batches.
            y: Targets (when ``x`` is array-like).
            epochs: Number of epochs.
            batch_size: Rows per batch (in-memory inputs).
            validation_split: Fraction of the rows held out for validation (stratified for
                class labels).
            validation_data: ``(x_val, y_val[, sample_weight])`` or an iterable of batches.
            callbacks: Callback objects (see ``deepfuse.training.callbacks``).
            shuffle: Shuffle rows every epoch.
            seed: Makes the run bit-identical on CPU (weights built at fit, data order, dropout).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch; "auto" = 1.
            initial_epoch: Epoch to start from (for resuming).
            strategy: How to distribute the loop: ``None``/``"single"`` (this process),
                ``"ddp"`` or a ``deepfuse.distributed.Strategy`` (already set up). Under DDP,
                ``batch_size`` is the global batch: each of N workers gets 1/N of every batch,
                so N workers train like one process; only rank 0 shows progress.
            checkpoint_every: With ``checkpoint_dir``: also checkpoint every this many steps
                inside an epoch (0 = at epoch ends only).
            keep_checkpoints: How many of the newest checkpoints to keep.
            checkpoint_dir: Folder for exact training checkpoints (weights, optimizer, RNG, data
                position, schedule, callbacks, history); ``None`` = no checkpoints.
            resume: Continue from the newest valid checkpoint in ``checkpoint_dir`` (call with
                the same data, model and arguments); bit-identical to an uninterrupted run on CPU.
            steps_per_epoch: End each epoch after this many batches (``None``: the whole data).
            sample_weight: One weight per row of ``x``, scaling its loss (metrics stay unweighted).
            class_weight: ``{class: weight}`` for the training rows (Keras', see ``weighting``).
            **keras_options: Refused Keras keywords (``workers``, ...): a one-line error.

        Returns:
            A :class:`History` with ``history.history[name]`` lists (one value per epoch).
        """
        from deepfuse.distributed import get_strategy
        from deepfuse.training.callbacks.progress import with_progress_bar
        from deepfuse.training.checkpoint import checkpoint_manager, resume_latest
        from deepfuse.training.schedules import build_schedule

        keras_steps.check_fit_options(keras_options)
        strategy = get_strategy(strategy)
        self._require_compiled()
        self.stop_training = False
        if not isinstance(epochs, int) or epochs < 1:
            raise UserError(f"The 'epochs' argument of fit must be a positive int; got {epochs!r}.")
        generator = seed_everything(seed) if seed is not None else None
        train, val = feeding.make_loaders(
            self,
            x,
            y,
            batch_size=batch_size,
            shuffle=shuffle,
            validation_split=validation_split,
            validation_data=validation_data,
            generator=generator,
            sample_weight=sample_weight,
            class_weight=class_weight,
        )
        self.setup(feeding.first_batch(train))
        # Each worker's part of the data (no-op on one process), then DDP gradient averaging.
        train = strategy.shard_data(train, train=True)
        val = strategy.shard_data(val, train=False)
        strategy.wrap_model(self)
        schedule = None
        if self._schedule_spec is not None:
            schedule = build_schedule(
                self._schedule_spec,
                self.optimizer,
                steps_per_epoch=feeding.len_or_none(train),
                epochs=epochs,
            )
        verbose = (1 if verbose == "auto" else int(verbose)) if strategy.is_main else 0
        checkpoints = checkpoint_manager(checkpoint_dir, keep=keep_checkpoints, resume=resume)
        trainer = Trainer(
            self,
            callbacks=with_progress_bar(list(callbacks or []), verbose),
            schedule=schedule,
            strategy=strategy,
            checkpoint=checkpoints,
            checkpoint_every=checkpoint_every,
        )
        self.trainer = trainer
        if resume:
            resume_latest(trainer, checkpoints)
        try:
            logs = trainer.fit(
                train,
                epochs=epochs,
                val_data=val,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps_per_epoch,
            )
        finally:
            strategy.unwrap_model(self)  # save/evaluate/predict use the plain model
        return History.from_logs(logs, initial_epoch=initial_epoch)

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        *,
        batch_size: int = 256,
        verbose: int | str = 0,
        return_dict: bool = False,
        sample_weight: Any = None,
    ) -> float | Scores | dict[str, float]:
        """Loss and metrics over the whole dataset (exact, not an average of batch averages).

        Returns:
            The loss as a float when there are no metrics (Keras), else ``Scores`` (a list
            ``[loss, metric...]`` that is also indexable by name); a dict when
            ``return_dict=True``.
        """
        self._require_compiled()
        loader = feeding.make_loader(
            self, x, y, batch_size=batch_size, shuffle=False, sample_weight=sample_weight
        )
        self.setup(feeding.first_batch(loader))
        logs = Trainer(self).evaluate(loader)
        return keras_steps.results(logs, return_dict=return_dict)

    @torch.no_grad()
    def predict(self, x: Any, *, batch_size: int = 256, verbose: int | str = 0) -> np.ndarray:
        """Outputs for ``x`` as a numpy array (probabilities for a final softmax/sigmoid); 4-D
        image outputs of a channels-last model come back channels-last (NHWC), as in Keras."""
        if self.preprocessor is not None and feeding.is_table(x):
            x = feeding.preprocess_table(self, x)
        loader = feeding.make_loader(self, x, None, batch_size=batch_size, shuffle=False)
        self.setup(feeding.first_batch(loader), for_training=False)
        self.train(False)
        data_format = layout.interface_format(self)
        chunks = [
            multi_io.map_outputs(
                lambda t: layout.to_interface_layout(t, data_format).cpu(), self.predict_step(b)
            )
            for b in loader
        ]
        return multi_io.outputs_to_numpy(chunks, self)

    def apply_output_activation(self, outputs: torch.Tensor) -> torch.Tensor:
        """Apply ``output_activation``: the softmax/sigmoid of a network that ends in logits
        (zoo models built for classification); other models' outputs are returned as they are."""
        if self.output_activation == "softmax":
            return torch.softmax(outputs, dim=-1)
        if self.output_activation == "sigmoid":
            return torch.sigmoid(outputs)
        return outputs

    # -------------------------------------------------------------------- setup
    def setup(self, example: dict[str, torch.Tensor], *, for_training: bool = True) -> None:
        """Build lazy layers from an example batch, then create the optimizer (once)."""
        from deepfuse.models.setup import setup

        setup(self, example, for_training=for_training)

    def _require_compiled(self) -> None:
        if self._compile_args is None:
            raise UserError(
                "The model is not compiled. Call model.compile(optimizer=..., loss=...) "
                "before fit() or evaluate()."
            )

    # ---------------------------------------------------------- save / summary
    def save(self, directory: str) -> None:
        """Write ``model.safetensors`` and ``model.json`` into ``directory`` (no pickle)."""
        from deepfuse.models.serialization import save_model

        save_model(self, directory)

    def summary(self, *, print_fn: Any = print) -> str:
        """Layers, output shapes and parameter counts as a table (printed and returned)."""
        from deepfuse.models.summary import summarize

        text = summarize(self)
        if print_fn is not None:
            print_fn(text)
        return text

    def count_params(self) -> int:
        """Number of weight values as Keras counts them (BatchNorm's moving statistics too)."""
        from deepfuse.models.summary import keras_weights_of

        return sum(w.numel() for w in keras_weights_of(self))


@functools.cache
def _takes_training(cls: type) -> bool:
    """Whether ``cls.call`` (a Keras-style subclass) accepts ``training=``."""
    return "training" in inspect.signature(cls.call).parameters
