"""Property: hostile run folders never crash the CLI verbs that read them (issue 11, must show).

One real tiny run is trained per module, and one ``.partial`` run with checkpoints (Ctrl-C after
fit, before the run's files are written). Each example copies one of them and damages one file:
``model.json``, ``metrics.json``, ``config.yaml``, ``evaluation.json``, ``history.csv``,
``histograms.json``, the weights, ``steps.csv`` or a checkpoint's ``manifest.json`` /
``state.json`` is replaced by generated JSON (random structure, nesting hundreds deep, wrong
types, huge ints, ~1 MB strings, or the original with one value swapped), random bytes, an empty
file, a truncation of the original, a FIFO, a folder, a symlink to a sentinel file outside the
run, or removed. Then ``info``, ``evaluate``, ``predict``, ``report``, ``plot`` (finished run) or
``train --resume`` (partial run) runs in-process and must:

- return 0 or 2 (never 1, "a bug"; never an exception escaping ``main``);
- on 2, print exactly one line on stderr (warnings aside), ``deepfuse: error: ...``;
- leave the sentinel outside the run untouched (content and mtime) and write nothing outside the
  run folder except the requested ``--out`` file;
- answer within :data:`SECONDS` (an alarm turns a hang, e.g. a blocking FIFO read, into a failure)
  and grow peak RSS by less than :data:`MAX_RSS_GROWTH`.

``DEEPFUSE_HYPOTHESIS_EXAMPLES`` raises the number of examples per verb (default 20).
"""

from __future__ import annotations

import functools
import json
import os
import random
import resource
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deepfuse.cli.main import main

SECONDS = 20  # per example; typical examples take well under a second
MAX_RSS_GROWTH = 500 * 1024  # KiB (ru_maxrss is in KiB on Linux): 500 MB
EXAMPLES = int(os.environ.get("DEEPFUSE_HYPOTHESIS_EXAMPLES", "20"))
SENTINEL = b"sentinel: must stay as it is\n"

FINISHED_TARGETS = [
    "model.json",
    "metrics.json",
    "config.yaml",
    "evaluation.json",
    "history.csv",
    "histograms.json",
    "model.safetensors",
]
PARTIAL_TARGETS = [
    "config.yaml",
    "steps.csv",
    "histograms.json",
    "checkpoints/*/manifest.json",
    "checkpoints/*/state.json",
    "checkpoints/*/*.safetensors",
]


# ----------------------------------------------------------------------------- the runs


def _write_table(path: Path, rows: int, label: bool = True) -> Path:
    rng = random.Random(0)
    lines = ["age,income_k,city" + (",label" if label else "")]
    for _ in range(rows):
        age, income = rng.randint(18, 80), round(rng.uniform(10, 150), 1)
        city = rng.choice(["paris", "lyon", "nice"])
        tail = f",{'rich' if income > 90 else 'poor'}" if label else ""
        lines.append(f"{age},{income},{city}{tail}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(root: Path) -> Path:
    data = _write_table(root / "table.csv", rows=120)
    path = root / "tiny.yaml"
    path.write_text(
        f"data:\n  train: {data}\n  target: label\n"
        "model:\n  type: tabular\n  hidden: [4]\n"
        "trainer:\n  epochs: 2\n  batch_size: 32\n  seed: 0\n  verbose: 0\n"
    )
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """``finished``: a complete run; ``partial``: a killed one with checkpoints; ``rows``: a CSV."""
    from deepfuse.models import Model

    root = tmp_path_factory.mktemp("runs")
    config = _config(root)
    assert main(["train", str(config), "--out", str(root / "done")]) == 0
    (finished,) = (root / "done").iterdir()

    fit = Model.fit

    @functools.wraps(fit)  # keeps fit's signature: config keys come from it
    def interrupted_fit(self, *args, **kwargs):
        fit(self, *args, **kwargs)  # trains and checkpoints every epoch ...
        raise KeyboardInterrupt  # ... then Ctrl-C before the run's files are written

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Model, "fit", interrupted_fit)
        assert main(["train", str(config), "--out", str(root / "killed")]) == 130
    (partial,) = (root / "killed").iterdir()
    assert partial.name.endswith(".partial") and list(partial.glob("checkpoints/*/state.json"))
    rows = _write_table(root / "rows.csv", rows=10, label=False)
    return {"finished": finished, "partial": partial, "rows": rows}


# ----------------------------------------------------------------------------- the damage

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False),
    st.text(max_size=12),
    st.sampled_from([0, -1, 1, 2**63, "", "nan", "../../etc", "step-00000001", [], {}]),
)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
RAW_JSON = st.one_of(
    JSON_VALUES.map(json.dumps),
    st.integers(1, 400).map(lambda d: "[" * d + "]" * d),  # nesting hundreds deep
    st.integers(1, 400).map(lambda d: '{"a":' * d + "1" + "}" * d),
    st.sampled_from(
        [
            "9" * 5000,  # over Python's 4300-digit int limit: ValueError in json.loads
            '{"a": ' + "9" * 5000 + "}",
            '"' + "x" * (1 << 20) + '"',  # a ~1 MB string
            "[" + ",".join(['"' + "y" * 1000 + '"'] * 1000) + "]",
            "NaN",
            '{"a": Infinity}',
            "[1e999]",
            '{"a": 1, "a": 2}',
            "\ufeff{}",
        ]
    ),
)


