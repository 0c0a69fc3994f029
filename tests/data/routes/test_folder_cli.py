"""`deepfuse train | evaluate | predict | cv` on folders of images and of text files: the
verbs take the new routes with no change of their own (docs/internals.md, "Add a data route")."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from deepfuse.cli.main import main

IMAGE_MODEL = "model:\n  type: cnn\n  filters: [8]\n  dense: []\n  dropout: 0.0\n"
TEXT_MODEL = "model:\n  type: text\n  embed_dim: 16\n  units: 16\n"
TRAINER = (
    "trainer:\n  epochs: {epochs}\n  batch_size: 8\n  optimizer: {{name: adam, lr: 0.01}}\n"
    "  seed: 0\n  verbose: 0\n"
)


@pytest.fixture
def cli(capsys):
    def run(*args) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _config(tmp_path: Path, kind: str, folders, model: str, epochs: int) -> Path:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(
        f"name: {kind}\ndata:\n  kind: {kind}\n  train: {folders[0]}\n  test: {folders[1]}\n"
        f"  validation_split: 0.2\n{model}{TRAINER.format(epochs=epochs)}"
    )
    return path


def _train(cli, config: Path, out: Path) -> tuple[Path, dict]:
    code, stdout, err = cli("train", config, "--out", out)
    assert code == 0, err
    run = Path(next(x for x in stdout.splitlines() if x.startswith("run: ")).removeprefix("run: "))
    return run, json.loads((run / "metrics.json").read_text())


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_image_folder_train_evaluate_predict_cv(cli, tmp_path, image_folders):
    test = image_folders[1]
    run, metrics = _train(cli, _config(tmp_path, "image_folder", image_folders, IMAGE_MODEL, 8),
                          tmp_path / "runs")  # fmt: skip
    assert metrics["test"]["accuracy"] >= 0.95, metrics["test"]
    assert metrics["classes"] == ["blue", "green", "red"]
    assert "type: cnn" in (run / "config.yaml").read_text()

    code, out, err = cli("evaluate", run)  # the same test rows again
    assert code == 0, err
    assert f"test accuracy: {metrics['test']['accuracy']:.4f}" in out
    code, out, err = cli("evaluate", run, "--data", test)  # a folder with class subfolders
    assert code == 0 and "eval accuracy: " in out, err

    code, _, err = cli("predict", run, test / "red", "--out", tmp_path / "red.csv")
    assert code == 0, err
    rows = _rows(tmp_path / "red.csv")  # one row per file, in name order
    assert len(rows) == 8 and [r["prediction"] for r in rows].count("red") >= 7
    listing = tmp_path / "paths.csv"  # a table of paths, relative to its folder
    listing.write_text("path\n" + "".join(f"photos/test/green/{i:03d}.png\n" for i in (0, 1, 3)))
    code, _, err = cli("predict", run, listing, "--out", tmp_path / "green.csv")
    assert code == 0, err
    assert [r["prediction"] for r in _rows(tmp_path / "green.csv")] == ["green"] * 3

    cfg = _config(tmp_path, "image_folder", image_folders, IMAGE_MODEL, 3)
    code, out, err = cli("cv", cfg, "--folds", "3", "--out", tmp_path / "cv")
    assert code == 0, err
    cv = json.loads(next((tmp_path / "cv").glob("cv-*/cv.json")).read_text())
    assert cv["rows"] == 72 and cv["classes"] == ["blue", "green", "red"]
    assert cv["summary"]["accuracy"]["mean"] >= 0.8, cv["summary"]


def test_text_folder_train_evaluate_predict_cv(cli, tmp_path, text_folders):
    test = text_folders[1]
    run, metrics = _train(cli, _config(tmp_path, "text_folder", text_folders, TEXT_MODEL, 10),
                          tmp_path / "runs")  # fmt: skip
    assert metrics["test"]["accuracy"] >= 0.95, metrics["test"]
    config = (run / "config.yaml").read_text()
    assert "type: text" in config and "text: text" in config

    code, out, err = cli("evaluate", run)
    assert code == 0 and f"test accuracy: {metrics['test']['accuracy']:.4f}" in out, err
    code, out, err = cli("evaluate", run, "--data", test)
    assert code == 0 and "eval accuracy: " in out, err

    raw = tmp_path / "new.csv"  # rows with a text column, as for the CSV route
    raw.write_text("text\nthe rocket reached orbit\nwe simmer the garlic in butter\n")
    code, _, err = cli("predict", run, raw, "--out", tmp_path / "pred.csv")
    assert code == 0, err
    assert [r["prediction"] for r in _rows(tmp_path / "pred.csv")] == ["space", "cooking"]
    code, _, err = cli("predict", run, test / "sports", "--out", tmp_path / "sports.csv")
    assert code == 0, err
    assert [r["prediction"] for r in _rows(tmp_path / "sports.csv")].count("sports") >= 7
    listing = tmp_path / "docs.csv"  # a table of text-file paths, relative to its folder
    listing.write_text("path\ndocs/test/space/000.txt\ndocs/test/cooking/001.txt\n")
    code, _, err = cli("predict", run, listing, "--out", tmp_path / "listed.csv")
    assert code == 0, err
    assert [r["prediction"] for r in _rows(tmp_path / "listed.csv")] == ["space", "cooking"]
    code, out, err = cli("explain", run, "--data", test)  # permutation importance of 'text'
    assert code == 0 and "1. text" in out, err

    cfg = _config(tmp_path, "text_folder", text_folders, TEXT_MODEL, 6)
    code, out, err = cli("cv", cfg, "--folds", "3", "--out", tmp_path / "cv")
    assert code == 0, err
    cv = json.loads(next((tmp_path / "cv").glob("cv-*/cv.json")).read_text())
    assert cv["rows"] == 72 and cv["classes"] == ["cooking", "space", "sports"]


def test_unreadable_input_is_a_one_line_error(cli, tmp_path, image_folders):
    run, _ = _train(cli, _config(tmp_path, "image_folder", image_folders, IMAGE_MODEL, 1),
                    tmp_path / "runs")  # fmt: skip
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "a.png").write_bytes(b"nope")
    code, _, err = cli("predict", run, tmp_path / "new")
    assert code == 2 and "cannot be read" in err and "a.png" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("file\nx.png\n")
    code, _, err = cli("predict", run, bad)
    assert code == 2 and "no 'path' column" in err
