"""``deepfuse sample``: new samples of a generator run (``task: generate``) as one PNG grid.

    $ deepfuse sample runs/mnist_gan-20250101-120000 --n 64 --out grid.png
    $ deepfuse sample runs/fashion_wgan-20250101-120000 --n 16 --label Bag --seed 3 --out bags.png

Kept light at import (no torch): the verb imports the API when it runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["VERBS", "add_parser"]


def add_parser(verbs: Any) -> None:
    """Add the ``sample`` sub-command to the ``deepfuse`` parser."""
    sample = verbs.add_parser(
        "sample",
        help="draw new samples from a generator run into a PNG grid",
        description="Draw N samples from the generator of RUN (task: generate) and write them "
        "side by side into one PNG. The same --seed gives the same grid. Prints the path; "
        "with the run's scorer, also the samples' class histogram and a mode-collapse warning.",
    )
    sample.add_argument("run", metavar="RUN", help="run directory written by 'deepfuse train'")
    sample.add_argument(
        "--n", metavar="N", type=int, default=64, help="number of samples, 1 to 1024 (default 64)"
    )
    sample.add_argument("--out", metavar="FILE", required=True, help="the .png file to write")
    sample.add_argument("--seed", metavar="S", type=int, default=0, help="noise seed (default 0)")
    sample.add_argument(
        "--label",
        metavar="CLASS",
        default=None,
        help="a class of the run (name or index): conditional generators only",
    )


def _sample(args: argparse.Namespace) -> int:
    from deepfuse.api.sample import sample

    result = sample(args.run, n=args.n, out=args.out, seed=args.seed, label=args.label)
    hist = result.histogram
    if hist is not None:
        counts = ", ".join(f"{c}: {k}" for c, k in zip(hist["classes"], hist["counts"]))
        print(f"classes of the samples (by the run's scorer): {counts}")
        if hist["warning"]:
            print(f"deepfuse: warning: {hist['warning']}", file=sys.stderr)
    print(f"samples: {result.path}")
    return 0


VERBS = {"sample": _sample}
