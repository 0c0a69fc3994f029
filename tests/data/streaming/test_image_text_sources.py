"""scan_images / scan_text: exact coverage, labels, decoding against Pillow, quarantine, fit."""

from __future__ import annotations

import gzip
import io
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import torch
from PIL import Image

import deepfuse as df
from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data.streaming import read_images, read_text, scan_images, scan_text
from deepfuse.data.streaming import text as text_mod

CLASSES = ["bird", "cat", "dog"]  # already sorted: index = position


def _make_image_folder(root: Path, n: int = 30, size=(6, 8)) -> dict[str, tuple[int, int]]:
    """``n`` PNG/BMP images whose red channel at (0, 0) is their id; returns {path: (id, label)}."""
    truth = {}
    for i in range(n):
        label = i % 3
        folder = root / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.full((size[0], size[1], 3), (i * 7) % 256, np.uint8)
        pixels[0, 0, 0] = i  # the id, read back from the decoded image
        pixels[:, :, 2] = np.arange(size[1], dtype=np.uint8) * 10  # a pattern to compare
        path = folder / f"img{i:03d}.{'bmp' if i % 10 == 0 else 'png'}"
        Image.fromarray(pixels).save(path)
        truth[str(path)] = (i, label)
    return truth


def _add_bad_images(root: Path) -> set[str]:
    (root / "cat" / "garbage.png").write_bytes(b"this is not an image")
    good = io.BytesIO()
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(good, format="PNG")
    (root / "dog" / "truncated.png").write_bytes(good.getvalue()[:40])
    (root / "dog" / "notes.md").write_text("not listed: wrong extension")
    return {str(root / "cat" / "garbage.png"), str(root / "dog" / "truncated.png")}


def _ids(batches) -> list[int]:
    # id = round(red channel at (0, 0) * 255)
    return [round(v) for b in batches for v in (b["x"][:, 0, 0, 0] * 255).tolist()]


def test_folders_every_image_once_with_shuffle_and_two_shards_and_bad_files_quarantined(tmp_path):
    truth = _make_image_folder(tmp_path / "imgs")
    bad = _add_bad_images(tmp_path / "imgs")
    qfile = tmp_path / "q" / "_quarantine.jsonl"
    base = scan_images(tmp_path / "imgs", quarantine=qfile, chunk_rows=4)
    assert base.class_names == CLASSES
    by_id = {i: label for i, label in truth.values()}
    for epoch in range(2):  # a new order each epoch, the same rows
        seen: list[int] = []
        for rank in range(2):
            ds = base.shuffle(7, seed=3).shard(rank, 2, even=False).batch(5)
            ds.set_epoch(epoch)
            batches = list(ds)
            ids = _ids(batches)
            labels = [int(v) for b in batches for v in b["y"]]
            assert [by_id[i] for i in ids] == labels  # each image carries its folder's label
            assert all(
                b["x"].dtype == torch.float32 and b["y"].dtype == torch.int64 for b in batches
            )
            seen += ids
        assert sorted(seen) == sorted(by_id)  # every good image exactly once across both ranks
        assert seen != sorted(seen)  # and shuffled
    records = base.quarantined
    assert {r["file"] for r in records} == bad
    assert {r["reason"] for r in records} == {"corrupt_image"}
    assert len(by_id) + len(records) == len(truth) + len(bad)  # none vanished
    on_disk = [json.loads(line) for line in qfile.read_text().splitlines()]
    assert on_disk == records  # two epochs, four passes: still one record per bad file
    assert set(on_disk[0]) == {"file", "line", "reason", "detail", "raw"}  # prepare's fields