def _paths(doc: object, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc[:8]):
            yield from _paths(value, (*prefix, i))


KINDS = ["json", "swap", "bytes", "empty", "truncate", "fifo", "dir", "symlink", "remove"]
CONTENT_KINDS = ["json", "swap", "truncate", "bytes"]  # what a bad write or an editor leaves


@st.composite
def damages(draw, targets: list[str], kinds: list[str] = KINDS) -> tuple[str, str, object]:
    """(target glob, kind of damage, payload)."""
    target = draw(st.sampled_from(targets))
    kind = draw(st.sampled_from(kinds))
    payload: object = None
    if kind == "json":
        payload = draw(RAW_JSON).encode()
    elif kind == "bytes":
        payload = draw(st.binary(max_size=300))
    elif kind in ("swap", "truncate"):
        # a cut point / a source of choices, applied to the real file when it is damaged
        payload = draw(st.integers(0, 2**30) if kind == "truncate" else st.randoms())
    return target, kind, payload


def _damage(run: Path, target: str, kind: str, payload: object, sentinel: Path) -> None:
    matches = sorted(run.glob(target))
    assert matches, f"{target} not in {sorted(p.name for p in run.rglob('*'))}"
    path = matches[-1]
    original = path.read_bytes()
    path.unlink()
    if kind in ("json", "bytes"):
        path.write_bytes(payload)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncate":
        path.write_bytes(original[: payload % (len(original) + 1)])
    elif kind == "swap":
        if target.endswith(".csv") or target.endswith(".safetensors"):
            data = bytearray(original)  # flip a few bytes of a non-JSON file
            for _ in range(payload.randint(1, 8)):
                if data:
                    data[payload.randrange(len(data))] = payload.randrange(256)
            path.write_bytes(bytes(data))
        else:
            path.write_bytes(_swap(original, payload))
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    elif kind == "symlink":
        path.symlink_to(sentinel)
    # "remove": already gone


def _swap(original: bytes, rnd: random.Random) -> bytes:
    try:
        doc = json.loads(original)
    except ValueError:
        import yaml

        doc = yaml.safe_load(original)
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return b"{}"
    path = rnd.choice(paths)
    node = doc
    for key in path[:-1]:
        node = node[key]
    choices = [None, True, -1, 0, 2**64, 1e308, "", "x" * 100_000, [], {}, [[[]]], {"": {}}, "nan"]
    if isinstance(node, dict) and rnd.randrange(10) < 3:
        del node[path[-1]]
    else:
        node[path[-1]] = rnd.choice(choices)
    return json.dumps(doc).encode()


# ----------------------------------------------------------------------------- the check


class _Hung(BaseException):
    """Raised by the alarm: a verb that blocks (a FIFO read) or loops fails the example."""


def _on_alarm(*_):
    raise _Hung(f"a verb ran over {SECONDS} s")


def _snapshot(root: Path, run: Path) -> set[str]:
    """Every path under ``root`` outside the run folder (``X.partial`` finishes as ``X``)."""
    names = {run, run.with_name(run.name.removesuffix(".partial"))}
    return {str(p.relative_to(root)) for p in root.rglob("*") if not names & {p, *p.parents}}


def _check(capsys, source: Path, verb: list[str], damage) -> None:
    target, kind, payload = damage
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sentinel = root / "sentinel.txt"
        sentinel.write_bytes(SENTINEL)
        os.utime(sentinel, (1_000_000_000, 1_000_000_000))
        run = root / "runs" / source.name
        shutil.copytree(source, run, symlinks=True)
        _damage(run, target, kind, payload, sentinel)
        before = _snapshot(root, run)
        out = root / "out.csv"
        argv = [a.format(run=run, out=out) for a in verb]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(SECONDS)
        start = time.monotonic()
        try:
            code = main(argv)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        elapsed = time.monotonic() - start
        err = capsys.readouterr()[1]
        event(f"exit {code}")
        assert code in (0, 2), f"{argv[0]} on {target} ({kind}): exit {code}\n{err[-3000:]}"
        assert "Traceback" not in err
        if code == 2:
            lines = [line for line in err.splitlines() if not line.startswith("deepfuse: warning")]
            assert len(lines) == 1 and lines[0].startswith("deepfuse: error: "), err[-3000:]
        assert sentinel.read_bytes() == SENTINEL
        assert sentinel.stat().st_mtime == 1_000_000_000
        written = _snapshot(root, run) - before
        assert written <= {"out.csv"}, f"written outside the run: {sorted(written)}"
        assert elapsed < SECONDS
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
        assert growth < MAX_RSS_GROWTH, f"peak RSS grew by {growth} KiB"


