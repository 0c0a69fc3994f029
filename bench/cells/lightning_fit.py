"""``lightning`` cell: a LightningModule around the torch cell's module, ``Trainer.fit`` on CPU.

Trainer defaults are kept (progress bar, logger, checkpointing, log_every_n_steps=50); only the
model-summary print is off and ``default_root_dir`` points at a temporary folder so the logs and
checkpoint it writes (inside the timed region, as for any user) do not land in the repository.

The DataLoader hands Lightning the same batches as the torch cell (a random permutation gathered a
batch at a time from in-memory tensors, via ``BatchSampler`` + ``batch_size=None``), so the ratio
measures the Trainer, not the per-sample ``default_collate`` path.
"""

from __future__ import annotations

import tempfile
import time

import torch

from bench.cells import torch_models as tm

FRAMEWORK = "lightning"


def available(framework: str, workload: str) -> str | None:
    try:
        import lightning  # noqa: F401
    except ImportError as exc:
        return f"not installed: {exc}"
    return None


def version() -> str:
    import lightning

    return lightning.__version__


def _module_class():
    import lightning as L

    class Classifier(L.LightningModule):
        def __init__(self, net: torch.nn.Module, task: str, lr: float):
            super().__init__()
            self.net, self.task, self.lr = net, task, lr
            self.loss_fn = tm.loss_fn(task)

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            out = self.net(xb)
            loss = self.loss_fn(out, yb)
            acc = tm.n_correct(out, yb, self.task) / len(yb)
            self.log("train_loss", loss, prog_bar=True)
            self.log("train_acc", acc, prog_bar=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    return Classifier


def _loader(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int):
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

    ds = TensorDataset(x, y)  # ds[list_of_indices] gathers a whole batch at once
    gen = torch.Generator().manual_seed(seed)
    sampler = BatchSampler(RandomSampler(ds, generator=gen), batch_size, drop_last=False)
    return DataLoader(ds, sampler=sampler, batch_size=None)


def run(w, x_np, y_np, framework: str = FRAMEWORK) -> dict:
    import lightning as L

    module = _module_class()(tm.build(w.name), w.task, w.lr)
    x, y = torch.from_numpy(tm.shape_x(x_np, w.name)), torch.from_numpy(y_np)
    warm = w.warmup_batches * w.batch_size
    with tempfile.TemporaryDirectory(prefix="bench-lightning-") as root:

        def trainer(**kw):
            return L.Trainer(
                accelerator="cpu", devices=1, enable_model_summary=False, default_root_dir=root,
                **kw,
            )  # fmt: skip

        trainer(max_epochs=1).fit(module, _loader(x[:warm], y[:warm], w.batch_size, 1))

        t0 = time.perf_counter()
        t = trainer(max_epochs=w.epochs)
        t.fit(module, _loader(x, y, w.batch_size, 0))
        seconds = time.perf_counter() - t0
        logs = t.callback_metrics
    return {
        "seconds": seconds,
        # last logged step values (Lightning's default on_step logging), not an epoch mean
        "loss": float(logs.get("train_loss", float("nan"))),
        "accuracy": float(logs.get("train_acc", float("nan"))),
    }