def test_decoded_pixels_match_pillow_and_modes_and_resize(tmp_path):
    truth = _make_image_folder(tmp_path, n=6)
    path = next(p for p, (i, _) in truth.items() if i == 4)
    expected = np.asarray(Image.open(path).convert("RGB"), np.float32).transpose(2, 0, 1) / 255
    got = next(iter(scan_images(tmp_path).batch(6)))
    np.testing.assert_allclose(got["x"][_ids([got]).index(4)].numpy(), expected, rtol=0, atol=1e-7)
    gray = next(iter(scan_images(tmp_path, mode="L").batch(6)))["x"]
    want = np.asarray(Image.open(path).convert("L"), np.float32)[None] / 255
    assert gray.shape == (6, 1, 6, 8)
    np.testing.assert_allclose(gray[_ids([got]).index(4)].numpy(), want, atol=1e-7)
    small = next(iter(scan_images(tmp_path, image_size=(3, 4)).batch(6)))["x"]
    resized = Image.open(path).convert("RGB").resize((4, 3), Image.Resampling.BILINEAR)
    want = np.asarray(resized, np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(small[_ids([got]).index(4)].numpy(), want, atol=1e-7)


def test_size_mismatch_is_quarantined_unless_resized(tmp_path):
    _make_image_folder(tmp_path, n=6)
    odd = tmp_path / "cat" / "zz_big.png"
    Image.new("RGB", (10, 10)).save(odd)
    ds = scan_images(tmp_path)
    assert sum(len(b["y"]) for b in ds.batch(4)) == 6
    assert [(r["file"], r["reason"]) for r in ds.quarantined] == [
        (str(odd), "image_shape_mismatch")
    ]
    assert "image_size" in ds.quarantined[0]["detail"]  # says how to fix it
    resized = scan_images(tmp_path, image_size=(6, 8))
    assert sum(len(b["y"]) for b in resized.batch(4)) == 7 and resized.quarantined == []


def test_resume_mid_epoch_gives_the_remaining_images_exactly(tmp_path):
    _make_image_folder(tmp_path, n=24)

    def build():
        return scan_images(tmp_path, chunk_rows=4).shuffle(6, seed=1).batch(4)

    full = _ids(build())
    ds = build()
    it = iter(ds)
    head = _ids([next(it), next(it)])
    state = ds.state_dict()
    fresh = build()
    fresh.load_state_dict(json.loads(json.dumps(state)))
    assert head + _ids(fresh) == full


def test_path_table_with_string_labels_and_extra_columns(tmp_path):
    truth = _make_image_folder(tmp_path / "imgs", n=9)
    rows = sorted(truth.items())
    rel = [os.path.relpath(p, tmp_path) for p, _ in rows]
    names = [CLASSES[label] for _, (_, label) in rows]
    ids = [i for _, (i, _) in rows]
    pacsv.write_csv(
        pa.table({"file": [*rel, "imgs/missing.png"], "kind": [*names, "cat"], "id": [*ids, -1]}),
        tmp_path / "index.csv",
    )
    ds = scan_images(tmp_path / "index.csv", path_column="file", labels="kind")
    batch = next(iter(ds.batch(20)))
    assert sorted(batch) == ["id", "x", "y"]
    assert _ids([batch]) == batch["id"].tolist()  # extra column rides along with its image
    assert batch["y"].tolist() == [truth[p][1] for p, _ in rows]  # sorted names -> index
    assert ds.class_names == CLASSES
    (record,) = ds.quarantined
    assert record["reason"] == "missing_file" and "row 10" in record["detail"]
    table = read_images(tmp_path / "index.csv", path_column="file", labels="kind")
    x = table["x"].combine_chunks().to_numpy_ndarray()
    np.testing.assert_array_equal(x, batch["x"].numpy())


def test_bad_arguments_are_clear_errors(tmp_path):
    _make_image_folder(tmp_path, n=3)
    with pytest.raises(ConfigError, match="mode='CMYK'"):
        scan_images(tmp_path, mode="CMYK")
    with pytest.raises(ConfigError, match="image_size"):
        scan_images(tmp_path, image_size=(0, 4))
    with pytest.raises(DataError, match="does not exist"):
        scan_images(tmp_path / "nope")
    with pytest.raises(DataError, match="path column 'p'"):
        pacsv.write_csv(pa.table({"a": ["x"]}), tmp_path / "t.csv")
        scan_images(tmp_path / "t.csv", path_column="p")


def test_fit_a_small_cnn_on_a_streamed_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(40):  # class 1 = bright images, class 0 = dark ones
        label = i % 2
        folder = tmp_path / f"c{label}"
        folder.mkdir(exist_ok=True)
        pixels = rng.integers(0, 100, (8, 8), dtype=np.uint8) + 150 * label
        Image.fromarray(pixels.astype(np.uint8), mode="L").save(folder / f"{i}.png")
    ds = scan_images(tmp_path, mode="L", chunk_rows=8).shuffle(16, seed=0).batch(8)
    model = df.Sequential(
        [
            df.layers.Conv2D(4, 3, activation="relu"),
            df.layers.GlobalAveragePooling2D(),
            df.layers.Dense(2),
        ]
    )
    model.compile(optimizer={"name": "adam", "lr": 0.05}, loss="cross_entropy")
    hist = model.fit(ds, epochs=3, verbose=0, seed=0)
    assert all(np.isfinite(hist.history["loss"]))
    assert hist.history["loss"][-1] < hist.history["loss"][0]


# ---------------------------------------------------------------------------------- text
def _make_text_folder(root: Path) -> dict[str, tuple[str, int]]:
    truth = {}
    for label, cls in enumerate(["neg", "pos"]):
        (root / cls).mkdir(parents=True)
        for i in range(7):
            text = f'review {cls} {i}\nsecond line, with ünïcode and \x1e and "quotes"'
            path = root / cls / f"{i}_{label}.txt"
            path.write_text(text, encoding="utf-8")
            truth[str(path)] = (text, label)
    return truth


def test_text_files_with_folder_labels_every_file_once_and_bad_utf8_quarantined(tmp_path):
    truth = _make_text_folder(tmp_path)
    bad = tmp_path / "pos" / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    base = scan_text(tmp_path, labels="folders", chunk_rows=3)
    assert base.class_names == ["neg", "pos"]
    got = []
    for rank in range(2):
        ds = base.shuffle(4, seed=2).shard(rank, 2, even=False)
        got += [(t, int(y)) for chunk in ds for t, y in zip(chunk["text"], chunk["label"])]
    assert sorted(got) == sorted(truth.values())  # content and label, each file once
    assert [(r["file"], r["reason"]) for r in base.quarantined] == [(str(bad), "invalid_utf8")]
    assert "offset 3" in base.quarantined[0]["detail"]
    assert len(got) + len(base.quarantined) == len(truth) + 1


def _lines_truth(files: dict[str, bytes]) -> tuple[list[tuple[str, int, str]], list[tuple]]:
    """Ground truth by plain Python: lines end at b"\\n", a trailing b"\\r" is dropped."""
    good, bad = [], []
    for path, data in files.items():
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for n, line in enumerate(lines, start=1):
            line = line.removesuffix(b"\r")
            try:
                good.append((path, n, line.decode("utf-8")))
            except UnicodeDecodeError:
                bad.append((path, n))
    return good, bad


@pytest.fixture()
def line_files(tmp_path, monkeypatch):
    monkeypatch.setattr(text_mod, "_BLOCK", 16)  # lines span blocks: the carry logic is used
    contents = {
        "a.txt": b"alpha\r\n\r\nline with \x1e separator\nlone \r inside\n" + b"x" * 50 + b"\n",
        "b.txt": b"first\nbad \xff\xfe byte\n\nno newline at end",
        "c.txt": b"",
        "d.txt": b"".join(b"row %d\n" % i for i in range(40)),
    }
    files = {}
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
        files[str(tmp_path / name)] = data
    return files


def test_text_lines_exact_line_numbers_and_coverage_across_shards(tmp_path, line_files):
    good, bad = _lines_truth(line_files)
    want = Counter((n, t) for _, n, t in good)  # rows carry no path: compare (line, text)
    for even in (False, True):
        got: Counter = Counter()
        for rank in range(2):
            ds = scan_text(tmp_path, mode="lines", line_numbers=True, chunk_rows=3)
            ds = ds.shuffle(5, seed=0).shard(rank, 2, even=even)
            got.update((int(n), t) for chunk in ds for n, t in zip(chunk["line"], chunk["text"]))
        if not even:
            assert got == want  # every good line exactly once across both ranks
        else:  # even: equal shares, at most world_size - 1 = 1 line cut per epoch
            assert not got - want and got.total() >= want.total() - 1
    full = scan_text(tmp_path, mode="lines", line_numbers=True)
    list(full)
    assert [(r["file"], r["line"], r["reason"]) for r in full.quarantined] == [
        (p, n, "invalid_utf8") for p, n in bad
    ]
    assert full.quarantined[0]["raw"] == "bad \\xff\\xfe byte"


def test_text_lines_file_and_line_of_every_row_via_collect(tmp_path, line_files):
    good, _ = _lines_truth(line_files)
    table = read_text(tmp_path, mode="lines", line_numbers=True)
    assert table.column_names == ["text", "line"]
    # file order is sorted, lines in order: the concatenation equals the ground truth
    assert list(zip(table["line"].to_pylist(), table["text"].to_pylist())) == [
        (n, t) for _, n, t in good
    ]


def test_text_lines_resume(tmp_path, line_files):
    def build():
        return (
            scan_text(tmp_path, mode="lines", chunk_rows=4)
            .shuffle(6, seed=5)
            .batch(5, to_tensor=lambda name, arr: torch.tensor([len(s) for s in arr]))
        )

    full = [v for b in build() for v in b["text"].tolist()]
    ds = build()
    it = iter(ds)
    head = [v for _ in range(3) for v in next(it)["text"].tolist()]
    fresh = build()
    fresh.load_state_dict(ds.state_dict())
    assert head + [v for b in fresh for v in b["text"].tolist()] == full


# ---------------------------------------------------------------------------------- real data
DATA = Path(os.environ.get("DEEPFUSE_DATA_DIR", "/work/shared/datasets"))


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path) as fh:
        raw = fh.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


