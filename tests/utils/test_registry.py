"""The one Registry type: its contract, and that every converted name table is one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deepfuse._utils.errors import ConfigError
from deepfuse._utils.registry import Registry


def test_register_get_names_contains_iter():
    reg: Registry[int] = Registry("number")
    assert reg.register("one", 1, aliases=("un", "eins")) == 1
    reg.register("two", 2)
    assert reg.get("one") == reg.get("un") == reg.get("eins") == 1
    assert reg["two"] == 2
    assert reg.names() == ["eins", "one", "two", "un"]
    assert list(reg) == reg.names() and len(reg) == 4
    assert "two" in reg and "three" not in reg and 3 not in reg
    assert reg.items() == [("eins", 1), ("one", 1), ("two", 2), ("un", 1)]


def test_decorator_returns_the_object_unchanged():
    reg: Registry[type] = Registry("widget")

    @reg.register("knob", aliases=["dial"])
    class Knob:
        pass

    assert Knob.__name__ == "Knob" and reg.get("dial") is Knob


def test_keys_are_case_insensitive_by_default_and_exact_when_asked():
    loose: Registry[str] = Registry("colour")
    loose.register("Red", "r")
    assert loose.get(" RED ") == "r" and "red" in loose
    assert loose.names() == ["Red"]  # listed as registered
    exact: Registry[str] = Registry("colour", normalize=None)
    exact.register("Red", "r")
    assert "red" not in exact
    with pytest.raises(ConfigError):
        exact.get("red")


def test_custom_normalize_and_exact_name_wins():
    reg: Registry[str] = Registry("layer", normalize=lambda n: n.replace("_", "").lower())
    reg.register("MaxPool2D", "a")
    reg.register("maxpool2d", "b")  # same key, another entry: the exact name still reaches it
    assert reg.get("max_pool2d") == "a" and reg.get("maxpool2d") == "b"


def test_re_registering_replaces():
    reg: Registry[int] = Registry("number")
    reg.register("x", 1)
    reg.register("x", 2)
    assert reg.get("x") == 2 and len(reg) == 1


def test_unknown_name_is_a_config_error_with_did_you_mean():
    reg: Registry[int] = Registry("optimizer")
    reg.register("adam", 1)
    reg.register("sgd", 2)
    with pytest.raises(ConfigError) as err:
        reg.get("adma")
    assert str(err.value) == (
        "Unknown optimizer 'adma'. Allowed values: 'adam', 'sgd'. Did you mean 'adam'?"
    )
    with pytest.raises(ConfigError, match="Unknown optimizer 3"):
        reg.get(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "  ", None, 3])
def test_a_name_must_be_a_non_empty_string(bad):
    with pytest.raises(ConfigError, match="non-empty string"):
        Registry("thing").register(bad, 1)


def test_importing_the_registry_does_not_import_torch():
    code = "import sys, deepfuse._utils.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_canonical_is_the_registered_spelling():
    reg: Registry[int] = Registry("number")
    reg.register("One", 1, aliases=["un"])
    assert reg.canonical(" one ") == "One" and reg.canonical("UN") == "un"
    with pytest.raises(ConfigError, match=r"Unknown number 'two'. Allowed values: 'One', 'un'"):
        reg.canonical("two")


def _registries() -> dict[str, tuple[Registry, list[str]]]:
    """Every converted name table, with the public ``names()`` that lists it."""
    from deepfuse import distributed, layers, losses, metrics
    from deepfuse.layers import initializers
    from deepfuse.layers.base import LAYER_CLASSES
    from deepfuse.models import zoo
    from deepfuse.training import callbacks, optim, schedules

    return {
        "layer": (LAYER_CLASSES, layers.names()),
        "initializer": (initializers.INITIALIZERS, initializers.names()),
        "loss": (losses.LOSSES, losses.names()),
        "metric": (metrics.METRICS, metrics.names()),
        "optimizer": (optim.OPTIMIZERS, optim.OPTIMIZERS.names()),
        "schedule": (schedules.SCHEDULES, schedules.SCHEDULES.names()),
        "callback": (callbacks.CALLBACKS, callbacks.CALLBACKS.names()),
        "zoo model": (zoo.MODELS, zoo.names()),
        "strategy": (distributed.STRATEGIES, distributed.names()),
    }


@pytest.mark.parametrize("kind", list(_registries()))
def test_every_name_table_is_a_registry(kind):
    registry, public_names = _registries()[kind]
    assert isinstance(registry, Registry) and registry.kind == kind
    assert public_names == registry.names() and len(public_names) > 1
    name = registry.names()[0]
    assert registry.get(name) is registry[name]
    with pytest.raises(ConfigError, match=rf"Unknown {kind} 'zz_nope'\. Allowed values: '"):
        registry.get("zz_nope")


def test_config_signatures_read_every_registry():
    from deepfuse.models.from_config import config_signatures

    sig = config_signatures()
    regs = _registries()
    for key, kind in [
        ("layers", "layer"),
        ("losses", "loss"),
        ("metrics", "metric"),
        ("optimizers", "optimizer"),
        ("schedules", "schedule"),
        ("callbacks", "callback"),
        ("models", "zoo model"),
    ]:
        assert sorted(sig[key]) == regs[kind][0].names(), key
    # aliases are listed (the config accepts them) and the zoo hands over its real builders
    assert {"onecycle", "plateau", "checkpoint", "acc"} <= {
        *sig["schedules"],
        *sig["callbacks"],
        *sig["metrics"],
    }
    assert all(sig["models"][n] is regs["zoo model"][0].get(n) for n in sig["models"])


def test_converted_registries_are_registries():
    from deepfuse import layers, losses
    from deepfuse.layers.base import LAYER_CLASSES

    assert isinstance(LAYER_CLASSES, Registry) and isinstance(losses.LOSSES, Registry)
    assert layers.names() == LAYER_CLASSES.names()
    assert losses.names() == losses.LOSSES.names()
    # the public lookups go through them: same error template, same case rules as before
    assert type(layers.get("max_pool2d", pool_size=2)).__name__ == "MaxPool2D"
    assert type(losses.get("MSE")).__name__ == "MeanSquaredError"
    with pytest.raises(ConfigError, match=r"Unknown loss 'mean_squared_eror'.*Did you mean"):
        losses.get("mean_squared_eror")
    with pytest.raises(ConfigError, match=r"Unknown layer 'Dens'.*Did you mean 'Dense'"):
        layers.get("Dens")


def test_no_utils_module_imports_torch():
    code = (
        "import pkgutil, importlib, sys, deepfuse._utils as u\n"
        "for m in pkgutil.iter_modules(u.__path__):\n"
        "    importlib.import_module('deepfuse._utils.' + m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:1])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_lookups_go_through_the_registries():
    import torch

    from deepfuse import distributed, metrics
    from deepfuse.layers import initializers
    from deepfuse.models import zoo
    from deepfuse.training import callbacks, optim, schedules

    net = torch.nn.Linear(2, 1)
    # names ignore case (zoo model names are exact: they are recorded as zoo_name)
    assert type(metrics.get(" ACC ")).__name__ == "Accuracy"
    assert type(optim.build_optimizer("AdamW", net)).__name__ == "AdamW"
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    assert (
        schedules.build_schedule("One-Cycle", sgd, steps_per_epoch=2, epochs=1).interval == "step"
    )
    assert type(callbacks.get("TerminateOnNaN")).__name__ == "TerminateOnNaN"
    assert type(distributed.get_strategy("Single")).__name__ == "SingleProcess"
    inits = initializers.INITIALIZERS  # Keras class names too
    assert inits.get("HeNormal") is inits.get("he_normal") is inits.get("kaiming_normal")
    assert initializers.apply("Ones", torch.zeros(2)).tolist() == [1.0, 1.0]
    with pytest.raises(
        ConfigError, match=r"Unknown zoo model 'MLP'\. Allowed values: 'autoencoder', 'bag', 'cnn'"
    ):
        zoo.get("MLP")
    # one error template: the value, every allowed name, a did-you-mean
    for lookup, pattern in [
        (
            lambda: metrics.get("acuracy"),
            r"Unknown metric 'acuracy'\. Allowed values: .*'accuracy'",
        ),
        (lambda: optim.build_optimizer("adma", net), r"Unknown optimizer 'adma'\. Allowed.*'sgd'"),
        (lambda: callbacks.get("histogram"), r"Unknown callback 'histogram'\..*'histogram_log'\?"),
        (lambda: distributed.get_strategy("rya"), r"'trainer.strategy'.*'single'\. Did you mean"),
    ]:
        with pytest.raises(ConfigError, match=pattern):
            lookup()
