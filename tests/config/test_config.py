"""deepfuse.config: YAML loading, overrides, validation messages, defaults."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from deepfuse._utils.errors import ConfigError
from deepfuse.config import apply_overrides, dump_config, load_config, resolve, validate

MNIST = {"data": {"dataset": "mnist"}}


def _write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- load_config


def test_load_config_roundtrip(tmp_path):
    path = _write(tmp_path, "data:\n  dataset: mnist\ntrainer:\n  epochs: 2\n")
    assert load_config(path) == {"data": {"dataset": "mnist"}, "trainer": {"epochs": 2}}


def test_load_empty_file_is_empty_dict(tmp_path):
    assert load_config(_write(tmp_path, "")) == {}


def test_unreadable_yaml_names_file_line_and_column(tmp_path):
    path = _write(tmp_path, "data:\n  dataset: mnist\ntrainer:\n  epochs: [1, 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert str(path) in msg and "line 5" in msg and "column" in msg
    assert "\n" not in msg


def test_bad_indentation_reports_line(tmp_path):
    path = _write(tmp_path, "trainer:\n  epochs: 1\n   batch_size: 2\n")
    with pytest.raises(ConfigError, match=r"line 3, column \d+"):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_top_level_must_be_mapping(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_dump_config_writes_block_yaml(tmp_path):
    cfg = {"model": {"type": "cnn", "filters": (32, 64)}, "trainer": {"epochs": 3}}
    dump_config(cfg, tmp_path / "out.yaml")
    assert load_config(tmp_path / "out.yaml") == {
        "model": {"type": "cnn", "filters": [32, 64]},
        "trainer": {"epochs": 3},
    }


# ----------------------------------------------------------------------------- overrides


def test_overrides_parse_yaml_values():
    cfg = apply_overrides(
        {"trainer": {"epochs": 10}},
        [
            "trainer.epochs=3",
            "model.hidden=[64,32]",
            "trainer.optimizer={name: sgd, lr: 0.1}",
            "trainer.grad_clip=1e-3",
            "trainer.seed=null",
            "trainer.shuffle=false",
            "data.train=my data.csv",
        ],
    )
    assert cfg["trainer"]["epochs"] == 3
    assert cfg["model"]["hidden"] == [64, 32]
    assert cfg["trainer"]["optimizer"] == {"name": "sgd", "lr": 0.1}
    assert cfg["trainer"]["grad_clip"] == pytest.approx(1e-3)
    assert cfg["trainer"]["seed"] is None and cfg["trainer"]["shuffle"] is False
    assert cfg["data"]["train"] == "my data.csv"


def test_overrides_do_not_mutate_input():
    cfg = {"trainer": {"epochs": 10}}
    apply_overrides(cfg, ["trainer.epochs=1"])
    assert cfg == {"trainer": {"epochs": 10}}


def test_override_subkey_of_named_string_becomes_mapping():
    cfg = apply_overrides({"trainer": {"optimizer": "adam"}}, ["trainer.optimizer.lr=0.01"])
    assert cfg["trainer"]["optimizer"] == {"name": "adam", "lr": 0.01}


def test_override_list_index():
    cfg = {"model": {"type": "sequential", "layers": [{"Dense": {"units": 8}}]}}
    out = apply_overrides(cfg, ["model.layers.0.Dense.units=64"])
    assert out["model"]["layers"][0]["Dense"]["units"] == 64
    with pytest.raises(ConfigError, match="not a valid index"):
        apply_overrides(cfg, ["model.layers.3.Dense.units=64"])


def test_override_unknown_section_suggests():
    with pytest.raises(
        ConfigError, match=r"Unknown config section 'trainr'.*Did you mean 'trainer'"
    ):
        apply_overrides({}, ["trainr.epochs=3"])


@pytest.mark.parametrize("bad", ["trainer.epochs", "=3", "trainer..epochs=3"])
def test_override_malformed(bad):
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, [bad])


def test_override_through_scalar_errors():
    with pytest.raises(ConfigError, match="not a mapping"):
        apply_overrides({"trainer": {"epochs": 3}}, ["trainer.epochs.x=1"])


# ----------------------------------------------------------------------------- validate


def test_unknown_key_did_you_mean(real_signatures):
    with pytest.raises(ConfigError) as info:
        validate({**MNIST, "trainer": {"epoch": 3}}, real_signatures)
    msg = str(info.value)
    assert "Unknown key 'trainer.epoch'" in msg
    assert "Did you mean 'trainer.epochs'?" in msg
    assert "'batch_size'" in msg  # lists the allowed keys


def test_unknown_top_level_section():
    with pytest.raises(ConfigError, match=r"Unknown key 'modle'.*Did you mean 'model'"):
        validate({**MNIST, "modle": {}})


def test_bad_value_names_key_expected_and_value():
    with pytest.raises(ConfigError) as info:
        validate({**MNIST, "trainer": {"epochs": 0}})
    msg = str(info.value)
    assert "'trainer.epochs'" in msg and "integer >= 1" in msg and "got 0" in msg


def test_bad_choice_lists_allowed_values(real_signatures):
    with pytest.raises(ConfigError) as info:
        validate({"data": {"dataset": "mnst"}}, real_signatures)
    msg = str(info.value)
    assert "'data.dataset'" in msg and "'mnst'" in msg
    assert "'fashion_mnist'" in msg and "Did you mean 'mnist'?" in msg


def test_feature_types_checked(real_signatures):
    cfg = {"data": {"train": "a.csv", "target": "y", "features": {"age": "numerc"}}}
    with pytest.raises(ConfigError, match=r"data.features.age.*Did you mean 'numeric'"):
        validate(cfg, real_signatures)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({}, "neither"),
        ({"dataset": "mnist", "train": "a.csv"}, "both"),
        ({"train": "a.csv"}, "data.target"),
        ({"dataset": "mnist", "target": "y"}, "built-in"),
        ({"train": "a.csv", "target": "y", "test": "b.csv", "test_split": 0.2}, "not both"),
        ({"train": "a.csv", "target": "y", "validation_split": 1.5}, r"\[0, 1\)"),
    ],
)
def test_data_section_rules(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        validate({"data": data})


def test_missing_data_section():
    with pytest.raises(ConfigError, match="no 'data' section"):
        validate({"trainer": {"epochs": 1}})


def test_model_kwargs_checked_against_zoo_signature():
    def cnn(input_shape=None, num_classes=None, filters=(32, 64), dense=(128,), dropout=0.0):
        return None

    sig = {"models": {"cnn": cnn, "mlp": lambda hidden=(128,): None}}
    validate({**MNIST, "model": {"type": "cnn", "filters": [8]}}, sig)
    with pytest.raises(
        ConfigError, match=r"Unknown key 'model.filtres'.*Did you mean 'model.filters'"
    ):
        validate({**MNIST, "model": {"type": "cnn", "filtres": [8]}}, sig)
    with pytest.raises(
        ConfigError, match=r"'model.type': 'cnnn'.*'sequential'.*Did you mean 'cnn'"
    ):
        validate({**MNIST, "model": {"type": "cnnn"}}, sig)


def test_sequential_layers_checked():
    class Dense:
        def __init__(self, units, activation=None):
            pass

    sig = {"layers": {"Dense": Dense, "Flatten": lambda: None}}
    layers = [{"Flatten": None}, {"Dense": {"units": 10, "activation": "softmax"}}]
    validate({**MNIST, "model": {"type": "sequential", "layers": layers}}, sig)
    bad = [{"Dens": {"units": 3}}]
    with pytest.raises(ConfigError, match=r"model.layers.0.*Did you mean 'Dense'"):
        validate({**MNIST, "model": {"type": "sequential", "layers": bad}}, sig)
    bad = [{"Dense": {"unit": 3}}]
    with pytest.raises(ConfigError, match=r"model.layers.0.Dense.unit.*Did you mean"):
        validate({**MNIST, "model": {"type": "sequential", "layers": bad}}, sig)
    with pytest.raises(ConfigError, match="non-empty list"):
        validate({**MNIST, "model": {"type": "sequential", "layers": []}}, sig)


def test_model_type_required():
    with pytest.raises(ConfigError, match=r"'model\.type' is missing"):
        validate({**MNIST, "model": {"filters": [3]}})


def test_trainer_names_checked_against_registries():
    sig = {"optimizers": {"adam": lambda lr=1e-3: None, "sgd": None}, "metrics": ["accuracy"]}
    validate({**MNIST, "trainer": {"optimizer": {"name": "adam", "lr": 0.1}}}, sig)
    with pytest.raises(ConfigError, match=r"'trainer.optimizer': 'adma'.*Did you mean 'adam'"):
        validate({**MNIST, "trainer": {"optimizer": "adma"}}, sig)
    with pytest.raises(
        ConfigError, match=r"trainer.optimizer.l\b.*Did you mean 'trainer.optimizer.lr'"
    ):
        validate({**MNIST, "trainer": {"optimizer": {"name": "adam", "l": 0.1}}}, sig)
    with pytest.raises(ConfigError, match=r"'trainer.metrics.1': 'acc'"):
        validate({**MNIST, "trainer": {"metrics": ["accuracy", "acc"]}}, sig)


def test_trainer_keys_follow_the_given_signature():
    def fit(x, y=None, *, epochs=1, batch_size=32, new_option=False):
        pass

    validate({**MNIST, "trainer": {"new_option": True}}, {"fit": fit})
    with pytest.raises(ConfigError, match=r"Unknown key 'trainer\.new_option'"):
        validate({**MNIST, "trainer": {"new_option": True}}, {"fit": lambda x, epochs=1: None})
    with pytest.raises(ConfigError, match=r"Unknown key 'trainer\.x'"):
        validate({**MNIST, "trainer": {"x": 1}}, {"fit": fit})


# ----------------------------------------------------------------------------- resolve


def test_resolve_fills_defaults_without_mutating(real_signatures):
    cfg = {"data": {"train": "a.csv", "target": "y"}, "trainer": {"epochs": 2}}
    out = resolve(cfg, real_signatures)
    # what the config leaves out is chosen from the data later (models.auto_defaults)
    assert out["trainer"]["epochs"] == 2 and out["trainer"]["batch_size"] == "auto"
    assert out["trainer"]["optimizer"] == "auto" and out["trainer"]["early_stopping"] == "auto"
    assert out["data"]["validation_split"] == 0.1 and out["data"]["test_split"] == 0.2
    assert out["model"] is None
    assert cfg == {"data": {"train": "a.csv", "target": "y"}, "trainer": {"epochs": 2}}


def test_resolve_moves_trainer_validation_split():
    out = resolve({**MNIST, "trainer": {"validation_split": 0.2}})
    assert out["data"]["validation_split"] == 0.2 and "validation_split" not in out["trainer"]
    with pytest.raises(ConfigError, match="Set only"):
        resolve(
            {
                "data": {"dataset": "mnist", "validation_split": 0.1},
                "trainer": {"validation_split": 0.3},
            }
        )


def test_config_imports_only_stdlib_yaml_and_utils():
    # deepfuse/__init__.py may import torch; the config modules themselves must not.
    import deepfuse.config

    allowed_roots = set(sys.stdlib_module_names) | {"yaml", "__future__"}
    for path in Path(deepfuse.config.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                ok = name.split(".")[0] in allowed_roots or name.startswith(
                    ("deepfuse._utils", "deepfuse.config")
                )
                assert ok, f"{path.name} imports {name}"


def test_feature_options_and_target_type(real_signatures):
    features = {"review": {"type": "text", "max_len": 100}, "id": "ignore", "y": "regression"}
    validate({"data": {"train": "a.csv", "target": "y", "features": features}}, real_signatures)
    with pytest.raises(ConfigError, match=r"data.features.y.*'classification', 'regression'"):
        validate(
            {"data": {"train": "a.csv", "target": "y", "features": {"y": "numeric"}}},
            real_signatures,
        )
    with pytest.raises(ConfigError, match=r"data.features.review.type"):
        validate(
            {"data": {"train": "a.csv", "target": "y", "features": {"review": {"type": "txt"}}}},
            real_signatures,
        )


@pytest.mark.parametrize("clip", [1.0, {"norm": 1.0}, {"value": 0.5}, None])
def test_grad_clip_forms(clip):
    validate({**MNIST, "trainer": {"grad_clip": clip}})


def test_grad_clip_invalid():
    with pytest.raises(ConfigError, match=r"trainer\.grad_clip"):
        validate({**MNIST, "trainer": {"grad_clip": {"max": 1.0}}})


def test_trainer_keys_are_the_real_compile_and_fit_parameters(real_signatures):
    """No hand copy of fit's signature: the trainer keys follow Model.compile/fit as they are."""
    from deepfuse.config import trainer_keys
    from deepfuse.config.signatures import params_of
    from deepfuse.models import Model

    supplied = {"x", "y", "validation_data", "checkpoint_dir", "resume"}  # the API's own
    real = (set(params_of(Model.compile)) | set(params_of(Model.fit))) - supplied
    assert set(trainer_keys(real_signatures)) == real | {
        "early_stopping",
        "time_budget",
        "search",
        "baselines",
        "threshold",
    }
    # initial_epoch is a fit() parameter the old hand copy had lost
    validate({**MNIST, "trainer": {"initial_epoch": 1}}, real_signatures)
    assert trainer_keys(real_signatures)["verbose"] == params_of(Model.fit)["verbose"].default


