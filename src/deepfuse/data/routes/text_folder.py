"""Folders of text files, one subfolder per class: the ``text_folder`` route (Keras'
``text_dataset_from_directory``, the aclImdb layout).

.. code-block:: yaml

    data:
      kind: text_folder
      train: aclImdb/train/    # aclImdb/train/<class>/*.txt, one document per file
      test: aclImdb/test/      # optional; else a stratified test_split of train
      validation_split: 0.1
      preprocessing: {max_len: 200}   # the Preprocessor's text options, as for a text column

The files become a table with a ``text`` column and a ``label`` column (the class subfolder's
name), which then takes exactly the route of a table with a text column
(:class:`~deepfuse.data.routes.TableInMemory`): the :class:`~deepfuse.data.Preprocessor` (the
``text`` type forced on ``text``, so a small corpus is not typed categorical) fitted on the
training rows, the zoo ``text`` model, folds for ``cv``. A file that is not valid UTF-8 is left
out, with its reason, in one warning (and in ``data.quarantine`` when set).

``predict`` and ``evaluate --data`` take a folder of ``.txt`` files (labels from class
subfolders, for ``evaluate``), a CSV/Parquet file with a ``text`` column (and ``label``), or one
with a ``path`` column of text files.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(20):
    ...     cls = ["neg", "pos"][i % 2]; (root / cls).mkdir(exist_ok=True)
    ...     _ = (root / cls / f"{i}.txt").write_text("awful dull" if cls == "neg" else "great fun")
    >>> data = {"kind": "text_folder", "train": str(root), "validation_split": 0.25,
    ...         "test_split": 0.2}
    >>> p = TextFolder().prepare(data, seed=0, batch_size=8)
    >>> p.features, p.target, p.task, p.classes, len(p.test["label"])
    ({'text': 'text'}, 'label', 'binary', ['neg', 'pos'], 4)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import pyarrow as pa

from deepfuse._utils.errors import DataError
from deepfuse.data.routes.base import register_route
from deepfuse.data.routes.folders import (
    PATH_COLUMN,
    TEXT_COLUMN,
    in_memory_only,
    paths_of,
    read_text_file,
    warn_left_out,
)
from deepfuse.data.routes.streamed import TableStreamed
from deepfuse.data.routes.tables import TableInMemory
from deepfuse.data.streaming import scan_text

__all__ = ["TextFolder"]

TEXT, LABEL = TEXT_COLUMN, "label"  # the columns the files become


def read_text_folder(folder: str, data: Mapping[str, Any]) -> pa.Table:
    """A folder with one subfolder per class as a ``text`` / ``label`` (class name) table;
    files that are not valid UTF-8 are left out and named in one warning."""
    ds = scan_text(folder, labels="folders", quarantine=data.get("quarantine"))
    with warnings.catch_warnings():
        # the scan's own summary points at ds.quarantined; warn_left_out names the files
        warnings.simplefilter("ignore", UserWarning)
        table = ds.collect()
    warn_left_out(TextFolder.name, folder, ds.quarantined)
    if table.num_rows == 0:
        raise DataError(f"No text file of '{folder}' could be read. Check the files' encoding.")
    names = pa.array(ds.class_names)
    return pa.table({TEXT: table[TEXT], LABEL: names.take(table[LABEL].combine_chunks())})


@register_route(before=TableStreamed)
class TextFolder(TableInMemory):
    """``data.kind: text_folder``: ``data.train`` (and ``data.test``) folders of class
    subfolders of ``.txt`` files, preprocessed as a table with a text column."""

    name = "text_folder"
    by_kind = True
    own_keys = ("quarantine",)
    refused_keys: ClassVar[Mapping[str, str]] = {
        "target": "the classes are the subfolders of data.train (target 'label')"
    }

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        return data.get("kind") == cls.name

    def raw_tables(self, data: Mapping[str, Any]) -> tuple[pa.Table, pa.Table | None, dict]:
        in_memory_only(self.name, data)
        train = read_text_folder(data["train"], data)
        test = read_text_folder(data["test"], data) if data.get("test") else None
        features = {TEXT: "text", **(data.get("features") or {})}
        return train, test, {**data, "target": LABEL, "features": features}

    def load_input(self, table: pa.Table, model: Any, *, need_target: bool, source: str) -> Any:
        """Rows with a ``text`` column (a folder of text files is read so), or a ``path``
        column of text files, through the run's saved Preprocessor."""
        if TEXT not in table.column_names and PATH_COLUMN in table.column_names:
            texts = [read_text_file(path) for path in paths_of(table, source)]
            table = table.drop_columns([PATH_COLUMN]).append_column(TEXT, pa.array(texts))
        elif TEXT not in table.column_names:
            raise DataError(
                f"'{source}' has no {TEXT!r} column. Pass a folder of .txt files, or a "
                f"CSV/Parquet file with a {TEXT!r} (or {PATH_COLUMN!r}) column. Columns: "
                f"{', '.join(table.column_names)}."
            )
        return super().load_input(table, model, need_target=need_target, source=source)
