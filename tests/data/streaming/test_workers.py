"""Worker processes (prefetch num_workers): same batches as in-process, exact resume, cleanup."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import numpy as np
import pyarrow.compute as pc
import pytest

from conftest import N_FILES, ROWS_PER_FILE, ids_of
from deepfuse._utils.errors import ConfigError, DataError
from deepfuse.data.streaming import scan_csv, scan_parquet
from deepfuse.data.streaming.workers import WorkerFeed, decode_columns, encode_columns

TOTAL = N_FILES * ROWS_PER_FILE
FORK = "fork" in mp.get_all_start_methods()
needs_fork = pytest.mark.skipif(not FORK, reason="lambdas in workers need the fork start method")


def _pipeline(ds, workers: int, prefetch: int = 2):
    """Shuffle + lambdas (a map adding columns, a map-side filter dropping some chunks' rows)."""
    return (
        ds.map(lambda b: {**b, "z": b["x"] * 3.0 + 1.0, "img": np.outer(b["id"], [1.0, 2.0])})
        .filter(lambda b: (b["id"] % 7 != 0) & ((b["id"] < 100) | (b["id"] >= 132)))
        .shuffle(64, seed=11)
        .batch(10)
        .prefetch(prefetch, num_workers=workers)
    )


def _rows(batches) -> list[tuple[int, float, float]]:
    out = []
    for b in batches:
        assert b["img"].shape == (len(b["id"]), 2)
        for i, z, img in zip(b["id"].tolist(), b["z"].tolist(), b["img"][:, 1].tolist()):
            out.append((i, z, img))
    return out


def _no_children(timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while mp.active_children() and time.monotonic() < end:
        time.sleep(0.05)
    return not mp.active_children()


@needs_fork
@pytest.mark.parametrize("world", [1, 2])
@pytest.mark.parametrize("prefetch", [0, 3])
def test_same_batches_as_in_process(parquet_dir, world, prefetch):
    for rank in range(world):
        base = scan_parquet(parquet_dir, read_batch_size=16).select(["id", "x"])
        ref = _pipeline(base, 0).shard(rank, world, even=False)
        par = _pipeline(base, 2, prefetch).shard(rank, world, even=False)
        for epoch in (0, 1):  # the second pass is epoch 1 for both
            expected, got = _rows(ref), _rows(par)
            assert got == expected and par.epoch == ref.epoch == epoch + 1
            # the map ran in the workers: z and img follow from id, and the filter held
            assert all(z == i * 1.5 + 1.0 and img == 2.0 * i for i, z, img in got)
            assert all(i % 7 and not 100 <= i < 132 for i, _, _ in got)
    assert _no_children()


@needs_fork
def test_csv_units_and_unbatched_chunks(csv_dir):
    base = scan_csv(csv_dir, read_batch_size=32).filter(pc.field("id") >= 5).shuffle(50, seed=1)
    par = base.prefetch(0, num_workers=3)  # built before iterating: base's epoch advances
    expected = [(c["id"].tolist(), c["name"].tolist()) for c in base]
    got = [(c["id"].tolist(), c["name"].tolist()) for c in par]
    assert got == expected and sorted(v for i, _ in got for v in i) == list(range(5, TOTAL))


@needs_fork
@pytest.mark.parametrize("resume_workers", [0, 2])
@pytest.mark.parametrize("stop_after", [1, 9, 23])
def test_resume_mid_epoch_exact(parquet_dir, resume_workers, stop_after):
    def build(workers):
        base = scan_parquet(parquet_dir, read_batch_size=16).select(["id", "x"])
        return _pipeline(base, workers).shard(1, 2, even=False)

    full = build(0)
    full.set_epoch(2)
    expected = _rows(full)

    first = build(2)
    first.set_epoch(2)
    it = iter(first)
    head = _rows(next(it) for _ in range(stop_after))
    state = first.state_dict()
    it.close()
    assert _no_children()

    fresh = build(resume_workers)  # state is the same format with or without workers
    fresh.load_state_dict(state)
    assert head + _rows(fresh) == expected and fresh.epoch == 3


@needs_fork
def test_early_break_error_and_interrupt_leave_no_children(parquet_dir):
    base = scan_parquet(parquet_dir, read_batch_size=16).select(["id", "x"])
    ds = _pipeline(base.map(lambda b: {**b, "pid": np.full(len(b["id"]), os.getpid())}), 2, 1)
    for batch in ds:
        # the rows were read in worker processes (a worker may already have exited: small
        # chunks fit in the pipe's buffer), and workers were started
        assert os.getpid() not in batch["pid"].tolist()
        break
    assert _no_children()

    def consume(error: type[BaseException]) -> None:
        for _ in ds:
            raise error("stop")

    for error in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(error):
            consume(error)
        assert _no_children()

    it = iter(ds)
    next(it)
    del it  # garbage collection closes the generator, which stops the workers
    assert _no_children()


@needs_fork
def test_worker_error_names_message_and_unit(parquet_dir):
    def explode(b):
        if (b["id"] == 333).any():
            raise ValueError("bad value in row 333")
        return b

    ds = scan_parquet(parquet_dir, columns=["id"], read_batch_size=16).map(explode).batch(8)
    ds = ds.prefetch(2, num_workers=2)
    with pytest.raises(DataError) as info:
        ids_of(ds)
    text = str(info.value)
    # 333 is in part-1.parquet (rows 200..399), row group 2 (rows 300..349)
    assert "ValueError: bad value in row 333" in text
    assert "part-1.parquet" in text and "row group 2" in text
    assert _no_children()


def test_spawn_refuses_lambdas_with_a_fix(parquet_dir):
    ds = scan_parquet(parquet_dir).map(lambda b: b).prefetch(2, num_workers=1, start_method="spawn")
    with pytest.raises(ConfigError, match="module-level functions"):
        next(iter(ds))
    assert _no_children()


@needs_fork
def test_killed_worker_raises_instead_of_hanging(parquet_dir):
    def slow(b):
        time.sleep(0.3)
        return b

    ds = scan_parquet(parquet_dir, read_batch_size=16)
    src, plan = ds._source, [(u, 0, None) for u in range(len(ds._source.units))]
    feed = WorkerFeed(src, plan, [("map", slow, "numpy")], 16, (0, 0), num_workers=1, depth=1)
    try:
        os.kill(feed.processes[0].pid, signal.SIGKILL)
        with pytest.raises(DataError, match="exited with code -9"):
            feed.next_chunk(0, 0)
    finally:
        feed.close()
    assert _no_children()


def test_transfer_keeps_dtypes_and_shapes():
    cols = {
        "i8": np.array([1, -2], dtype=np.int8),
        "f2": np.array([0.5, np.nan], dtype=np.float16),
        "b": np.array([True, False]),
        "u": np.array(["ab", "c"]),
        "o": np.array(["x", "yz"], dtype=object),
        "img": np.arange(12, dtype=np.uint8).reshape(2, 2, 3),
    }
    back = decode_columns(encode_columns(cols))
    assert list(back) == list(cols)
    for name, arr in cols.items():
        assert back[name].dtype == arr.dtype and back[name].shape == arr.shape
        np.testing.assert_array_equal(back[name], arr)
    with pytest.raises(DataError, match="cannot be sent from a worker"):
        encode_columns({"mixed": np.array([1, "a", None], dtype=object)})


@needs_fork
def test_bad_csv_rows_met_in_workers_reach_the_parent_report(tmp_path):
    for f in range(2):  # a malformed number in each file: quarantined in the worker reading it
        rows = [f"{i},{i}\n" for i in range(f * 100, f * 100 + 100)]
        rows[60 + f] = "oops,1\n"
        (tmp_path / f"part-{f}.csv").write_text("x,y\n" + "".join(rows))

    def run(workers: int):
        ds = scan_csv(tmp_path).batch(8).prefetch(2, num_workers=workers)
        with pytest.warns(UserWarning, match="2 malformed row"):
            xs = [int(v) for b in ds for v in b["x"].tolist()]
        return xs, [(r["file"].rsplit("/", 1)[-1], r["line"]) for r in ds.quarantined]

    expected = run(0)
    assert expected[1] == [("part-0.csv", 62), ("part-1.csv", 63)]  # header is line 1
    assert run(2) == expected