def test_without_signatures_the_trainer_section_is_kept_as_given():
    cfg = {**MNIST, "trainer": {"epochs": 2, "anything": 1, "validation_split": 0.2}}
    validate(cfg)
    out = resolve(cfg)
    assert out["trainer"] == {"epochs": 2, "anything": 1}
    assert out["data"]["validation_split"] == 0.2


def test_importing_config_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, deepfuse.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_frozen_config_cannot_change_and_pickles():
    import pickle

    from deepfuse.config import freeze, thaw

    cfg = {"data": {"dataset": "mnist"}, "trainer": {"metrics": ["accuracy"], "epochs": 2}}
    frozen = freeze(cfg)
    with pytest.raises(TypeError):
        frozen["trainer"]["epochs"] = 3
    with pytest.raises(AttributeError):
        frozen["trainer"]["metrics"].append("mae")
    assert pickle.loads(pickle.dumps(frozen)) == frozen and thaw(frozen) == cfg
    assert dump_config(frozen) == dump_config(cfg)


def test_an_unknown_encoding_is_refused_before_any_file_is_read():
    with pytest.raises(ConfigError, match=r"data\.encoding.*latin-9x"):
        validate({"data": {"train": "a.csv", "target": "y", "encoding": "latin-9x"}})
    validate({"data": {"train": "a.csv", "target": "y", "encoding": "cp1252"}})
