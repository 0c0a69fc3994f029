"""``torch`` cell: the hand-written PyTorch loop every other cell is measured against.

Idiomatic tutorial loop over in-memory tensors: randperm + index gather per batch,
zero_grad / forward / loss / backward / step, running loss and accuracy with ``.item()``.
"""

from __future__ import annotations

import time

import torch

from bench.cells import torch_models as tm

FRAMEWORK = "torch"


def available(framework: str, workload: str) -> str | None:
    return None


def version() -> str:
    return torch.__version__


def _train(model, opt, loss_fn, x, y, batch_size, task, epochs=1):
    n = len(x)
    loss_sum, correct, seen = 0.0, 0, 0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n)
        loss_sum, correct, seen = 0.0, 0, 0
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += tm.n_correct(out, yb, task).item()
            seen += len(idx)
    return loss_sum / max(seen, 1), correct / max(seen, 1)


def run(w, x_np, y_np, framework: str = FRAMEWORK) -> dict:
    model = tm.build(w.name)
    opt = torch.optim.Adam(model.parameters(), lr=w.lr)
    loss_fn = tm.loss_fn(w.task)
    warm = w.warmup_batches * w.batch_size
    x, y = torch.from_numpy(tm.shape_x(x_np, w.name)), torch.from_numpy(y_np)
    _train(model, opt, loss_fn, x[:warm], y[:warm], w.batch_size, w.task)

    t0 = time.perf_counter()
    x, y = torch.from_numpy(tm.shape_x(x_np, w.name)), torch.from_numpy(y_np)
    loss, acc = _train(model, opt, loss_fn, x, y, w.batch_size, w.task, epochs=w.epochs)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "loss": loss, "accuracy": acc}
