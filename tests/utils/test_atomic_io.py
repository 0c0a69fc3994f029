"""Atomic writes: content, no temp files left, usual permissions."""

from __future__ import annotations

import os
import stat

import pytest

from deepfuse._utils.io import atomic_write, atomic_write_json, atomic_write_text


def test_atomic_write_text_and_json(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "hello")
    atomic_write_json(tmp_path / "b.json", {"k": [1, 2]})
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert '"k"' in (tmp_path / "b.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.json"]


def test_files_get_umask_permissions_not_0600(tmp_path, monkeypatch):
    # Regression: mkstemp's 0600 leaked into results and run files (unreadable to others).
    from deepfuse._utils import io

    monkeypatch.setattr(io, "_UMASK", None)  # re-read the umask set below
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "r.md", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.md").stat().st_mode) == 0o644


def test_failed_write_leaves_nothing(tmp_path):
    def boom(tmp: str) -> None:
        with open(tmp, "w") as fh:
            fh.write("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "c.txt", boom)
    assert list(tmp_path.iterdir()) == []
