"""deepfuse: train, evaluate and use deep-learning models from a YAML config.

How to run, on one machine:

    # train the MNIST CNN (>= 99% test accuracy in a few CPU minutes) and print its test metrics
    $ deepfuse train examples/mnist_cnn.yaml

    # a killed run continues from its last checkpoint (every epoch; trainer.checkpoint_every=N
    # adds one every N steps), bit-identical to an uninterrupted run on CPU
    $ deepfuse train --resume runs/mnist_cnn-20250101-120000.partial

    # any config key can be overridden as key=value (values are YAML: 3, 1e-3, [64,32], {name: sgd})
    $ deepfuse train examples/mnist_cnn.yaml trainer.epochs=1 trainer.optimizer.lr=3e-3 --out runs/

    # your own table: only the file and the column to predict are needed
    $ deepfuse train examples/adult_minimal.yaml

    # use a finished run (runs/<name>-<timestamp>/)
    $ deepfuse evaluate runs/adult-20250101-120000                      # its test set again
    $ deepfuse evaluate runs/adult-20250101-120000 --data other.csv     # another labelled table

    # 5-fold cross-validation of a config (stratified for classes): per-fold table, mean ± std
    $ deepfuse cv examples/adult.yaml --folds 5 --out runs/
    $ deepfuse predict  runs/adult-20250101-120000 new_rows.csv --out predictions.csv
    $ deepfuse info     runs/adult-20250101-120000

    # plots of a run: curves, confusion matrix, ROC, PR -> RUN/plots/*.png
    $ deepfuse plot    runs/mnist_cnn-20250101-120000

    # every run (and cv folder) has RUN/report.html, one self-contained page; rewrite it with
    $ deepfuse report  runs/mnist_cnn-20250101-120000

    # robustness and explanations of a run: FGSM/PGD accuracy curve, ranked raw columns
    $ deepfuse attack  runs/mnist_cnn-20250101-120000 --eps 0,0.05,0.1,0.2,0.3
    $ deepfuse explain runs/adult-20250101-120000 --data examples/data/adult_test.csv.gz

    # more than one process: 2 Ray workers here, or join a cluster (--address / RAY_ADDRESS);
    # batch_size stays the global batch; a failed worker restarts from the last epoch (Ray)
    $ deepfuse train examples/mnist_cnn.yaml --workers 2
    $ deepfuse train cfg.yaml --workers 16 --gpus-per-worker 1 --address auto --max-failures 3

    # big data: convert CSV / JSON lines / an image folder into Parquet shards for streaming
    $ deepfuse prepare clicks.csv.gz --out data/clicks

    # a generator run (task: generate): 64 new samples as one PNG grid
    $ deepfuse sample  runs/mnist_gan-20250101-120000 --n 64 --out grid.png

    # the dashboard (deepfuse[ui]): runs sortable by metric, live curves, compare runs
    $ deepfuse ui runs/ --port 8765            # then open http://127.0.0.1:8765/

Exit status: 0 on success, 2 on a mistake you can fix (the one-line message says which), 1 on an
internal error (printed with its traceback; please report it).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from deepfuse.cli import prepare, robustness, sample
from deepfuse.run.layout import DEFAULT_RUNS_DIR, REPORT_FILE  # torch-free: --help stays fast

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
    train.add_argument(
        "config", metavar="CONFIG", nargs="?", help="YAML config file (see examples/)"
    )
    train.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="override config keys, e.g. trainer.epochs=3 model.filters=[32,64]",
    )
    train.add_argument("--out", metavar="DIR", default=None, help="runs folder (default: runs/)")
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        default=None,
        help="continue a killed run from its last checkpoint (with its own config.yaml)",
    )
    train.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=None,
        help="train on N Ray workers (pip install 'deepfuse[ray]'); default: this process",
    )
    train.add_argument(
        "--address", metavar="ADDR", default=None, help="Ray cluster to join (default: RAY_ADDRESS)"
    )
    train.add_argument(
        "--gpus-per-worker", metavar="G", type=float, default=None, help="GPUs per Ray worker"
    )
    train.add_argument(
        "--max-failures",
        metavar="K",
        type=int,
        default=None,
        help="restart a failed worker group up to K times from its last checkpoint",
    )

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
    plot = verbs.add_parser(
        "plot", help="draw a run's curves, confusion matrix, ROC and PR into RUN/plots/"
    )
    plot.add_argument("run", metavar="RUN", help="run directory written by 'deepfuse train'")
    plot.add_argument("--format", choices=["png", "svg", "pdf"], default="png")
    prepare.add_parser(verbs)
    _add_cv(verbs)
    _add_report(verbs)
    robustness.add_parsers(verbs)  # attack, explain
    sample.add_parser(verbs)
    _add_ui(verbs)
    return parser


def _add_ui(verbs: Any) -> None:
    ui = verbs.add_parser(
        "ui",
        help="a local read-only web dashboard of a runs folder (pip install 'deepfuse[ui]')",
        description="Serve a dashboard of RUNS_DIR: runs sortable by any metric, each run's "
        "curves (live while it trains), confusion matrix and report, and runs compared side "
        "by side. Read-only; listens on 127.0.0.1 unless --host says otherwise.",
    )
    ui.add_argument(
        "runs_dir",
        metavar="RUNS_DIR",
        nargs="?",
        default=DEFAULT_RUNS_DIR,
        help=f"default: {DEFAULT_RUNS_DIR}/",
    )
    ui.add_argument("--port", type=_port, default=8765, help="default 8765 (0: any free port)")
    ui.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")


def _port(text: str) -> int:
    """A TCP port number, 0 to 65535 (argparse reports anything else on one line, exit 2)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"invalid port {text[:20]!r}: expected an integer from 0 to 65535, e.g. --port 8765"
        )
    return port


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 internal error, 2 user error).

    Example:
        >>> main(["info", "/no/such/run"])  # doctest: +SKIP
        deepfuse: error: Run directory '/no/such/run' does not exist. ...
        2
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage mistake (2, its one line printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        with warnings.catch_warnings():  # restored on return: main() may run in-process
            warnings.showwarning = _show_warning
            return _VERBS[args.verb](args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`deepfuse info RUN | head`): not an error of ours. Point stdout
        # at /dev/null so the interpreter's final flush does not raise again; 141 = 128 + SIGPIPE,
        # what a shell reports for a program stopped by a closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
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


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """A warning as one line, ``deepfuse: warning: ...`` (not Python's file:line + source)."""
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _user_message(exc: BaseException) -> str | None:
    """One line for a mistake the user can fix, or ``None`` for an internal error."""
    from deepfuse._utils.errors import UserError

    if isinstance(exc, UserError):
        return " ".join(str(exc).split())
    if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
        what = exc.strerror or type(exc).__name__
        # a rename's second name is the user's path; the first, a temp file of ours
        name = exc.filename2 or exc.filename
        return f"{what}: '{name}'. Check the path." if name else str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        name = str(exc.filename2 or exc.filename or "")
        shown = name if len(name) <= 120 else f"{name[:60]}...{name[-40:]}"
        return (
            f"File name too long ({len(name)} characters): '{shown}'. Use a shorter name or path."
        )
    if type(exc).__module__.startswith("yaml"):
        return "Invalid YAML: " + " ".join(str(exc).split())
    return None


# ----------------------------------------------------------------------------- verbs
# Heavy modules (torch, deepfuse.api) are imported inside the verbs so `--help` stays fast.


def _train(args: argparse.Namespace) -> int:
    from deepfuse import api
    from deepfuse._utils.errors import ConfigError

    if args.resume is not None:
        _fast_cpu_math()
        result = api.train(resume=_resume_target(args))
    else:
        if args.config is None:
            raise ConfigError("train needs a CONFIG file (or --resume RUN_DIR).")
        cfg = _config_of(args)
        _ray_flags(cfg, args)
        _fast_cpu_math()
        result = api.train(cfg, out_dir=args.out)
    if result.metrics.get("stopped"):  # why training ended: early stopping, time budget, ...
        print(f"stopped: {result.metrics['stopped']['message']}")
    balance = result.metrics.get("imbalance") or {}
    if balance.get("imbalanced"):
        big, small = balance["largest"], balance["smallest"]
        done = ", ".join(balance["handled"]) or "nothing (the config chose the loss and metrics)"
        print(
            f"imbalanced classes: largest {big['label']!r} has {balance['ratio']:g}x the rows "
            f"of smallest {small['label']!r} ({big['rows']:,} vs {small['rows']:,}); handled by: "
            f"{done}"
        )
    _print_metrics("test", result.metrics.get("test", {}))
    _print_folder("run", result.run_dir)
    return 0


def _config_of(args: argparse.Namespace) -> dict[str, Any]:
    """CONFIG with its KEY=VALUE overrides; the run is named after the file by default."""
    from deepfuse.config import apply_overrides, load_config

    cfg = apply_overrides(load_config(args.config), args.overrides)
    cfg.setdefault("name", Path(args.config).stem[:100])  # the longest run name
    return cfg


def _print_folder(label: str, folder: Path) -> None:
    """The report's path, then the folder: the last line, which scripts read."""
    if (folder / REPORT_FILE).is_file():
        print(f"report: {folder / REPORT_FILE}")
    print(f"{label}: {folder}")


def _resume_target(args: argparse.Namespace) -> str:
    """--resume RUN_DIR alone: a resumed run keeps its own config (what makes it identical)."""
    from deepfuse._utils.errors import ConfigError

    if args.config is not None or args.overrides or args.out is not None:
        raise ConfigError(
            "train --resume RUN_DIR takes no CONFIG, KEY=VALUE or --out: the run continues in "
            "its own folder with its own config.yaml."
        )
    return args.resume


def _ray_flags(cfg: dict[str, Any], args: argparse.Namespace) -> None:
    """--workers/--address/--gpus-per-worker/--max-failures -> trainer.strategy (Ray)."""
    from deepfuse._utils.errors import ConfigError

    flags = {
        "workers": args.workers,
        "address": args.address,
        "gpus_per_worker": args.gpus_per_worker,
        "max_failures": args.max_failures,
    }
    given = {k: v for k, v in flags.items() if v is not None}
    if not given:
        return
    if args.workers is None:
        raise ConfigError(
            f"--{next(iter(given)).replace('_', '-')} needs --workers N (the number of Ray workers)."
        )
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1; got {args.workers}.")
    trainer = cfg.setdefault("trainer", {}) or {}
    cfg["trainer"] = trainer
    current = trainer.get("strategy")
    # keep trainer.strategy.* options given in the config or as key=value (storage_path, ...)
    base = (
        dict(current) if isinstance(current, dict) and current.get("name", "ray") == "ray" else {}
    )
    trainer["strategy"] = {**base, "name": "ray", **given}


def _evaluate(args: argparse.Namespace) -> int:
    from deepfuse.api.use import evaluate_run
    from deepfuse.evaluation import format_evaluation

    ev = evaluate_run(args.run, data=args.data)
    _print_metrics("test" if args.data is None else "eval", ev.scores)  # "test accuracy: X"
    print()
    print(format_evaluation(ev.result))
    print(f"evaluation: {ev.path}")
    return 0


def _add_cv(verbs: Any) -> None:
    cv = verbs.add_parser(
        "cv",
        help="k-fold cross-validation of a config: per-fold scores, mean ± std",
        description="Train and evaluate CONFIG on K folds of its training data (stratified "
        "for classification). Writes DIR/cv-<name>-<timestamp>/cv.json, cv.csv, config.yaml.",
    )
    cv.add_argument("config", metavar="CONFIG", help="YAML config file (see examples/)")
    cv.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="override config keys, as for train"
    )
    cv.add_argument("--folds", metavar="K", type=int, default=5, help="number of folds (default 5)")
    cv.add_argument("--out", metavar="DIR", default=None, help="output folder (default: runs/)")


