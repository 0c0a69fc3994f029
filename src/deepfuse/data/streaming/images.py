"""``scan_images`` / ``read_images``: image folders or path tables as lazy ``(x, y)`` streams.

Only the listing (paths and labels) is built up front; Pillow decodes the images of each chunk
of ``chunk_rows`` files when the stream reaches it. Every image becomes a float32 ``(C, H, W)``
array in ``[0, 1]``; batches are ``{"x": (N, C, H, W) float32, "y": (N,) int64}``, which
``model.fit(ds)`` takes as is. A file that cannot be decoded (or, without ``image_size``, has
another shape than the stream's images) is dropped from the stream and recorded in
``ds.quarantined`` (and the ``quarantine=`` JSON-lines file): it neither crashes the run nor
vanishes, so ``rows yielded + len(ds.quarantined) == files listed``.

Memory: the shuffle window holds *decoded* images (``buffer_size * C * H * W * 4`` bytes).

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for i, cls in enumerate(["cat", "dog", "cat", "dog"]):
    ...     (root / cls).mkdir(exist_ok=True)
    ...     Image.new("RGB", (6, 4), (i * 60, 0, 0)).save(root / cls / f"{i}.png")
    >>> _ = (root / "dog" / "broken.png").write_bytes(b"not a png")
    >>> ds = scan_images(root).shuffle(8, seed=0).batch(2)
    >>> batch = next(iter(ds))
    >>> tuple(batch["x"].shape), batch["x"].dtype, batch["y"].dtype
    ((2, 3, 4, 6), torch.float32, torch.int64)
    >>> sum(len(b["y"]) for b in ds), [r["reason"] for r in ds.quarantined], ds.class_names
    (4, ['corrupt_image'], ['cat', 'dog'])
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

import numpy as np
import pyarrow as pa

from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data.formats import SCAN_KINDS, format_or_none
from deepfuse.data.images import check_image_size
from deepfuse.data.quarantine import Quarantine
from deepfuse.data.streaming.listing import (
    PATH,
    ROW,
    FileDataset,
    Listing,
    list_files,
    listing_source,
    open_binary,
)
from deepfuse.data.streaming.paths import PathLike
from deepfuse.data.streaming.remote import is_url, url_to_fs
from deepfuse.data.streaming.scans import read_csv, read_jsonl, read_parquet

_MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


class _BadFile(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class ImageDecoder:
    """The decode step (a numpy ``map``): listing chunk -> ``x`` images, bad files quarantined.

    Picklable (no closures), so a data-loading worker process can run it.

    Args:
        fs: fsspec filesystem, or ``None`` for local paths.
        shape: ``(C, H, W)`` every image must have; ``None`` when no image could be decoded.
        mode: Pillow mode to convert to, or ``None`` to keep L/LA/RGB/RGBA (others -> RGB).
        size: ``(H, W)`` to resize to, or ``None``.
        report: Where bad files are recorded.
    """

    def __init__(
        self,
        fs: Any,
        shape: tuple[int, int, int] | None,
        mode: str | None,
        size: tuple[int, int] | None,
        report: Quarantine,
    ) -> None:
        self.fs, self.shape, self.mode, self.size, self.report = fs, shape, mode, size, report

    def load(self, path: str) -> np.ndarray:
        """One image as float32 ``(C, H, W)`` in [0, 1]; raises ``_BadFile`` when unreadable."""
        from PIL import Image, UnidentifiedImageError

        try:
            with open_binary(self.fs, path) as fh:
                size = fh.seek(0, 2)  # the file's size, before reading it
                fh.seek(0)
                check_image_size(path, nbytes=size)
                img = Image.open(fh)
                check_image_size(path, img=img)  # from the header, before decoding
                img.load()  # full decode now: a truncated file fails here, not later
        except DataError as err:
            raise _BadFile("image_too_large", str(err)) from err
        except FileNotFoundError as err:
            raise _BadFile("missing_file", f"file not found: {path}") from err
        except UnidentifiedImageError as err:
            raise _BadFile(
                "corrupt_image", "cannot identify image file (not an image, or unsupported)"
            ) from err
        except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, ... for bad data
            raise _BadFile("corrupt_image", f"{type(err).__name__}: {err}") from err
        if self.mode is not None:
            img = img if img.mode == self.mode else img.convert(self.mode)
        elif img.mode not in _MODES:  # palette, CMYK, 16-bit ...: to 8-bit RGB(A)
            has_alpha = img.mode in ("PA", "La") or "transparency" in img.info
            img = img.convert("RGBA" if has_alpha else "RGB")
        if self.size is not None and img.size != (self.size[1], self.size[0]):
            img = img.resize((self.size[1], self.size[0]), Image.Resampling.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)  # (H, W) or (H, W, C)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # -> (C, H, W)
        return np.divide(arr, 255, dtype=np.float32)

    def __call__(self, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = cols[PATH]
        n = len(paths)
        shape = self.shape or (0, 0, 0)
        images = np.empty((n, *shape), dtype=np.float32)  # (N, C, H, W)
        keep = np.zeros(n, dtype=bool)
        for i, path in enumerate(paths):
            where = f" (row {int(cols[ROW][i])} of the path table)" if ROW in cols else ""
            try:
                arr = self.load(path)
                if arr.shape != self.shape:
                    raise _BadFile(
                        "image_shape_mismatch",
                        f"image is {arr.shape} (C, H, W) but the stream's images are "
                        f"{self.shape}; pass image_size=(H, W) and mode= to make them agree",
                    )
            except _BadFile as bad:
                self.report.add(str(path), None, bad.reason, bad.detail + where, None)
                continue
            images[i], keep[i] = arr, True
        out = {"x": images[keep] if not keep.all() else images}
        out.update({k: v[keep] for k, v in cols.items() if k not in (PATH, ROW)})
        return out


def _probe_shape(decoder: ImageDecoder, paths: list[str]) -> tuple[int, int, int] | None:
    """The shape of the first decodable image in listing order (deterministic, any shuffle)."""
    for path in paths:
        try:
            return decoder.load(path).shape  # type: ignore[return-value]
        except _BadFile:
            continue  # recorded when the stream reaches it
    return None


def _table_listing(source: PathLike, path_column: str, labels: str | None) -> Listing:
    """A listing from Parquet/CSV/JSON-lines table(s) with a path column (relative to the table)."""
    sources = [source] if isinstance(source, str | os.PathLike) else list(source)
    tables, paths, rows = [], [], []
    fs = None
    for entry in sources:
        text = os.fspath(entry)
        kind = SCAN_KINDS.get(format_or_none(text) or "parquet")  # no known suffix: Parquet
        reader = {"csv": read_csv, "json": read_jsonl}.get(kind or "", read_parquet)
        table = reader(text)
        if path_column not in table.column_names:
            raise DataError(
                f"path column {path_column!r} not in {text!r}; columns: {table.column_names}; "
                "pass path_column= naming the column that holds the image paths"
            )
        if is_url(text):
            fs, where = url_to_fs(text)
            base = posixpath.dirname(where)
            join = posixpath.join
        else:
            base, join = os.path.dirname(os.path.abspath(text)), os.path.join
        names = table.column(path_column).to_pylist()
        paths += [join(base, p) if p is not None else "" for p in names]
        rows += range(1, table.num_rows + 1)
        tables.append(table.drop_columns([path_column]))
    table = pa.concat_tables(tables, promote_options="default")
    class_names, y = None, None
    if labels == "folders":  # the image's parent folder names its class
        names = [posixpath.basename(posixpath.dirname(p.replace(os.sep, "/"))) for p in paths]
        class_names = sorted(set(names))
        y = np.array([class_names.index(n) for n in names], np.int64)
    elif labels is not None:
        if labels not in table.column_names:
            raise DataError(
                f"label column {labels!r} not in the path table; columns: "
                f"{[path_column, *table.column_names]}; pass labels=<column>, 'folders' or None"
            )
        col = table.column(labels)
        if pa.types.is_integer(col.type):
            y = col.to_numpy().astype(np.int64)
        else:  # class names: indices of the sorted names, as for folders
            names = [str(v) for v in col.to_pylist()]
            class_names = sorted(set(names))
            index = {c: i for i, c in enumerate(class_names)}
            y = np.array([index[n] for n in names], np.int64)
        table = table.drop_columns([labels])
    extra = {name: table.column(name) for name in table.column_names}
    extra[ROW] = pa.array(rows, pa.int64())
    return Listing(fs, paths, y, class_names, extra)


def scan_images(
    source: PathLike,
    *,
    labels: str | None = "folders",
    path_column: str | None = None,
    image_size: int | tuple[int, int] | None = None,
    mode: str | None = "RGB",
    quarantine: str | os.PathLike | None = None,
    chunk_rows: int = 64,
) -> FileDataset:
    """Lazily streams images: ``{"x": (N, C, H, W) float32 in [0, 1], "y": (N,) int64}``.

    Args:
        source: A folder with one subfolder per class (``root/<class>/*.png``; also jpg, jpeg,
            bmp, gif, webp), a folder/glob/list of images (``labels=None``), an fsspec URL of
            those (``pip install 'deepfuse[cloud]'``), or, with ``path_column``, Parquet / CSV /
            JSON-lines table(s) with a column of image paths (relative to the table's folder).
        labels: ``"folders"``: class = subfolder (indices follow the sorted class names, in
            ``ds.class_names``). ``None``: no ``y``. With ``path_column``: a column name
            (integers as is; strings -> sorted class indices) or ``"folders"`` (the image's
            parent folder); the table's other columns are kept.
        path_column: The image-path column of a table source.
        image_size: ``(height, width)`` (or one int for squares) to resize every image to
            (bilinear). ``None``: keep sizes; every image must then have the first image's
            shape, others are quarantined (``image_shape_mismatch``).
        mode: Pillow mode to convert to: ``"RGB"`` (3 channels), ``"L"`` (1), ``"RGBA"``,
            ``"LA"``, or ``None`` (keep each file's mode; channel counts must then agree).
        quarantine: A ``.jsonl`` file bad files are appended to (same fields as
            ``deepfuse prepare``'s ``_quarantine.jsonl``); they are also in ``ds.quarantined``.
        chunk_rows: Files per unit and decode step: the unit of shuffling, sharding and
            read-ahead.

    Returns:
        A :class:`~deepfuse.data.streaming.listing.FileDataset` (a ``LazyDataset``).

    Raises:
        DataError: for a missing folder, no images, or a missing path/label column.
        ConfigError: for an unknown ``mode`` or a bad ``image_size``.

    Example:
        >>> ds = scan_images("photos/", image_size=(64, 64)).shuffle(1000, seed=0).batch(32)  # doctest: +SKIP
        >>> model.fit(ds, epochs=5)  # doctest: +SKIP
    """
    if mode is not None and mode not in _MODES:
        raise ConfigError(f"mode={mode!r} is not supported: expected one of {[*_MODES]} or None")
    size = _check_size(image_size)
    if path_column is None:
        listing = list_files(source, "image", labels)
    else:
        listing = _table_listing(source, path_column, labels)
    report = Quarantine(quarantine)
    decoder = ImageDecoder(listing.fs, None, mode, size, report)
    if size is not None and mode is not None:
        decoder.shape = (_MODES[mode], *size)  # known without opening a file
    else:
        decoder.shape = _probe_shape(decoder, listing.paths)
    source_ = listing_source(listing.table(), chunk_rows)
    what = f"images, {len(listing.paths)} file(s), shape {decoder.shape}"
    ds = FileDataset.over(listing, source_, report, chunk_rows, what)
    return ds.map(decoder)  # type: ignore[return-value]


def _check_size(image_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ConfigError(
            f"image_size={image_size!r} is not valid: expected (height, width) of positive "
            "ints, one int for squares, or None"
        )
    return size  # type: ignore[return-value]


def read_images(source: PathLike, **options: Any) -> pa.Table:
    """Eager twin of :func:`scan_images` (small data): a table with ``x`` as a fixed-shape
    tensor column (``table["x"].combine_chunks().to_numpy_ndarray()`` is ``(N, C, H, W)``).

    Example:
        >>> table = read_images("photos/", image_size=32)  # doctest: +SKIP
        >>> x = table["x"].combine_chunks().to_numpy_ndarray()  # doctest: +SKIP
    """
    return scan_images(source, **options).collect()
