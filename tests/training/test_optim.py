"""Optimizers by name (training/optim.py) and learning-rate schedules (training/schedules.py)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from deepfuse._utils.errors import ConfigError
from deepfuse.training.optim import build_optimizer, param_groups_with_decay, with_keras_api
from deepfuse.training.schedules import Schedule, build_schedule, resolve_mode


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 2))


def _opt(lr: float = 0.1, name: str = "sgd", **kw) -> torch.optim.Optimizer:
    return build_optimizer({"name": name, "lr": lr, **kw}, _net())


# --------------------------------------------------------------------------- optimizers


@pytest.mark.parametrize(
    ("spec", "cls", "lr"),
    [
        ("sgd", torch.optim.SGD, 0.01),
        ("SGD", torch.optim.SGD, 0.01),
        ("Adam", torch.optim.Adam, 1e-3),
        ("adamw", torch.optim.AdamW, 1e-3),
        ("rmsprop", torch.optim.RMSprop, 1e-3),
        ("adagrad", torch.optim.Adagrad, 1e-3),
        ("nadam", torch.optim.NAdam, 1e-3),
    ],
)
def test_names_and_keras_defaults(spec, cls, lr):
    opt = build_optimizer(spec, _net())
    # the torch class with Keras' apply_gradients / learning_rate mixed in (isinstance holds)
    assert type(opt) is with_keras_api(cls) and isinstance(opt, cls)
    assert opt.param_groups[0]["lr"] == lr


def test_keras_option_spellings():
    opt = build_optimizer(
        {"name": "adam", "learning_rate": 0.01, "beta_1": 0.8, "epsilon": 1e-7}, _net()
    )
    assert opt.defaults["lr"] == 0.01
    assert opt.defaults["betas"] == (0.8, 0.999)
    assert opt.defaults["eps"] == 1e-7
    rms = build_optimizer({"name": "rmsprop", "rho": 0.95}, _net())
    assert rms.defaults["alpha"] == 0.95
    assert build_optimizer("rmsprop", _net()).defaults["alpha"] == 0.9  # Keras' rho default
    yaml_betas = build_optimizer({"name": "adam", "betas": [0.5, 0.9]}, _net())
    assert yaml_betas.defaults["betas"] == (0.5, 0.9)


def test_sgd_momentum_nesterov_weight_decay():
    opt = _opt(0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (
        0.05,
        0.9,
        True,
        1e-4,
    )


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_fused_by_default_where_measured_faster(name):
    assert build_optimizer(name, _net()).defaults["fused"] is True
    assert not build_optimizer({"name": name, "fused": False}, _net()).defaults["fused"]
    assert not build_optimizer({"name": name, "foreach": True}, _net()).defaults["fused"]


def test_rmsprop_is_not_fused():
    assert "fused" not in build_optimizer("rmsprop", _net()).defaults


def _train(opt_spec, steps=20):
    net = _net()
    opt = build_optimizer(opt_spec, net)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(16, 4, generator=gen), torch.randn(16, 2, generator=gen)
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_fused_is_bit_stable_and_matches_foreach(name):
    spec = {"name": name, "lr": 0.01} | ({"momentum": 0.9} if name == "sgd" else {})
    a, b = _train(spec), _train(spec)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    ref = _train({**spec, "fused": False, "foreach": True})
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(a, ref))


def test_unknown_option_names_key_allowed_and_suggestion():
    with pytest.raises(ConfigError) as err:
        build_optimizer({"name": "sgd", "momentun": 0.9}, _net())
    msg = str(err.value)
    assert "'momentun'" in msg and "'sgd'" in msg
    assert "Allowed options: lr, momentum" in msg
    assert "Did you mean 'momentum'?" in msg
    assert "\n" not in msg


def test_unknown_name_suggests():
    with pytest.raises(ConfigError, match=r"Unknown optimizer 'adma'.*Did you mean 'adam'\?"):
        build_optimizer("adma", _net())


def test_keras_optimizer_objects_name_registered_optimizers():
    from deepfuse import optimizers
    from deepfuse.training.optim import OPTIMIZERS

    specs = [optimizers.SGD, optimizers.Adam, optimizers.AdamW, optimizers.RMSprop]
    for spec in specs:
        opt = build_optimizer(spec(learning_rate=0.5).get_config(), _net())
        assert (
            type(opt) is with_keras_api(OPTIMIZERS.get(spec.name))
            and opt.param_groups[0]["lr"] == 0.5
        )


def test_a_registered_optimizer_gets_built_by_name_and_listed(monkeypatch):
    from deepfuse._utils.registry import Registry
    from deepfuse.training import optim

    reg: Registry[type[torch.optim.Optimizer]] = Registry("optimizer")
    reg.register("asgd", torch.optim.ASGD, aliases=["averaged_sgd"])
    monkeypatch.setattr(optim, "OPTIMIZERS", reg)  # the shipped table stays as it is
    opt = build_optimizer({"name": "Averaged_SGD", "learning_rate": 0.2}, _net())
    assert type(opt) is with_keras_api(torch.optim.ASGD) and opt.param_groups[0]["lr"] == 0.2
    with pytest.raises(ConfigError, match=r"Allowed values: 'asgd', 'averaged_sgd'"):
        build_optimizer("adam", _net())


def test_bad_value_and_bad_specs():
    with pytest.raises(ConfigError, match="Invalid learning rate"):
        build_optimizer({"name": "adam", "lr": -1.0}, _net())
    with pytest.raises(ConfigError, match="no 'name' key"):
        build_optimizer({"lr": 0.1}, _net())
    with pytest.raises(ConfigError, match="Cannot build an optimizer"):
        build_optimizer(3, _net())
    with pytest.raises(ConfigError, match="no parameters"):
        build_optimizer("adam", [])


def test_instance_and_class_pass_through():
    net = _net()
    opt = torch.optim.Adam(net.parameters(), lr=0.5)
    assert build_optimizer(opt, net) is opt
    built = build_optimizer(torch.optim.Adagrad, net.parameters())
    assert type(built) is with_keras_api(torch.optim.Adagrad)
    from_dict = build_optimizer({"name": torch.optim.SGD, "learning_rate": 0.2}, net)
    assert from_dict.defaults["lr"] == 0.2


def test_param_groups_with_decay():
    net = _net()
    groups = param_groups_with_decay(net, 0.05)
    decay, no_decay = groups
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert {p.ndim for p in decay["params"]} == {2}
    assert len(no_decay["params"]) == 4  # 2 biases + LayerNorm weight and bias
    opt = build_optimizer({"name": "adamw", "lr": 0.01}, groups)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]


# --------------------------------------------------------------------------- schedules


def _lrs(schedule: Schedule, opt, n: int, metrics=None) -> list[float]:
    """lr used by each of n consecutive steps (batches or epochs)."""
    out = []
    for i in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step(None if metrics is None else metrics[i])
    return out


def test_step_matches_torch_steplr():
    opt, ref_opt = _opt(0.1), _opt(0.1)
    s = build_schedule(
        {"name": "step", "step_size": 3, "gamma": 0.5}, opt, steps_per_epoch=7, epochs=10
    )
    ref = torch.optim.lr_scheduler.StepLR(ref_opt, step_size=3, gamma=0.5)
    assert s.interval == "epoch"
    assert _lrs(s, opt, 10) == pytest.approx(_lrs(Schedule(ref_opt, ref), ref_opt, 10))


def test_step_default_step_size_is_a_third_of_the_run():
    opt = _opt(1.0)
    s = build_schedule("step", opt, steps_per_epoch=None, epochs=9)
    assert _lrs(s, opt, 9) == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01])


def test_exponential_formula():
    opt = _opt(0.2)
    s = build_schedule({"name": "exponential", "gamma": 0.9}, opt, steps_per_epoch=5, epochs=6)
    assert s.interval == "epoch"
    assert _lrs(s, opt, 6) == pytest.approx([0.2 * 0.9**e for e in range(6)])


def test_constant():
    opt = _opt(0.3)
    s = build_schedule("constant", opt, steps_per_epoch=None, epochs=3)
    assert _lrs(s, opt, 3) == [0.3, 0.3, 0.3]
    assert build_schedule(None, opt, steps_per_epoch=None, epochs=3).name == "constant"


def _cos(t, total, base, low=0.0):
    return low + (base - low) * (1 + math.cos(math.pi * t / total)) / 2


def test_cosine_per_step_formula_and_clamped_after_the_end():
    opt = _opt(0.1)
    s = build_schedule({"name": "cosine", "min_lr": 0.001}, opt, steps_per_epoch=5, epochs=4)
    assert s.interval == "step"
    got = _lrs(s, opt, 25)  # 5 more steps than the run: must stay at min_lr, not rise again
    want = [_cos(t, 20, 0.1, 0.001) for t in range(20)] + [0.001] * 5
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_cosine_per_epoch():
    opt = _opt(0.1)
    s = build_schedule({"name": "cosine", "interval": "epoch"}, opt, steps_per_epoch=None, epochs=4)
    assert s.interval == "epoch"
    assert _lrs(s, opt, 4) == pytest.approx([_cos(t, 4, 0.1) for t in range(4)], abs=1e-12)


def test_cosine_with_warmup_epochs():
    opt = _opt(0.1)
    s = build_schedule({"name": "cosine", "warmup_epochs": 1}, opt, steps_per_epoch=4, epochs=3)
    assert s.interval == "step"
    got = _lrs(s, opt, 12)
    want = [0.1 * (k + 1) / 4 for k in range(4)] + [_cos(t, 8, 0.1) for t in range(8)]
    assert got == pytest.approx(want, abs=1e-12)


def test_warmup_then_constant_and_then_step():
    opt = _opt(0.1)
    s = build_schedule({"name": "warmup", "warmup_steps": 4}, opt, steps_per_epoch=10, epochs=1)
    assert _lrs(s, opt, 6) == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    opt = _opt(0.1)
    spec = {"name": "step", "step_size": 1, "gamma": 0.5, "warmup_steps": 2}
    s = build_schedule(spec, opt, steps_per_epoch=3, epochs=3)
    # 2 warmup batches, then the step schedule: its epochs are 3 batches long after the warmup
    want = [0.05, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    assert _lrs(s, opt, 9) == pytest.approx(want)
    then = {"name": "warmup", "warmup_steps": 2, "then": {"name": "exponential", "gamma": 0.5}}
    opt = _opt(0.1)
    s = build_schedule(then, opt, steps_per_epoch=2, epochs=3)
    assert _lrs(s, opt, 6) == pytest.approx([0.05, 0.1, 0.1, 0.1, 0.05, 0.05])


def test_one_cycle_matches_torch():
    opt, ref_opt = _opt(0.1, "adam"), _opt(0.1, "adam")
    spec = {"name": "one_cycle", "max_lr": 0.5, "pct_start": 0.25}
    s = build_schedule(spec, opt, steps_per_epoch=5, epochs=4)
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=0.5, total_steps=20, pct_start=0.25)
    assert s.interval == "step"
    betas, ref_betas = [], []
    for _ in range(20):
        betas.append(opt.param_groups[0]["betas"][0])
        ref_betas.append(ref_opt.param_groups[0]["betas"][0])
        assert opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"])
        opt.step(), ref_opt.step()
        s.step(), ref.step()
    assert betas == pytest.approx(ref_betas)  # momentum cycles too
    s.step()  # one more than the run (a longer last epoch) must not raise


def test_one_cycle_defaults_to_optimizer_lr_and_plain_sgd():
    opt = _opt(0.2)  # no momentum: cycle_momentum must switch itself off
    s = build_schedule("one_cycle", opt, steps_per_epoch=10, epochs=1)
    lrs = _lrs(s, opt, 10)
    assert max(lrs) == pytest.approx(0.2) and lrs[0] == pytest.approx(0.2 / 25)


def test_reduce_on_plateau_matches_torch_and_reads_logs():
    opt, ref_opt = _opt(1.0), _opt(1.0)
    spec = {"name": "reduce_on_plateau", "patience": 1, "factor": 0.5, "min_delta": 0.01}
    s = build_schedule(spec, opt, steps_per_epoch=None, epochs=8)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(
        ref_opt, patience=1, factor=0.5, threshold=0.01, threshold_mode="abs"
    )
    losses = [1.0, 0.9, 0.895, 0.9, 0.5, 0.6, 0.7, 0.8]
    got = _lrs(s, opt, 8, [{"val_loss": v, "loss": 0.0} for v in losses])
    assert got == _lrs(Schedule(ref_opt, ref, monitor="val_loss"), ref_opt, 8, losses)
    assert got == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    typo = build_schedule(
        {"name": "plateau", "monitor": "val_los"}, _opt(), steps_per_epoch=1, epochs=1
    )
    with pytest.raises(ConfigError, match=r"'val_los'.*Did you mean 'val_loss'\?"):
        typo.step({"val_loss": 1.0})


def test_mode_auto():
    assert resolve_mode("val_accuracy") == "max"
    assert resolve_mode("val_auc") == "max"
    assert resolve_mode("val_loss") == "min"
    assert resolve_mode("mae") == "min"
    with pytest.raises(ConfigError, match="Unknown mode"):
        resolve_mode("loss", "lowest")
    opt = _opt(1.0)
    s = build_schedule(
        {"name": "reduce_on_plateau", "monitor": "val_accuracy", "patience": 0},
        opt,
        steps_per_epoch=None,
        epochs=3,
    )
    assert _lrs(s, opt, 3, [{"val_accuracy": a} for a in (0.5, 0.6, 0.55)]) == [1.0, 1.0, 1.0]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("cosin", r"Unknown schedule 'cosin'.*Did you mean 'cosine'\?"),
        ({"name": "step", "step_sise": 2}, r"Unknown option 'step_sise'.*Did you mean 'step_size'"),
        ({"name": "cosine", "warmup_epoch": 1}, r"Did you mean 'warmup_epochs'\?"),
        ({"gamma": 0.5}, "Cannot build a learning-rate schedule"),
        ({"name": "warmup"}, "needs warmup_steps or warmup_epochs"),
        ({"name": "plateau", "warmup_steps": 3}, "Warmup cannot wrap 'reduce_on_plateau'"),
        ({"name": "cosine", "warmup_steps": 1, "warmup_epochs": 1}, "not both"),
        ({"name": "one_cycle", "pct_start": 2.0}, "Invalid options for schedule 'one_cycle'"),
    ],
)
def test_schedule_config_errors(spec, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_schedule(spec, _opt(), steps_per_epoch=10, epochs=3)


@pytest.mark.parametrize(
    ("name", "built"),
    [
        ("onecycle", "one_cycle"),
        ("One-Cycle", "one_cycle"),
        ("plateau", "reduce_on_plateau"),
        ("Cosine_Decay", "cosine"),
        ("EXPONENTIAL", "exponential"),
    ],
)
def test_schedule_names_ignore_case_and_aliases_reach_the_same_builder(name, built):
    from deepfuse.training.schedules import SCHEDULES

    assert SCHEDULES.get(name) is SCHEDULES.get(built)
    assert build_schedule(name, _opt(), steps_per_epoch=10, epochs=3).name == built


def test_per_step_schedule_needs_steps_per_epoch():
    with pytest.raises(ConfigError, match="needs the number of steps per epoch"):
        build_schedule("one_cycle", _opt(), steps_per_epoch=None, epochs=3)


def test_torch_scheduler_objects_are_wrapped():
    opt = _opt(1.0)
    s = build_schedule(
        torch.optim.lr_scheduler.StepLR(opt, 1, 0.5), opt, steps_per_epoch=1, epochs=1
    )
    assert s.interval == "epoch" and _lrs(s, opt, 2) == [1.0, 0.5] and s.lr == 0.25
    plateau = build_schedule(
        torch.optim.lr_scheduler.ReduceLROnPlateau(opt), opt, steps_per_epoch=1, epochs=1
    )
    assert plateau.monitor == "val_loss"
    assert build_schedule(s, opt, steps_per_epoch=1, epochs=1) is s


SPECS = [
    {"name": "step", "step_size": 2, "gamma": 0.5},
    {"name": "exponential", "gamma": 0.8},
    {"name": "cosine", "min_lr": 0.01},
    {"name": "cosine", "warmup_steps": 5},
    {"name": "one_cycle", "max_lr": 0.5},
    {"name": "reduce_on_plateau", "patience": 0},
    {"name": "warmup", "warmup_epochs": 1, "then": {"name": "step", "step_size": 1}},
    "constant",
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s if isinstance(s, str) else s["name"])
def test_state_dict_round_trip_through_json(spec):
    def make():
        opt = _opt(0.1, "adam")
        return opt, build_schedule(spec, opt, steps_per_epoch=4, epochs=5)

    metrics = [{"val_loss": v} for v in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)]
    opt, s = make()
    _lrs(s, opt, 7, metrics)
    state = json.loads(json.dumps(s.state_dict()))
    opt2, s2 = make()
    s2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
    assert _lrs(s2, opt2, 8, metrics[7:] * 4) == pytest.approx(_lrs(s, opt, 8, metrics[7:] * 4))
