"""Distributed benchmark: deepfuse on 2 Ray workers vs a hand-written torch DDP (gloo) loop on 2
processes, same MNIST CNN, same global batch, in one run; plus the single-process accuracy.

Run (from the repository root, nothing else running; needs ``pip install 'deepfuse[ray]'``):

    DEEPFUSE_DATA_DIR=/work/shared/datasets .venv/bin/python bench/distributed.py
    .venv/bin/python bench/distributed.py --epochs 1 --limit 12000      # a quick check

Cells, one after the other, each with 1 torch thread per process (2 processes on 2 cores):

1. ``deepfuse-1``: ``deepfuse.api.train`` of examples/mnist_cnn.yaml on one process (the
   accuracy reference; its throughput is printed, not compared: it has one core, not two).
2. ``torch-ddp``: a plain PyTorch loop (DDP + Adam + OneCycleLR, batches gathered by index from
   in-memory tensors, each rank its half of every global batch) on 2 processes started by
   torch.multiprocessing: the same network, data and global batch.
3. ``deepfuse-ray``: the same config with ``trainer.strategy: {name: ray, workers: 2}``.

Throughput = training rows x epochs / training time of rank 0 (the fit loop only: data loading and
process start are reported apart as wall time). Writes bench/results/distributed.md.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per process: 2 processes, 2 cores

import torch  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from torch import nn  # noqa: E402

from bench.machine import cpu_model, package_versions  # noqa: E402

RESULTS = REPO / "bench" / "results" / "distributed.md"


def _config(epochs: int, limit: int | None) -> dict[str, Any]:
    from deepfuse.config import load_config

    cfg = load_config(REPO / "examples" / "mnist_cnn.yaml")
    cfg["trainer"].update(epochs=epochs, verbose=0)
    cfg["data"]["validation_split"] = 0.0  # train on every row, as the torch loop does
    if limit:
        cfg["data"]["limit"] = limit
    return cfg


# ----------------------------------------------------------------------------- hand-written DDP
def _torch_cnn() -> nn.Module:
    """examples/mnist_cnn.yaml's network written in plain torch (same layers and sizes)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10),
    )  # fmt: skip


def _ddp_worker(rank: int, world: int, port: int, cfg: dict[str, Any], out: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from deepfuse.datasets import load_mnist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    (x, y), (xt, yt) = load_mnist()
    n = min(cfg["data"].get("limit") or len(x), len(x))
    x = torch.from_numpy(x[:n]).float().div_(255).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.from_numpy(y[:n])
    trainer = cfg["trainer"]
    bs = trainer["batch_size"]  # global batch; this rank takes its 1/world of each
    steps = n // bs
    torch.manual_seed(0)
    model = DDP(_torch_cnn())
    opt = torch.optim.Adam(model.parameters(), lr=trainer["optimizer"]["lr"])
    epochs = trainer["epochs"]
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=trainer["schedule"]["max_lr"], epochs=epochs, steps_per_epoch=steps
    )
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)  # same permutation on every rank
    per = bs // world
    dist.barrier()
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        for i in range(steps):
            # Whole-batch gather by index (no per-sample Dataset/collate): the fast way by hand.
            idx = order[i * bs + rank * per : i * bs + (rank + 1) * per]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    dist.barrier()
    train_time = time.perf_counter() - start
    if rank == 0:
        model.eval()
        with torch.no_grad():
            xt_t = torch.from_numpy(xt).float().div_(255).unsqueeze(1)
            pred = torch.cat([model.module(c).argmax(1) for c in xt_t.split(1000)])
        acc = float((pred == torch.from_numpy(yt)).float().mean())
        rows = steps * bs
        Path(out).write_text(json.dumps({"train_time_s": train_time, "rows": rows, "acc": acc}))
    dist.destroy_process_group()


def run_torch_ddp(cfg: dict[str, Any], world: int) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tempfile.mktemp(suffix=".json")
    start = time.perf_counter()
    mp.spawn(_ddp_worker, args=(world, port, cfg, out), nprocs=world, join=True)
    wall = time.perf_counter() - start
    got = json.loads(Path(out).read_text())
    os.unlink(out)
    epochs = cfg["trainer"]["epochs"]
    return {
        "train_time_s": got["train_time_s"],
        "samples_per_s": got["rows"] * epochs / got["train_time_s"],
        "test_accuracy": got["acc"],
        "wall_s": wall,
    }


