"""Every loader refuses hostile files with a clear DataError and runs nothing.

Loaders: ``load_weights`` (weights into a model), ``load_model`` / ``deepfuse.load`` (a saved model
folder), ``load_checkpoint`` (a training checkpoint, with a manifest rewritten by the attacker so
that the hashes match) and ``CheckpointManager.latest_valid``. Plus a scan of the package source for
pickle and unsafe ``torch.load``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import deepfuse as df
from deepfuse._utils.errors import DataError, UserError
from deepfuse._utils.safefiles import MAX_HEADER_BYTES
from deepfuse.models.serialization import load_model, load_weights
from deepfuse.training.checkpoint import CheckpointManager, load_checkpoint

SRC = Path(df.__file__).resolve().parent


class _Payload:
    """Unpickling this creates the marker file: proof that a loader ran the pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _header_file(path: Path, header: bytes, data: bytes = b"", length: int | None = None) -> Path:
    length = len(header) if length is None else length
    path.write_bytes(struct.pack("<Q", length) + header + data)
    return path


def _valid_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    return save(tensors)


# Each maker writes a hostile "<name>.safetensors" given the real tensors the file should hold,
# and returns the words the error must contain.
def _pickle(path, tensors, marker):
    path.write_bytes(pickle.dumps(_Payload(marker)))
    return "header length"


def _torch_save_zip(path, tensors, marker):
    torch.save({"w": _Payload(marker)}, path)  # torch's zip+pickle format, renamed
    return "header length"


def _length_past_end(path, tensors, marker):
    _header_file(path, b"{}", length=4096)
    return "header length"


def _absurd_length(path, tensors, marker):
    # A sparse file bigger than the claimed header, so only the size limit can refuse it.
    _header_file(path, b"{}", length=MAX_HEADER_BYTES + 1)
    with open(path, "r+b") as fh:
        fh.truncate(MAX_HEADER_BYTES + 64)
    return "limit"


def _malformed_json(path, tensors, marker):
    _header_file(path, b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]')
    return "not valid JSON"


def _offsets_outside(path, tensors, marker):
    name, t = next(iter(tensors.items()))
    header = {name: {"dtype": "F32", "shape": list(t.shape), "data_offsets": [0, 10**12]}}
    _header_file(path, json.dumps(header).encode())
    return "outside the file"


def _traversal_name(path, tensors, marker):
    path.write_bytes(_valid_bytes({"../../etc/evil": torch.zeros(2)}))
    return "unsafe tensor name"


def _truncated(path, tensors, marker):
    data = _valid_bytes(tensors)
    path.write_bytes(data[: len(data) - 7])
    return "outside the file"


def _wrong_shape(path, tensors, marker):
    path.write_bytes(_valid_bytes({k: torch.zeros(*v.shape, 3) for k, v in tensors.items()}))
    return "shape"


HOSTILE: dict[str, Callable] = {
    "pickle_payload": _pickle,
    "torch_save_zip": _torch_save_zip,
    "header_length_past_end": _length_past_end,
    "header_length_absurd": _absurd_length,
    "malformed_header_json": _malformed_json,
    "offsets_outside_file": _offsets_outside,
    "path_traversal_name": _traversal_name,
    "truncated": _truncated,
    "wrong_shape": _wrong_shape,
}


def _model() -> df.Sequential:
    model = df.Sequential([df.layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="adam", loss="mse")
    return model


def _check(exc_info, path: Path, words: str, marker: Path) -> None:
    message = str(exc_info.value)
    assert isinstance(exc_info.value, DataError)
    assert path.name in message, message
    assert words in message, message
    assert not marker.exists()  # nothing ran


@pytest.mark.parametrize("kind", HOSTILE)
def test_load_weights_refuses(kind, tmp_path):
    model, marker = _model(), tmp_path / "PWNED"
    path = tmp_path / "model.safetensors"
    words = HOSTILE[kind](path, model.state_dict(), marker)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataError) as info:
        load_weights(model, path)
    _check(info, path, words, marker)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched


@pytest.mark.parametrize("kind", HOSTILE)
def test_load_model_refuses(kind, tmp_path):
    model, marker = _model(), tmp_path / "PWNED"
    model.save(tmp_path / "m")
    path = tmp_path / "m" / "model.safetensors"
    words = HOSTILE[kind](path, model.state_dict(), marker)
    with pytest.raises(DataError) as info:
        df.load(tmp_path / "m")
    _check(info, path, words, marker)


def _checkpoint(tmp_path: Path) -> tuple[CheckpointManager, Path, dict[str, torch.Tensor]]:
    manager = CheckpointManager(tmp_path / "ckpt")
    weights = _model().state_dict()
    manager.save({"model": weights, "trainer": {"global_step": 1}})
    path = manager.save({"model": weights, "trainer": {"global_step": 2}})
    return manager, path, weights


