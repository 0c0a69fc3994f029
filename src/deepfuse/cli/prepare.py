"""``deepfuse prepare``: CSV / JSON lines / image folders into Parquet shards for streaming.

Kept light at import (no torch): the verb imports :mod:`deepfuse.data.prepare` when it runs.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]

_PREPARE_HELP = """examples:
  $ deepfuse prepare clicks.csv --out data/clicks                 # CSV (.csv.gz too) -> Parquet shards
  $ deepfuse prepare events.jsonl --out data/events --rows-per-shard 500000
  $ deepfuse prepare photos/ --out data/photos --format images    # photos/<label>/*.png|jpg
  $ deepfuse prepare logs/ --out data/logs --schema user=int64,amount=float64 --max-bad-fraction 0.05
  $ deepfuse prepare export.csv --out data/export --encoding cp1252 --delimiter ';'

Writes DIR/part-00000.parquet, ... , DIR/_quarantine.jsonl (each malformed row with its file, line
number, reason and raw text) and DIR/_report.json, atomically. Fails (exit 2) only when the share
of malformed rows exceeds --max-bad-fraction; then DIR is not written and the quarantine goes to
DIR.rejected/. Image rows hold the encoded file bytes, with label, path, width and height."""


def add_parser(verbs: Any) -> None:
    """Add the ``prepare`` sub-command to the ``deepfuse`` parser."""
    prepare = verbs.add_parser(
        "prepare",
        help="convert CSV / JSON lines / image folders into Parquet shards",
        description=_PREPARE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prepare.add_argument(
        "src",
        metavar="SRC",
        nargs="+",
        help="a .csv(.gz)/.jsonl file, a folder or glob ('data/*.csv') of them, several of "
        "these (one schema), or an image folder",
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
    prepare.add_argument(
        "--encoding",
        metavar="NAME",
        default="auto",
        help="CSV/TSV encoding: auto (BOM, UTF-8, else cp1252/latin-1) or a codec name, "
        "e.g. latin-1, cp1252, utf-16 (default: auto)",
    )
    prepare.add_argument(
        "--delimiter",
        metavar="CHAR",
        default="auto",
        help="CSV delimiter: auto (one of , ; tab |, sniffed) or one character; '\\t' is a tab "
        "(default: auto)",
    )
    prepare.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    prepare.add_argument("--no-progress", action="store_true", help="no progress bar or lines")


def run(args: argparse.Namespace) -> int:
    """``deepfuse prepare``: convert, then print the summary."""
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
        args.src[0] if len(args.src) == 1 else args.src,
        args.out,
        format=args.format,
        rows_per_shard=args.rows_per_shard,
        max_bad_fraction=args.max_bad_fraction,
        schema=schema,
        overwrite=args.overwrite,
        progress=False if args.no_progress else None,
        encoding=args.encoding,
        delimiter=args.delimiter,
    )
    print(report.summary())
    return 0
