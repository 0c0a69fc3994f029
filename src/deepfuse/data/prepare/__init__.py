"""Convert CSV, JSON lines and image folders into Parquet shards sized for streaming.

``prepare(src, out)`` writes ``out/part-00000.parquet``, ... (row groups of ``row_group_size``
rows, shards of ``rows_per_shard`` rows), ``out/_quarantine.jsonl`` (one JSON line per malformed
row: ``file``, 1-based ``line``, ``reason``, ``detail``, ``raw`` text) and ``out/_report.json``.
Nothing is dropped silently: ``rows_written + rows_quarantined == rows_read`` is checked on every
run. Quarantine reasons: ``wrong_column_count``, ``invalid_number``, ``invalid_utf8``,
``unterminated_quote`` (CSV); ``invalid_json``, ``invalid_value``, ``invalid_utf8`` (JSON lines);
``corrupt_image`` (images).
Blank lines are not rows. Image rows hold the encoded file bytes (see ``_images``).

The output appears in one rename of a fully written, fsynced staging folder, so a folder under
the final name is always complete. When the share of bad rows exceeds ``max_bad_fraction`` no
output is published: the quarantine and report go to ``<out>.rejected/`` and a
:class:`~deepfuse._utils.errors.DataError` says so.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "t.csv").write_text("x,y\\n1,a\\n2,b\\noops,c\\n4,d,extra\\n")
    >>> report = prepare(d / "t.csv", d / "out", schema={"x": "int64"}, max_bad_fraction=0.5,
    ...                  progress=False)
    >>> report.rows_read, report.rows_written, report.quarantined_by_reason
    (4, 2, {'invalid_number': 1, 'wrong_column_count': 1})
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from deepfuse._utils.errors import ConfigError, DataError, format_message, invalid_choice
from deepfuse._utils.io import atomic_write_json
from deepfuse.data.csv_rows import read_csv
from deepfuse.data.dialect import check_delimiter, check_encoding, sniff
from deepfuse.data.formats import format_or_none, suffixes
from deepfuse.data.json_rows import read_jsonl
from deepfuse.data.prepare._images import read_images
from deepfuse.data.prepare._sink import REPORT_NAME, Progress, ShardWriter, Staging
from deepfuse.data.quarantine import QUARANTINE_NAME, Quarantine
from deepfuse.data.tabular_rows import Context

__all__ = ["FORMATS", "PrepareReport", "prepare"]

FORMATS = ("csv", "tsv", "jsonl", "images")
_TABULAR = ("csv", "tsv", "jsonl")  # the text formats of the one table (deepfuse.data.formats)
_GLOB_CHARS = set("*?[")
# (rows_per_shard, row_group_size) defaults: image rows are ~1000x wider than tabular rows.
_DEFAULTS = {**dict.fromkeys(_TABULAR, (1_000_000, 65_536)), "images": (10_000, 256)}


def _tabular(name: str | os.PathLike) -> str | None:
    """``csv`` / ``tsv`` / ``jsonl`` for a file name prepare reads, else ``None``."""
    fmt = format_or_none(name)
    return fmt if fmt in _TABULAR else None


@dataclass
class PrepareReport:
    """What ``prepare`` did; also written to ``out/_report.json``.

    Attributes:
        source: The input path. out: The output folder. format: csv, tsv, jsonl or images.
        rows_read: Rows found (blank lines and CSV headers are not rows).
        rows_written: Good rows, in the shards, in source order.
        rows_quarantined: Bad rows, in ``_quarantine.jsonl``; ``written + quarantined == read``.
        quarantined_by_reason: Bad-row count per reason. shards: Shard file names.
        schema: Column name to Arrow type. bad_fraction: ``rows_quarantined / rows_read``.
        status: ``"ok"`` or ``"rejected"`` (too many bad rows). seconds: Wall time.
    """

    source: str
    out: str
    format: str
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)
    schema: dict[str, str] = field(default_factory=dict)
    bad_fraction: float = 0.0
    status: str = "ok"
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return asdict(self)

    def summary(self) -> str:
        """A few human-readable lines: the counts, the reasons, where the output is."""
        lines = [
            f"rows read: {self.rows_read}",
            f"rows written: {self.rows_written} in {len(self.shards)} shard(s)",
            f"rows quarantined: {self.rows_quarantined} ({self.bad_fraction:.2%})",
        ]
        lines += [f"  {reason}: {n}" for reason, n in sorted(self.quarantined_by_reason.items())]
        lines.append(f"output: {self.out}")
        return "\n".join(lines)


def prepare(
    src: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    format: str | None = None,  # the CLI flag's name
    rows_per_shard: int | None = None,
    row_group_size: int | None = None,
    max_bad_fraction: float = 0.01,
    schema: Mapping[str, str | pa.DataType] | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    block_size: int = 4 << 20,
    encoding: str | None = "auto",
    delimiter: str | None = "auto",
) -> PrepareReport:
    """Convert a CSV / TSV / JSON-lines file (or a folder of them) or an image folder into Parquet shards.

    Args:
        src: A ``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``/``.json`` file (each also ``.gz`` or
            ``.bz2``; see :mod:`deepfuse.data.formats`), a folder of such files,
            a glob (``"data/*.csv"``, ``**`` allowed) or a list of these (one schema: every file
            has the first one's columns), or an image folder ``root/<label>/*.png|jpg``.
            CSV fields may hold newlines inside quotes (RFC 4180); the quarantine names the
            file and the physical line where each bad record starts.
        out: Output folder; created atomically. Must not exist unless ``overwrite=True``.
        format: ``"csv"``, ``"tsv"``, ``"jsonl"`` or ``"images"``; guessed from ``src`` when ``None``.
        rows_per_shard: Rows per ``part-NNNNN.parquet`` (default 1,000,000; images 10,000).
        row_group_size: Rows per Parquet row group (default 65,536; images 256).
        max_bad_fraction: Fail (:class:`DataError`) when more than this share of rows is bad.
        schema: Column types, e.g. ``{"age": "int64", "city": "string"}``; columns not named are
            typed from the first chunk (numeric when >= 99% of its non-empty cells parse).
        overwrite: Replace an existing ``out``.
        progress: Show progress (tqdm on a terminal, plain lines otherwise); ``None`` = yes.
        block_size: Bytes read per chunk (default 4 MiB; the first chunk types the columns).
            Memory stays bounded by a few tens of times this, whatever the file size.
        encoding: CSV/TSV: ``"auto"`` (BOM, UTF-8, else cp1252/latin-1; per file) or a codec
            name, used strictly (:mod:`deepfuse.data.dialect`). JSON lines are UTF-8.
        delimiter: CSV: ``"auto"`` (sniffed per file among ``,`` ``;`` tab ``|``; a tab for
            ``.tsv``) or one character.

    Returns:
        A :class:`PrepareReport` (also in ``out/_report.json``).

    Raises:
        DataError: Missing/unknown input, ``out`` exists, too many bad rows, or a byte a
            named ``encoding`` cannot decode (the message names the byte offset).
        ConfigError: An unknown ``encoding`` or an invalid ``delimiter``.

    Example:
        >>> report = prepare("clicks.csv", "data/clicks", rows_per_shard=500_000)  # doctest: +SKIP
        >>> print(report.summary())  # doctest: +SKIP
    """
    out = Path(out)
    items = [src] if isinstance(src, str | os.PathLike) else list(src)
    if not items:
        raise DataError("No input given: expected a file, folder, glob or a list of them.")
    inputs = _expand(items) if format != "images" else []
    src = Path(items[0])  # the folder (images) / the name shown in progress
    fmt = _resolve_format(src, format, inputs)
    default_shard, default_group = _DEFAULTS[fmt]
    rows_per_shard = _positive_int("rows_per_shard", rows_per_shard or default_shard)
    row_group_size = _positive_int("row_group_size", row_group_size or default_group)
    _positive_int("block_size", block_size)
    dialect = {"encoding": check_encoding(encoding), "delimiter": check_delimiter(delimiter)}
    if fmt == "tsv" and dialect["delimiter"] == "auto":  # format="tsv" names the delimiter
        dialect["delimiter"] = "\t"
    if not 0.0 <= float(max_bad_fraction) <= 1.0:
        raise ConfigError(
            format_message(
                "Invalid 'max_bad_fraction'.", expected="a number in [0, 1]", got=max_bad_fraction
            )
        )
    if out.exists() and not overwrite and (out.is_file() or any(out.iterdir())):
        raise DataError(
            f"Output '{out}' already exists. Choose another folder or pass overwrite=True "
            "(CLI: --overwrite)."
        )
    started = time.monotonic()
    files = _input_files(src, fmt, inputs)
    total = sum(f.stat().st_size for f, _ in files) if fmt != "images" else None
    shown = " ".join(os.fspath(i) for i in items)
    report = PrepareReport(source=shown, out=str(out), format=fmt)
    staging = Staging(out)
    try:
        (staging.dir / QUARANTINE_NAME).touch()  # written even when every row is good
        quarantine = Quarantine(staging.dir / QUARANTINE_NAME, dedupe=False)  # rows met once
        ctx = Context(
            quarantine=quarantine,
            progress=Progress(total, enabled=progress, desc=f"prepare {src.name}"),
            block_size=int(block_size),
            schema_hint=_parse_schema(schema),
        )
        writer = ShardWriter(
            staging.dir, rows_per_shard=rows_per_shard, row_group_size=row_group_size
        )
        try:
            for table in _read(fmt, src, files, ctx, dialect):
                writer.write(table)
            writer.close()
        finally:
            quarantine.close()
            ctx.progress.close()
        _fill(report, ctx, writer, started)
        if report.bad_fraction > max_bad_fraction:
            report.status, rejected = "rejected", out.parent / f"{out.name}.rejected"
            for shard in writer.shards:
                (staging.dir / shard).unlink()
            report.shards = []
            atomic_write_json(staging.dir / REPORT_NAME, report.to_dict())
            staging.publish(rejected)
            reasons = ", ".join(
                f"{k}: {v}" for k, v in sorted(report.quarantined_by_reason.items())
            )
            raise DataError(
                f"{report.rows_quarantined} of {report.rows_read} rows ({report.bad_fraction:.2%}) "
                f"are malformed ({reasons}), above max_bad_fraction={max_bad_fraction}. "
                f"Nothing was written to '{out}'; see '{rejected / QUARANTINE_NAME}', fix those "
                "rows or raise --max-bad-fraction."
            )
        atomic_write_json(staging.dir / REPORT_NAME, report.to_dict())
        staging.publish(out)
    finally:
        staging.discard()  # no-op once published
    return report


def _read(
    fmt: str, src: Path, files: list[tuple[Path, str]], ctx: Context, dialect: dict[str, str]
) -> Iterator[pa.Table]:
    if fmt == "images":
        yield from read_images(src, ctx)
        return
    for file, label in files:
        if fmt == "jsonl":
            yield from read_jsonl(file, label, ctx)
            continue
        ctx.use(sniff(file, **dialect))  # each file's encoding and delimiter (.tsv: a tab)
        yield from read_csv(file, label, ctx)


def _fill(report: PrepareReport, ctx: Context, writer: ShardWriter, started: float) -> None:
    report.rows_read = ctx.rows_read
    report.rows_written = writer.rows_written
    report.quarantined_by_reason = ctx.quarantine.by_reason()
    report.rows_quarantined = sum(report.quarantined_by_reason.values())
    report.shards = list(writer.shards)
    report.schema = {f.name: str(f.type) for f in ctx.schema or []}
    report.bad_fraction = report.rows_quarantined / report.rows_read if report.rows_read else 0.0
    report.seconds = round(time.monotonic() - started, 3)
    # The contract of this module: every row read is either written or quarantined.
    if report.rows_written + report.rows_quarantined != report.rows_read:
        raise AssertionError(
            f"prepare lost rows: read {report.rows_read}, wrote {report.rows_written}, "
            f"quarantined {report.rows_quarantined}"
        )


def _expand(items: list[str | os.PathLike]) -> list[tuple[Path, str]] | None:
    """``(file, label)`` per input file for globs and lists; ``None`` for one plain path.

    A folder's files are labelled relative to it; other files by their path as given.
    """
    if len(items) == 1 and not _GLOB_CHARS & set(os.fspath(items[0])):
        return None  # one file or folder: handled as before (and images need a folder)
    found: dict[Path, str] = {}
    for item in items:
        text = os.fspath(item)
        if _GLOB_CHARS & set(text):
            matches = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            if not matches:
                raise DataError(
                    f"No file matches '{text}'. Check the pattern (quote it in the shell so that "
                    "deepfuse expands it)."
                )
            found.update((Path(m), m) for m in matches if Path(m) not in found)
        elif os.path.isdir(text):
            for file in sorted(Path(text).iterdir()):
                if file.is_file() and _tabular(file.name):
                    found.setdefault(file, str(file))
        elif os.path.isfile(text):
            found.setdefault(Path(text), text)
        else:
            raise DataError(f"Input '{text}' does not exist. Check the path.")
    return list(found.items())


def _resolve_format(src: Path, fmt: str | None, inputs: list[tuple[Path, str]] | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise invalid_choice("format", fmt, FORMATS)
        return fmt
    if inputs is not None:  # a glob or a list: the first file's suffix tells
        if inputs and _tabular(inputs[0][0].name):
            return str(_tabular(inputs[0][0].name))
        src = inputs[0][0] if inputs else src
    if not src.exists():
        raise DataError(f"Input '{src}' does not exist. Check the path.")
    if src.is_file() and _tabular(src.name):
        return str(_tabular(src.name))
    if src.is_dir():
        if any(p.is_dir() for p in src.iterdir()):
            return "images"
        for fmt in _TABULAR:  # the first format any file in the folder has
            if any(_tabular(p.name) == fmt for p in src.iterdir()):
                return fmt
    raise DataError(
        f"Cannot tell the format of '{src}'. Expected a file named {', '.join(suffixes(*_TABULAR))}, "
        "a folder of them, or an image folder root/<label>/*.png; or pass format= (--format)."
    )


def _input_files(
    src: Path, fmt: str, inputs: list[tuple[Path, str]] | None
) -> list[tuple[Path, str]]:
    """``(file, label for the quarantine)`` per input file, in order."""
    if fmt == "images":
        if not src.is_dir():
            raise DataError(f"format='images' needs a folder root/<label>/*.png; got file '{src}'.")
        return []
    if inputs is not None:
        wrong = [label for file, label in inputs if _tabular(file.name) != fmt]
        if wrong or not inputs:
            raise DataError(
                format_message(
                    f"Some inputs are not {fmt} files.",
                    expected=f"names ending in {', '.join(suffixes(fmt))}",
                    got=wrong[:5],
                    fix="Narrow the pattern, or prepare each format separately.",
                )
            )
        return inputs
    if not src.exists():
        raise DataError(f"Input '{src}' does not exist. Check the path.")
    if src.is_file():
        return [(src, str(src))]
    files = sorted(p for p in src.iterdir() if p.is_file() and _tabular(p.name) == fmt)
    if not files:
        raise DataError(f"No {'/'.join(suffixes(fmt))} files in folder '{src}'.")
    return [(f, str(f.relative_to(src))) for f in files]


def _parse_schema(schema: Mapping[str, str | pa.DataType] | None) -> dict[str, pa.DataType]:
    from deepfuse.data.streaming.bad_rows import parse_schema  # one parser for prepare and scans

    return parse_schema(schema)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            format_message(f"Invalid '{name}'.", expected="an integer >= 1", got=value)
        )
    return value