def _cv(args: argparse.Namespace) -> int:
    from deepfuse.api.cv import cross_validate
    from deepfuse.evaluation import format_folds

    cfg = _config_of(args)
    _fast_cpu_math()

    def progress(row: dict[str, Any]) -> None:
        scores = [(k, v) for k, v in row.items() if isinstance(v, float)][:3]  # headline first
        shown = ", ".join(f"{k} {v:.4f}" for k, v in scores)
        print(f"fold {row['fold']}/{args.folds}: {shown}", flush=True)

    result = cross_validate(cfg, folds=args.folds, out_dir=args.out, on_fold=progress)
    print()
    print(format_folds(result.per_fold, result.summary, result.metrics))
    _print_folder("cv", result.out_dir)
    return 0


def _add_report(verbs: Any) -> None:
    report = verbs.add_parser(
        "report",
        help="(re)write RUN/report.html: one self-contained page of the run",
        description="Write RUN/report.html from the run directory: curves, evaluation, a look "
        "inside the model, confidently wrong examples, data, model summary, config, timings and "
        "environment (images embedded, no network, no JavaScript). Every run and cv folder "
        "already has one; this rewrites it. Prints the path.",
    )
    report.add_argument(
        "run", metavar="RUN", help="run directory of 'deepfuse train' (or a cv folder)"
    )