# ----------------------------------------------------------------------------- deepfuse
def run_deepfuse(cfg: dict[str, Any], runs: Path) -> dict[str, Any]:
    from deepfuse.api import train

    start = time.perf_counter()
    result = train(copy.deepcopy(cfg), out_dir=runs)
    wall = time.perf_counter() - start
    m = result.metrics
    epochs = m["epochs"]
    return {
        "train_time_s": m["train_time_s"],
        "samples_per_s": m["rows"]["train"] * epochs / m["train_time_s"],
        "test_accuracy": m["test"]["accuracy"],
        "wall_s": wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use the first N training rows")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="alternating DDP/Ray repetitions")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = _config(args.epochs, args.limit)
    runs = Path(tempfile.mkdtemp(prefix="deepfuse-bench-dist-"))
    ray_cfg = copy.deepcopy(cfg)
    ray_cfg["trainer"]["strategy"] = {
        "name": "ray", "workers": args.workers, "storage_path": str(runs / "ray")
    }  # fmt: skip
    cells = [("deepfuse-1", lambda: run_deepfuse(cfg, runs))]
    for _ in range(args.repeats):  # alternate, so a busy moment does not hit one side only
        cells.append(("torch-ddp", lambda: run_torch_ddp(cfg, args.workers)))
        cells.append(("deepfuse-ray", lambda: run_deepfuse(ray_cfg, runs)))
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, cell in cells:
        load = os.getloadavg()[0]
        print(f"{name} (load average {load:.1f}) ...", flush=True)
        result = cell()
        result["load"] = load
        print(f"  {result}", flush=True)
        rows.setdefault(name, []).append(result)
    text = _markdown(rows, args, cfg)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def _markdown(rows: dict[str, list[dict[str, Any]]], args: argparse.Namespace, cfg: dict) -> str:
    ddp = _median(rows["torch-ddp"], "samples_per_s")
    ray = _median(rows["deepfuse-ray"], "samples_per_s")
    acc = {name: _median(r, "test_accuracy") for name, r in rows.items()}
    lines = [
        "# Distributed: deepfuse on Ray vs a hand-written torch DDP loop",
        "",
        f"{dt.date.today()} · {cpu_model()} · {os.cpu_count()} cores · "
        f"{', '.join(f'{k} {v}' for k, v in package_versions(['torch', 'ray']).items())} · "
        f"`bench/distributed.py --epochs {args.epochs} --repeats {args.repeats}"
        f"{f' --limit {args.limit}' if args.limit else ''}`",
        "",
        f"MNIST CNN (examples/mnist_cnn.yaml, no validation split), global batch "
        f"{cfg['trainer']['batch_size']}, {args.epochs} epochs, {args.workers} processes x 1 "
        "torch thread (gloo). Medians over the repetitions; every value in brackets.",
        "",
        "| run | samples/s | vs torch DDP | train s | wall s (incl. start) | test accuracy |"
        " load avg at start |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rs in rows.items():
        sps = _median(rs, "samples_per_s")
        every = ", ".join(f"{r['samples_per_s']:.0f}" for r in rs)
        loads = ", ".join(f"{r['load']:.1f}" for r in rs)
        lines.append(
            f"| {name} | {sps:.0f} [{every}] | {sps / ddp:.2f}x | "
            f"{_median(rs, 'train_time_s'):.1f} | {_median(rs, 'wall_s'):.1f} | "
            f"{100 * acc[name]:.2f}% | {loads} |"
        )
    diff = 100 * (acc["deepfuse-ray"] - acc["deepfuse-1"])
    lines += [
        "",
        f"- deepfuse on Ray / hand-written DDP throughput: **{ray / ddp:.2f}x**.",
        f"- Ray {args.workers}-worker test accuracy minus single process: **{diff:+.2f} points**.",
        "- deepfuse-1 runs on one core, the others on two: its ratio is not an overhead.",
        "- This machine is shared (load average > 2 means other work competed for the 2 cores):"
        " treat differences under ~20% as noise.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