@pytest.mark.skipif(not (DATA / "mnist").exists(), reason="shared MNIST not available")
def test_real_mnist_digits_as_png_folders_decode_to_the_original_pixels(tmp_path):
    images = _idx(DATA / "mnist" / "t10k-images-idx3-ubyte.gz")[:120]
    labels = _idx(DATA / "mnist" / "t10k-labels-idx1-ubyte.gz")[:120]
    for i, (img, label) in enumerate(zip(images, labels)):
        folder = tmp_path / str(label)
        folder.mkdir(exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:04d}.png")
    table = read_images(tmp_path, mode="L")
    x = table["x"].combine_chunks().to_numpy_ndarray()  # listing order: class, then file name
    order = sorted(range(120), key=lambda i: (str(labels[i]), f"{i:04d}"))
    np.testing.assert_array_equal(x[:, 0], images[order].astype(np.float32) / 255)
    assert table["y"].to_pylist() == [int(labels[i]) for i in order]


@pytest.mark.skipif(not (DATA / "imdb").exists(), reason="shared IMDB not available")
def test_real_imdb_reviews_as_aclimdb_folders(tmp_path):
    table = pacsv.read_csv(DATA / "imdb" / "imdb_reviews.csv.gz")
    label_col = next(c for c in table.column_names if c in ("label", "sentiment"))
    text_col = next(c for c in table.column_names if c in ("text", "review"))
    rows = table.slice(0, 100).to_pylist() + table.slice(table.num_rows - 100).to_pylist()
    for i, row in enumerate(rows):
        folder = tmp_path / str(row[label_col])
        folder.mkdir(exist_ok=True)
        (folder / f"{i}.txt").write_text(row[text_col], encoding="utf-8")
    ds = scan_text(tmp_path, labels="folders")
    got = sorted((t, ds.class_names[int(y)]) for c in ds for t, y in zip(c["text"], c["label"]))
    assert got == sorted((r[text_col], str(r[label_col])) for r in rows)
    assert len(ds.class_names) == 2 and ds.quarantined == []
