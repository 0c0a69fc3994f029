"""deepfuse: train, evaluate and use deep-learning models from a YAML config.

How to run, on one machine:

    # train the MNIST CNN (>= 99% test accuracy in a few CPU minutes) and print its test metrics
    $ deepfuse train examples/mnist_cnn.yaml

    # any config key can be overridden as key=value (values are YAML: 3, 1e-3, [64,32], {name: sgd})
    $ deepfuse train examples/mnist_cnn.yaml trainer.epochs=1 trainer.optimizer.lr=3e-3 --out runs/

    # your own table: only the file and the column to predict are needed
    $ deepfuse train examples/adult_minimal.yaml

    # use a finished run (runs/<name>-<timestamp>/)
    $ deepfuse evaluate runs/adult-20250101-120000                      # its test set again
    $ deepfuse evaluate runs/adult-20250101-120000 --data other.csv     # another labelled table
    $ deepfuse predict  runs/adult-20250101-120000 new_rows.csv --out predictions.csv
    $ deepfuse info     runs/adult-20250101-120000

    # big data: convert CSV / JSON lines / an image folder into Parquet shards for streaming
    $ deepfuse prepare clicks.csv.gz --out data/clicks

Exit status: 0 on success, 2 on a mistake you can fix (the one-line message says which), 1 on an
internal error (printed with its traceback; please report it).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main"]

PROG = "deepfuse"


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage mistakes on one line (exit 2), like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``deepfuse`` argument parser (one sub-command per verb)."""
    parser = _Parser(
        prog=PROG,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    verbs.required = True

    train = verbs.add_parser("train", help="train a model from a YAML config")
    train.add_argument("config", metavar="CONFIG", help="YAML config file (see examples/)")
    train.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="override config keys, e.g. trainer.epochs=3 model.filters=[32,64]",
    )
    train.add_argument("--out", metavar="DIR", default=None, help="runs folder (default: runs/)")

    evaluate = verbs.add_parser("evaluate", help="evaluate a run on its test set or on --data")
    evaluate.add_argument("run", metavar="RUN", help="run directory written by 'deepfuse train'")
    evaluate.add_argument("--data", metavar="FILE", default=None, help="labelled CSV/Parquet file")

    predict = verbs.add_parser("predict", help="predict labels and probabilities for new rows")
    predict.add_argument("run", metavar="RUN", help="run directory written by 'deepfuse train'")
    predict.add_argument("input", metavar="INPUT", help="CSV/Parquet file of raw rows")
    predict.add_argument(
        "--out", metavar="FILE", default=None, help="output .csv or .parquet (default: beside RUN)"
    )

    info = verbs.add_parser("info", help="show a run's config, model and metrics")
    info.add_argument("run", metavar="RUN", help="run directory written by 'deepfuse train'")
    _add_prepare(verbs)
    return parser


_PREPARE_HELP = """examples:
  $ deepfuse prepare clicks.csv --out data/clicks                 # CSV (.csv.gz too) -> Parquet shards
  $ deepfuse prepare events.jsonl --out data/events --rows-per-shard 500000
  $ deepfuse prepare photos/ --out data/photos --format images    # photos/<label>/*.png|jpg
  $ deepfuse prepare logs/ --out data/logs --schema user=int64,amount=float64 --max-bad-fraction 0.05

Writes DIR/part-00000.parquet, ... , DIR/_quarantine.jsonl (each malformed row with its file, line
number, reason and raw text) and DIR/_report.json, atomically. Fails (exit 2) only when the share
of malformed rows exceeds --max-bad-fraction; then DIR is not written and the quarantine goes to
DIR.rejected/. Image rows hold the encoded file bytes, with label, path, width and height."""


