"""Image folders (``root/<label>/*.png|jpg``) into rows of ``path, label, image, width, height``.

Images are stored as their original encoded bytes (``image``: binary), not decoded arrays: the
shards stay as small as the source files and any size or channel count fits one schema; decoding
happens in the loader. Every image is fully decoded once here (Pillow ``load()``), so a corrupt
or truncated file is quarantined now instead of failing a training run later; so is a file over
:data:`~deepfuse.data.images.MAX_IMAGE_BYTES` (never read) or an image over
:data:`~deepfuse.data.images.MAX_IMAGE_PIXELS` (never decoded).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from deepfuse._utils.errors import DataError
from deepfuse.data.formats import suffixes
from deepfuse.data.images import check_image_size
from deepfuse.data.tabular_rows import Context

IMAGE_SUFFIXES = suffixes("image")  # the one format table
IMAGE_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("label", pa.string()),
        ("image", pa.binary()),
        ("width", pa.int32()),
        ("height", pa.int32()),
    ]
)
_BATCH_BYTES = 32 << 20  # yield a table every ~32 MB of image bytes


def list_images(root: Path) -> list[tuple[Path, str]]:
    """``(file, label)`` for every image under ``root/<label>/``, sorted by label then name."""
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = [
        (f, c.name)
        for c in classes
        for f in sorted(c.iterdir())
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise DataError(
            f"No images found under '{root}'. Expected one folder per class holding "
            f"{'/'.join(IMAGE_SUFFIXES)} files (root/<label>/<image>)."
        )
    return files


def read_images(root: Path, ctx: Context) -> Iterator[pa.Table]:
    """Yield tables of decodable images; unreadable or corrupt ones go to the quarantine."""
    from PIL import Image

    ctx.schema = IMAGE_SCHEMA
    rows: dict[str, list] = {name: [] for name in IMAGE_SCHEMA.names}
    size = 0
    for file, label in list_images(root):
        rel = file.relative_to(root).as_posix()
        ctx.rows_read += 1
        try:
            check_image_size(rel, nbytes=file.stat().st_size)  # before reading it whole
            data = file.read_bytes()
            with Image.open(io.BytesIO(data)) as img:
                check_image_size(rel, img=img)  # header only: before decoding
                img.load()  # full decode: verify() alone misses truncated files
                width, height = img.size
        except DataError as exc:
            ctx.quarantine.add(rel, None, "image_too_large", str(exc), None)
            ctx.progress.update(0, 1)
            continue
        except Exception as exc:  # Pillow raises many types for bad files
            detail = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            ctx.quarantine.add(rel, None, "corrupt_image", detail, None)
            ctx.progress.update(file.stat().st_size if file.exists() else 0, 1)
            continue
        for name, value in zip(IMAGE_SCHEMA.names, (rel, label, data, width, height), strict=True):
            rows[name].append(value)
        size += len(data)
        ctx.progress.update(len(data), 1)
        if size >= _BATCH_BYTES:
            yield pa.table(rows, schema=IMAGE_SCHEMA)
            rows, size = {name: [] for name in IMAGE_SCHEMA.names}, 0
    if rows["path"]:
        yield pa.table(rows, schema=IMAGE_SCHEMA)