def _settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


VERBS = {
    "info": ["info", "{run}"],
    "evaluate": ["evaluate", "{run}"],
    "predict": ["predict", "{run}", "ROWS", "--out", "{out}"],
    "report": ["report", "{run}"],
    "plot": ["plot", "{run}", "--format", "svg"],
}


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_hostile_finished_run_exits_0_or_2(verb, runs, capsys):
    argv = [str(runs["rows"]) if a == "ROWS" else a for a in VERBS[verb]]

    @_settings(EXAMPLES // 2 if verb == "report" else EXAMPLES)  # report: ~1 s an example
    @given(damage=damages(FINISHED_TARGETS))
    def check(damage) -> None:
        _check(capsys, runs["finished"], argv, damage)

    check()


def test_hostile_partial_run_resume_exits_0_or_2(runs, capsys):
    @_settings(EXAMPLES)
    @given(damage=damages(PARTIAL_TARGETS))
    def check(damage) -> None:
        _check(capsys, runs["partial"], ["train", "--resume", "{run}"], damage)

    check()


@pytest.mark.parametrize(
    ("verb", "kinds"),
    [
        ("info", CONTENT_KINDS),
        ("evaluate", ["json", "truncate", "bytes"]),
        ("predict", ["json", "truncate", "bytes"]),
        # a swapped value in the saved preprocessing (mean: null) used to load, then fail
        # mid-transform (exit 1): Preprocessor.from_config now checks the encoders' state
        ("evaluate", ["swap"]),
        ("predict", ["swap"]),
    ],
)
def test_hostile_model_json_exits_0_or_2(verb, kinds, runs, capsys):
    """model.json alone, with its content damaged (the file that rebuilds the model)."""
    argv = [str(runs["rows"]) if a == "ROWS" else a for a in VERBS[verb]]

    @_settings(EXAMPLES)
    @given(damage=damages(["model.json"], kinds))
    def check(damage) -> None:
        _check(capsys, runs["finished"], argv, damage)

    check()


def test_hostile_checkpoint_files_resume_exits_0_or_2(runs, capsys):
    """A checkpoint's manifest.json / state.json alone, with its content damaged."""

    @_settings(max(EXAMPLES // 4, 1))  # a resume that works trains: ~1 s
    @given(damage=damages(PARTIAL_TARGETS[3:5], CONTENT_KINDS))
    def check(damage) -> None:
        _check(capsys, runs["partial"], ["train", "--resume", "{run}"], damage)

    check()


# ----------------------------------------------------------------------------- found by the above


def _copy(source: Path, tmp_path: Path) -> Path:
    run = tmp_path / source.name
    shutil.copytree(source, run)
    return run


def test_plot_run_with_empty_history_draws_the_rest(runs, tmp_path, capsys):
    """Was exit 1: an empty history.csv made a zero-panel figure (matplotlib ValueError)."""
    run = _copy(runs["finished"], tmp_path)
    (run / "history.csv").write_bytes(b"")
    assert main(["plot", str(run), "--format", "svg"]) == 0, capsys.readouterr()[1]
    drawn = {p.name for p in (run / "plots").iterdir()}
    assert "curves.svg" not in drawn and "confusion_matrix.svg" in drawn


def test_resume_with_a_config_that_no_longer_fits_the_checkpoint(runs, tmp_path, capsys):
    """Was exit 1: torch's load_state_dict RuntimeError (size mismatch) escaped as a bug."""
    run = _copy(runs["partial"], tmp_path)
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("- 4\n", "- 9\n", 1))
    assert "- 9" in config.read_text()
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr()[1].strip()
    assert len(err.splitlines()) == 1 and "does not fit the model" in err and "config.yaml" in err


def test_model_json_with_a_wrong_type_is_a_user_error(runs, tmp_path, capsys):
    """Was exit 1: a feature spec of null in model.json raised TypeError in Schema.from_dict."""
    run = _copy(runs["finished"], tmp_path)
    meta = json.loads((run / "model.json").read_text())
    meta["preprocessing"]["schema"]["features"][0] = None
    (run / "model.json").write_text(json.dumps(meta))
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr()[1].strip()
    assert len(err.splitlines()) == 1 and "does not describe a model" in err


@pytest.mark.parametrize("verb", ["evaluate", "predict"])
def test_run_config_without_data_is_a_user_error(verb, runs, tmp_path, capsys):
    """Was exit 1: an empty config.yaml in a finished run raised KeyError('data')."""
    run = _copy(runs["finished"], tmp_path)
    (run / "config.yaml").write_bytes(b"")
    argv = [a.format(run=run, out=tmp_path / "out.csv") for a in VERBS[verb]]
    assert main([str(runs["rows"]) if a == "ROWS" else a for a in argv]) == 2
    err = capsys.readouterr()[1].strip()
    assert len(err.splitlines()) == 1 and "no 'data' section" in err
