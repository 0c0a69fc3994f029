"""``deepfuse attack`` and ``deepfuse explain``: robustness curve and explanations of a run.

    $ deepfuse attack  runs/mnist_cnn-20250101-120000 --eps 0,0.05,0.1,0.2,0.3 [--attack pgd]
    $ deepfuse explain runs/adult-20250101-120000 --data examples/data/adult_test.csv.gz
    $ deepfuse explain runs/mnist_cnn-20250101-120000 --method saliency --limit 8

Kept light at import (no torch): the verbs import the API when they run.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["VERBS", "add_parsers"]


def _eps_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers like 0,0.05,0.1; got {text!r}"
        ) from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers >= 0; got {text!r}")
    return values


def add_parsers(verbs: Any) -> None:
    """Add the ``attack`` and ``explain`` sub-commands to the ``deepfuse`` parser."""
    attack = verbs.add_parser(
        "attack", help="robust accuracy of a run against FGSM/PGD for each --eps"
    )
    attack.add_argument("run", metavar="RUN", help="run directory written by 'deepfuse train'")
    attack.add_argument(
        "--eps",
        type=_eps_list,
        default=[0.0, 0.05, 0.1, 0.2, 0.3],
        help="default 0,0.05,0.1,0.2,0.3",
    )
    attack.add_argument("--attack", choices=["fgsm", "pgd"], default="fgsm")
    attack.add_argument("--steps", type=int, default=10, help="PGD steps (default 10)")
    attack.add_argument(
        "--data", metavar="FILE", default=None, help="labelled file (default: test set)"
    )
    attack.add_argument("--limit", metavar="N", type=int, default=None, help="first N rows only")

    explain = verbs.add_parser(
        "explain", help="rank raw columns by permutation importance, or saliency / IG maps"
    )
    explain.add_argument("run", metavar="RUN", help="run directory written by 'deepfuse train'")
    explain.add_argument("--data", metavar="FILE", default=None, help="labelled CSV/Parquet file")
    explain.add_argument(
        "--method", choices=["permutation", "saliency", "ig"], default="permutation"
    )
    explain.add_argument(
        "--metric", default="accuracy", help="permutation score (default accuracy)"
    )
    explain.add_argument("--repeats", type=int, default=5, help="shuffles per column (default 5)")
    explain.add_argument("--seed", type=int, default=0)
    explain.add_argument("--limit", metavar="N", type=int, default=None, help="first N rows only")


def _attack(args: argparse.Namespace) -> int:
    import torch

    from deepfuse.api.explain import attack

    torch.set_flush_denormal(True)
    result = attack(
        args.run, args.eps, method=args.attack, data=args.data, limit=args.limit, steps=args.steps
    )
    print(f"{result['attack']} robust accuracy ({result['rows']} rows):")
    for eps, acc in zip(result["eps"], result["accuracy"]):
        print(f"  eps {eps:<6g} accuracy {acc:.4f}")
    print(f"written: {args.run.rstrip('/')}/robustness.json")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from deepfuse.api.explain import explain

    result = explain(
        args.run,
        args.data,
        method=args.method,
        metric=args.metric,
        n_repeats=args.repeats,
        seed=args.seed,
        limit=args.limit,
    )
    if args.method != "permutation":
        print(f"{result['method']} attributions for {result['rows']} rows: {result['file']}")
        return 0
    print(
        f"permutation importance ({result['metric']} drop, baseline {result['baseline']:.4f}, "
        f"{result['rows']} rows, {result['n_repeats']} repeats):"
    )
    for rank, row in enumerate(result["ranking"], 1):
        print(f"  {rank:>2}. {row['column']:<24} {row['mean']:+.4f} ± {row['std']:.4f}")
    print(f"written: {args.run.rstrip('/')}/importance.json")
    return 0


VERBS = {"attack": _attack, "explain": _explain}