def _rewrite_manifest(folder: Path) -> None:
    """What an attacker would do: make the manifest agree with the hostile files."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        entry.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("kind", [k for k in HOSTILE if k != "wrong_shape"])
def test_load_checkpoint_refuses_even_with_a_matching_manifest(kind, tmp_path):
    _, path, weights = _checkpoint(tmp_path)
    marker = tmp_path / "PWNED"
    target = path / "model.safetensors"
    words = HOSTILE[kind](target, weights, marker)
    _rewrite_manifest(path)
    with pytest.raises(DataError) as info:
        load_checkpoint(path)
    _check(info, target, words, marker)


def test_wrong_shape_in_a_checkpoint_is_refused_when_loaded_into_the_trainer(tmp_path):
    _, path, weights = _checkpoint(tmp_path)
    _wrong_shape(path / "model.safetensors", weights, None)
    _rewrite_manifest(path)
    state = load_checkpoint(path)  # a valid file: the mismatch is with the architecture
    with pytest.raises(RuntimeError, match="size mismatch"):
        _model().load_state_dict(state["model"])


@pytest.mark.parametrize("kind", [k for k in HOSTILE if k != "wrong_shape"])
def test_latest_valid_skips_a_hostile_checkpoint_with_a_warning(kind, tmp_path):
    manager, path, weights = _checkpoint(tmp_path)
    HOSTILE[kind](path / "model.safetensors", weights, tmp_path / "PWNED")  # manifest now stale
    with pytest.warns(RuntimeWarning, match="step-00000002"):
        assert manager.latest_valid().name == "step-00000001"


@pytest.mark.parametrize(
    ("entry", "words"),
    [("../../outside.json", "unsafe file name"), ("/etc/passwd", "unsafe file name")],
)
def test_manifest_path_traversal_is_refused(tmp_path, entry, words):
    _, path, _ = _checkpoint(tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][entry] = {"sha256": "0" * 64, "size": 1}
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=words) as info:
        load_checkpoint(path)
    assert "manifest.json" in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("state.json", '{"format": "deepfuse.checkpoint", "state": {', "not valid JSON"),
        ("manifest.json", "[1, 2", "not valid JSON"),
        ("manifest.json", '{"format": "something.else"}', "not a deepfuse checkpoint"),
    ],
)
def test_malformed_checkpoint_json_is_refused(tmp_path, name, content, words):
    _, path, _ = _checkpoint(tmp_path)
    (path / name).write_text(content)
    if name != "manifest.json":
        _rewrite_manifest(path)
    with pytest.raises(DataError, match=words) as info:
        load_checkpoint(path)
    assert name in str(info.value)


def test_truncated_checkpoint_file_is_detected_by_the_manifest(tmp_path):
    _, path, _ = _checkpoint(tmp_path)
    target = path / "state.json"
    target.write_bytes(target.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated or was changed") as info:
        load_checkpoint(path)
    assert "state.json" in str(info.value)


@pytest.mark.parametrize(
    ("meta", "error", "words"),
    [
        ("{not json", DataError, "not valid JSON"),
        ('{"format": "deepfuse.model", "architecture": "x"}', DataError, "architecture"),
        (
            '{"format": "deepfuse.model", "architecture": {"kind": "module", "class": "os.system"}}',
            UserError,
            "never imports classes",
        ),
    ],
)
def test_hostile_model_json_is_refused(tmp_path, meta, error, words):
    _model().save(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_text(meta)
    with pytest.raises(error, match=words):
        load_model(tmp_path / "m")


# --------------------------------------------------------------------- the package source
_UNSAFE = [
    (
        re.compile(r"^\s*(import|from)\s+(c?pickle|cloudpickle|dill|joblib|marshal|shelve)\b"),
        "import",
    ),
    (re.compile(r"\b(c?pickle|cloudpickle|dill|joblib|marshal)\.loads?\("), "pickle load"),
    (re.compile(r"weights_only\s*=\s*False"), "weights_only=False"),
    (re.compile(r"allow_pickle\s*=\s*True"), "allow_pickle=True"),
    (re.compile(r"\bread_pickle\("), "read_pickle"),
    (re.compile(r"yaml\.(unsafe_)?load\((?![^)]*SafeLoader)"), "yaml.load"),
]


def test_the_package_never_unpickles_files():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for pattern, what in _UNSAFE:
                if pattern.search(code):
                    found.append(f"{path.relative_to(SRC)}:{number}: {what}: {line.strip()}")
            if "torch.load(" in code and "weights_only=True" not in code:
                found.append(f"{path.relative_to(SRC)}:{number}: torch.load: {line.strip()}")
    assert found == []


def test_the_scan_catches_what_it_looks_for():
    # Guards the scan itself: each pattern fires on a line it must refuse.
    lines = [
        "import pickle",
        "from cloudpickle import loads",
        "x = pickle.loads(data)",
        "torch.load(f, weights_only=False)",
        "np.load(f, allow_pickle=True)",
        "pd.read_pickle(p)",
        "yaml.load(text)",
    ]
    for line in lines:
        assert any(p.search(line) for p, _ in _UNSAFE), line
    assert not any(p.search("yaml.safe_load(text)") for p, _ in _UNSAFE)


def test_the_pickle_payload_is_live(tmp_path):
    # Guards the "nothing ran" checks above: unpickling the payload does create the marker.
    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(_Payload(marker))).close()
    assert marker.exists()
