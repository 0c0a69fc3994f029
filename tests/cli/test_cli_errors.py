"""User mistakes: exit code 2 and exactly one line on stderr, no traceback, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import deepfuse


def _config(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def _assert_user_error(result, *needles):
    code, _out, err = result
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("deepfuse: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def _table_config(tmp_path, train, target="label", extra=""):
    return _config(tmp_path, f"data:\n  train: {train}\n  target: {target}\n{extra}")


def test_help_starts_with_examples():
    src = str(Path(deepfuse.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    proc = subprocess.run(
        [sys.executable, "-m", "deepfuse.cli.main", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    head = "\n".join(proc.stdout.splitlines()[:10])
    assert "deepfuse train examples/mnist_cnn.yaml" in head
    for verb in ("train", "evaluate", "predict", "info"):
        assert verb in proc.stdout


def test_user_error_in_a_real_process_is_one_line(tmp_path):
    src = str(Path(deepfuse.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    path = _config(tmp_path, "data:\n  dataset: mnist\ntrainer:\n  optimizer: adma\n")
    proc = subprocess.run(
        [sys.executable, "-m", "deepfuse.cli.main", "train", str(path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Did you mean 'adam'?" in proc.stderr


def test_unknown_verb(run_cli):
    code, _, err = run_cli("trian", "x.yaml")
    assert code == 2 and err.count("\n") == 1 and "trian" in err


def test_missing_config_file(run_cli, tmp_path):
    _assert_user_error(run_cli("train", tmp_path / "nope.yaml"), "nope.yaml", "does not exist")


def test_unreadable_yaml_reports_line(run_cli, tmp_path):
    path = _config(tmp_path, "data:\n  dataset: mnist\ntrainer: [1, 2\n")
    _assert_user_error(run_cli("train", path), "c.yaml", "line 4")


def test_unknown_key_did_you_mean(run_cli, tmp_path):
    path = _config(tmp_path, "data:\n  dataset: mnist\ntrainer:\n  epoch: 1\n")
    _assert_user_error(
        run_cli("train", path, "--out", tmp_path / "runs"),
        "'trainer.epoch'",
        "Did you mean 'trainer.epochs'?",
    )
    assert not (tmp_path / "runs").exists()


def test_bad_override_value(run_cli, tmp_path):
    path = _config(tmp_path, "data:\n  dataset: mnist\n")
    _assert_user_error(
        run_cli("train", path, "trainer.batch_size=-3"), "'trainer.batch_size'", "-3"
    )


def test_missing_data_file(run_cli, tmp_path):
    path = _table_config(tmp_path, tmp_path / "missing.csv")
    _assert_user_error(run_cli("train", path, "--out", tmp_path / "runs"), "missing.csv")


def test_unknown_target_column(run_cli, tmp_path, tabular_csv):
    path = _table_config(tmp_path, tabular_csv, target="lable")
    _assert_user_error(
        run_cli("train", path, "--out", tmp_path / "runs"), "'lable'", "Did you mean 'label'?"
    )


def test_target_with_one_class(run_cli, tmp_path):
    csv = tmp_path / "one.csv"
    csv.write_text("x,label\n" + "".join(f"{i},same\n" for i in range(20)))
    _assert_user_error(
        run_cli("train", _table_config(tmp_path, csv), "--out", tmp_path / "r"), "label"
    )


def test_text_in_numeric_column_names_row(run_cli, tmp_path):
    csv = tmp_path / "bad.csv"
    rows = [f"{i}.5,{i % 2}" for i in range(30)]
    rows[16] = "twelve,1"  # data row 17
    csv.write_text("x,label\n" + "\n".join(rows) + "\n")
    path = _table_config(tmp_path, csv, extra="  features: {x: numeric}\n")
    _assert_user_error(run_cli("train", path, "--out", tmp_path / "r"), "'x'", "17", "twelve")


def test_empty_dataset(run_cli, tmp_path):
    csv = tmp_path / "empty.csv"
    csv.write_text("x,label\n")
    _assert_user_error(
        run_cli("train", _table_config(tmp_path, csv), "--out", tmp_path / "r"),
        "empty.csv",
        "no data rows",
    )


@pytest.mark.parametrize("verb", [("evaluate",), ("info",), ("predict", "in.csv")])
def test_not_a_run_directory(run_cli, tmp_path, verb):
    _assert_user_error(run_cli(verb[0], tmp_path / "nope", *verb[1:]), "does not exist")


def test_nan_loss_stops_and_names_the_step(run_cli, tmp_path, tabular_csv):
    # A learning rate this large overflows the weights within a few steps.
    config = _table_config(
        tmp_path,
        tabular_csv,
        extra="trainer:\n  epochs: 2\n  optimizer: {name: sgd, lr: 1.0e+30}\n",
    )
    _assert_user_error(run_cli("train", config, "--out", tmp_path / "runs"), "step")
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(p.name[0] != "." for p in runs.iterdir())


def test_wrong_image_shape(run_cli, tmp_path):
    # A Sequential CNN built for 3-channel 32x32 images, fed MNIST's 1x28x28.
    config = _config(
        tmp_path,
        "data:\n  dataset: mnist\n  limit: 256\n"
        "model:\n  type: sequential\n  layers:\n"
        "    - Conv2D: {filters: 4, kernel_size: 3, input_shape: [32, 32, 3]}\n"
        "    - Flatten: {}\n    - Dense: {units: 10}\n"
        "trainer:\n  epochs: 1\n",
    )
    _assert_user_error(run_cli("train", config, "--out", tmp_path / "runs"), "shape")


def test_a_closed_pipe_is_not_an_internal_error():
    """Regression: `deepfuse evaluate RUN | head` ended with a traceback and "internal error"."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from deepfuse.cli import main as cli\n"
        "def chatty(args):\n"
        "    for i in range(200_000):\n"
        "        print('line', i)\n"
        "    return 0\n"
        "cli._VERBS['info'] = chatty\n"
        "sys.exit(cli.main(['info', 'RUN']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()  # what `head -1` does after its line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, stderr
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr


@pytest.mark.parametrize("argv", [["train", "c.yaml", "-\x10"], ["train", "--no-such-flag"]])
def test_a_usage_mistake_returns_2_with_one_line_instead_of_raising(argv, capsys):
    """Regression: argparse's exit escaped main() as SystemExit (found by the generated-config
    property test with an override starting with '-'); main() returns the code."""
    from deepfuse.cli.main import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepfuse: error: ") and err.count("\n") == 1


def test_help_returns_0(capsys):
    from deepfuse.cli.main import main

    assert main(["--help"]) == 0
    assert "usage: deepfuse" in capsys.readouterr().out