def _report(args: argparse.Namespace) -> int:
    from deepfuse.api.report import report

    print(report(args.run))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from deepfuse import api

    out = api.predict(args.run, args.input, out=args.out)
    print(f"predictions: {out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from deepfuse.config import dump_config
    from deepfuse.run import read_run

    print(dump_config(read_run(args.run).info()), end="")
    return 0


def _fast_cpu_math() -> None:
    """Flush denormal floats to zero for this process (LSTMs run ~14x slower on CPU without it;
    Keras/TensorFlow do the same by default). Training results are unaffected in practice."""
    import torch

    torch.set_flush_denormal(True)


def _plot(args: argparse.Namespace) -> int:
    from deepfuse.viz import plot_run

    for path in plot_run(args.run, fmt=args.format):
        print(path)
    return 0


def _ui(args: argparse.Namespace) -> int:
    from deepfuse.ui.server import serve

    serve(args.runs_dir, host=args.host, port=args.port)
    return 0


_VERBS = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "info": _info,
    "prepare": prepare.run,
    "cv": _cv,
    "plot": _plot,
    "report": _report,
    "ui": _ui,
    **robustness.VERBS,
    **sample.VERBS,
}


def _print_metrics(prefix: str, metrics: dict[str, Any]) -> None:
    for name, value in metrics.items():
        if isinstance(value, float):
            print(f"{prefix} {name}: {value:.4f}")
        elif isinstance(value, int):
            print(f"{prefix} {name}: {value}")


if __name__ == "__main__":
    sys.exit(main())
