"""`deepfuse train --workers/--address/--gpus-per-worker/--max-failures` -> trainer.strategy."""

from __future__ import annotations

import pytest

from deepfuse.cli.main import _ray_flags, build_parser, main


def _flags(*argv: str) -> dict:
    args = build_parser().parse_args(["train", "cfg.yaml", *argv])
    cfg = {"data": {"dataset": "mnist"}, "trainer": {"strategy": {"storage_path": "/shared/ray"}}}
    _ray_flags(cfg, args)
    return cfg["trainer"]["strategy"]


def test_flags_become_the_ray_strategy() -> None:
    got = _flags(
        "--workers", "4", "--address", "auto", "--gpus-per-worker", "1", "--max-failures", "2"
    )
    assert got == {
        "name": "ray",
        "workers": 4,
        "address": "auto",
        "gpus_per_worker": 1.0,
        "max_failures": 2,
        "storage_path": "/shared/ray",  # trainer.strategy.* from the config/overrides is kept
    }
    assert _flags() == {"storage_path": "/shared/ray"}  # no flag: the config is left alone


def test_ray_flag_without_workers_is_a_user_error(tmp_path, capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {dataset: mnist}\n")
    assert main(["train", str(cfg), "--max-failures", "1"]) == 2
    assert "--max-failures needs --workers N" in capsys.readouterr().err