def _add_prepare(verbs: Any) -> None:
    prepare = verbs.add_parser(
        "prepare",
        help="convert CSV / JSON lines / image folders into Parquet shards",
        description=_PREPARE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prepare.add_argument(
        "src", metavar="SRC", help="a .csv(.gz)/.jsonl file, a folder of them, or an image folder"
    )
    prepare.add_argument(
        "--out", metavar="DIR", required=True, help="output folder (must not exist)"
    )
    prepare.add_argument(
        "--format", choices=["csv", "jsonl", "images"], default=None, help="default: from SRC"
    )
    prepare.add_argument(
        "--rows-per-shard",
        metavar="N",
        type=int,
        default=None,
        help="default 1000000 (images 10000)",
    )
    prepare.add_argument(
        "--max-bad-fraction", metavar="F", type=float, default=0.01, help="default 0.01"
    )
    prepare.add_argument(
        "--schema",
        metavar="COL=TYPE,...",
        default=None,
        help="column types, e.g. age=int64,city=string",
    )
    prepare.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    prepare.add_argument("--no-progress", action="store_true", help="no progress bar or lines")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 internal error, 2 user error).

    Example:
        >>> main(["info", "/no/such/run"])  # doctest: +SKIP
        deepfuse: error: Run directory '/no/such/run' does not exist. ...
        2
    """
    args = build_parser().parse_args(argv)
    try:
        return _VERBS[args.verb](args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BaseException as exc:
        message = _user_message(exc)
        if message is None:
            if isinstance(exc, SystemExit):
                raise
            traceback.print_exc()
            print(f"{PROG}: internal error (a bug in deepfuse; please report it)", file=sys.stderr)
            return 1
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


def _user_message(exc: BaseException) -> str | None:
    """One line for a mistake the user can fix, or ``None`` for an internal error."""
    from deepfuse._utils.errors import UserError

    if isinstance(exc, UserError):
        return " ".join(str(exc).split())
    if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
        what = exc.strerror or type(exc).__name__
        return f"{what}: '{exc.filename}'. Check the path." if exc.filename else str(exc)
    if type(exc).__module__.startswith("yaml"):
        return "Invalid YAML: " + " ".join(str(exc).split())
    return None


# ----------------------------------------------------------------------------- verbs
# Heavy modules (torch, deepfuse.api) are imported inside the verbs so `--help` stays fast.


def _train(args: argparse.Namespace) -> int:
    from deepfuse import api
    from deepfuse.config import apply_overrides, load_config

    cfg = apply_overrides(load_config(args.config), args.overrides)
    _fast_cpu_math()
    cfg.setdefault("name", Path(args.config).stem)
    result = api.train(cfg, out_dir=args.out)
    _print_metrics("test", result.metrics.get("test", {}))
    print(f"run: {result.run_dir}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from deepfuse import api

    _print_metrics("test" if args.data is None else "eval", api.evaluate(args.run, data=args.data))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from deepfuse import api

    out = api.predict(args.run, args.input, out=args.out)
    print(f"predictions: {out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from deepfuse import api
    from deepfuse.config import dump_config

    print(dump_config(api.info(args.run)), end="")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from deepfuse._utils.errors import ConfigError
    from deepfuse.data.prepare import prepare

    schema = None
    if args.schema:
        pairs = [item.partition("=") for item in args.schema.split(",") if item.strip()]
        if any(not sep or not name.strip() for name, sep, _ in pairs):
            raise ConfigError(
                f"Invalid --schema {args.schema!r}. Expected COL=TYPE,... e.g. age=int64,city=string."
            )
        schema = {name.strip(): dtype.strip() for name, _, dtype in pairs}
    report = prepare(
        args.src,
        args.out,
        format=args.format,
        rows_per_shard=args.rows_per_shard,
        max_bad_fraction=args.max_bad_fraction,
        schema=schema,
        overwrite=args.overwrite,
        progress=False if args.no_progress else None,
    )
    print(report.summary())
    return 0


def _fast_cpu_math() -> None:
    """Flush denormal floats to zero for this process (LSTMs run ~14x slower on CPU without it;
    Keras/TensorFlow do the same by default). Training results are unaffected in practice."""
    import torch

    torch.set_flush_denormal(True)


_VERBS = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "info": _info,
    "prepare": _prepare,
}


def _print_metrics(prefix: str, metrics: dict[str, Any]) -> None:
    for name, value in metrics.items():
        if isinstance(value, float):
            print(f"{prefix} {name}: {value:.4f}")
        elif isinstance(value, int):
            print(f"{prefix} {name}: {value}")


if __name__ == "__main__":
    sys.exit(main())
