"""Keras optimizer objects used directly (custom train_step, GAN) and the Keras API of the
optimizers ``compile()`` builds: every step is compared with the torch optimizer it maps onto."""

from __future__ import annotations

import json

import pytest
import torch

from deepfuse import optimizers
from deepfuse._utils.errors import ConfigError, UserError
from deepfuse.training.optim import build_optimizer

STEPS = 5


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [
        torch.nn.Parameter(torch.randn(4, 3, generator=g)),
        torch.nn.Parameter(torch.randn(3, generator=g)),
    ]


def _grads(step: int, params) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    return [torch.randn(p.shape, generator=g) for p in params]


def _run_keras(opt, seed: int = 0) -> list[torch.Tensor]:
    params = _params(seed)
    for step in range(STEPS):
        opt.apply_gradients(zip(_grads(step, params), params))
    return [p.detach() for p in params]


def _run_torch(make, seed: int = 0) -> list[torch.Tensor]:
    params = _params(seed)
    opt = make(params)
    for step in range(STEPS):
        for p, g in zip(params, _grads(step, params)):
            p.grad = g
        opt.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize(
    ("keras", "make"),
    [
        (
            lambda: optimizers.Adam(learning_rate=0.0003, beta_1=0.5, beta_2=0.9, epsilon=1e-7),
            lambda p: torch.optim.Adam(p, lr=0.0003, betas=(0.5, 0.9), eps=1e-7),
        ),
        (
            lambda: optimizers.Adam(learning_rate=0.01, amsgrad=True),
            lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True),
        ),
        (
            # Keras 3's weight decay is decoupled: torch's AdamW update
            lambda: optimizers.Adam(learning_rate=0.01, weight_decay=0.1),
            lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
        ),
        (
            lambda: optimizers.AdamW(learning_rate=0.01, weight_decay=0.05),
            lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05),
        ),
        (
            lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        ),
        (lambda: optimizers.SGD(), lambda p: torch.optim.SGD(p, lr=0.01)),
        (
            lambda: optimizers.RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=1e-6),
            lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, momentum=0.5, eps=1e-6),
        ),
        (
            lambda: optimizers.Adagrad(learning_rate=0.1, initial_accumulator_value=0.1),
            lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1),
        ),
        (
            lambda: optimizers.Nadam(learning_rate=0.01),
            lambda p: torch.optim.NAdam(p, lr=0.01),
        ),
    ],
    ids=[
        "adam",
        "amsgrad",
        "adam_decay",
        "adamw",
        "sgd_nesterov",
        "sgd_default",
        "rmsprop",
        "adagrad",
        "nadam",
    ],
)
def test_apply_gradients_equals_the_torch_step(keras, make):
    got, ref = _run_keras(keras()), _run_torch(make)
    for a, b in zip(got, ref):
        assert torch.allclose(a, b, atol=1e-6)  # fused vs foreach kernels round differently


def test_lazily_bound_once_and_other_variables_are_an_error():
    opt = optimizers.Adam(learning_rate=0.001)
    assert not opt.built and opt.iterations == 0 and opt.state_dict() == {}
    params = _params()
    opt.apply_gradients(zip(_grads(0, params), params))
    assert opt.built and opt.iterations == 1
    torch_opt = opt._torch
    opt.apply_gradients(zip(_grads(1, params[:1]), params[:1]))  # a subset is fine
    assert opt._torch is torch_opt and opt.iterations == 2
    others = _params(1)
    with pytest.raises(
        UserError, match=r"variable.*does not update.*one optimizer per model"
    ) as err:
        opt.apply_gradients(zip(_grads(2, others), others))
    assert "\n" not in str(err.value)


def test_apply_equals_apply_gradients_and_minimize():
    a, b, c = _params(), _params(), _params()
    opt_a, opt_b = optimizers.SGD(learning_rate=0.1), optimizers.SGD(learning_rate=0.1)
    opt_a.apply_gradients(zip(_grads(0, a), a))
    opt_b.apply(_grads(0, b), b)
    opt_b.apply(_grads(1, b))  # Keras 3: the built variables, in order
    opt_a.apply_gradients(zip(_grads(1, a), a))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    opt_c = optimizers.SGD(learning_rate=0.1)
    before = [p.detach().clone() for p in c]
    loss = (c[0].sum() * 2) + c[1].square().sum()
    opt_c.minimize(loss, c)  # the gradient of a sum is an expanded (stride-0) tensor
    assert torch.allclose(c[0], before[0] - 0.1 * 2)
    assert torch.allclose(c[1], before[1] - 0.1 * 2 * before[1])
    fresh = optimizers.SGD()
    with pytest.raises(UserError, match="without variables"):
        fresh.apply(_grads(0, c))


def test_only_the_given_variables_move_and_none_gradients_are_skipped():
    """A GAN step: the compiled optimizer holds every parameter; only the discriminator's move."""
    d, g = _params(0), _params(1)
    opt = build_optimizer({"name": "sgd", "lr": 0.1}, [*d, *g])
    for p in g:
        p.grad = torch.ones_like(p)  # stale gradients from an earlier backward
    g_before = [p.detach().clone() for p in g]
    d_before = [p.detach().clone() for p in d]
    grads = _grads(0, d)
    opt.apply_gradients(zip([grads[0], None], d))
    assert all(torch.equal(p, q) for p, q in zip(g, g_before))
    assert torch.allclose(d[0], d_before[0] - 0.1 * grads[0]) and torch.equal(d[1], d_before[1])
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in g)  # .grad left as it was


def test_compile_built_optimizer_keeps_torch_class_and_checkpoints():
    params = _params()
    opt = build_optimizer({"name": "adam", "learning_rate": 0.01}, params)
    assert isinstance(opt, torch.optim.Adam) and type(opt).__name__ == "Adam"
    opt.apply_gradients(zip(_grads(0, params), params))
    assert opt.iterations == 1
    opt.learning_rate = 0.5
    assert opt.lr == 0.5 and all(g["lr"] == 0.5 for g in opt.param_groups)
    state = opt.state_dict()
    plain = torch.optim.Adam(_params(), lr=0.01)
    plain.load_state_dict(state)  # a checkpoint loads into torch's own class
    assert plain.param_groups[0]["lr"] == 0.5
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()  # the compile path: step() counts too
    assert opt.iterations == 2


def test_learning_rate_iterations_and_config_round_trip():
    opt = optimizers.Adam(learning_rate=0.0003, beta_1=0.5)
    assert opt.learning_rate == opt.lr == 0.0003
    assert optimizers.Adam().learning_rate == 0.001 and optimizers.SGD().learning_rate == 0.01
    opt.learning_rate = 0.002
    cfg = json.loads(json.dumps(opt.get_config()))
    assert cfg == {"name": "adam", "lr": 0.002, "beta_1": 0.5}
    again = optimizers.Adam.from_config(cfg)
    assert again.get_config() == cfg
    built = build_optimizer(cfg, _params())  # what compile(optimizer=opt) builds
    assert built.defaults["lr"] == 0.002 and built.defaults["betas"] == (0.5, 0.999)
    params = _params()
    opt.apply_gradients(zip(_grads(0, params), params))
    opt.lr = 0.1
    assert opt._torch.param_groups[0]["lr"] == 0.1 and opt.learning_rate == 0.1
    assert optimizers.OptimizerSpec is optimizers.Optimizer


def test_keras_clipping_options():
    g = torch.tensor([3.0, 4.0])  # norm 5
    h = torch.tensor([0.0, 12.0])  # norm 12; global norm 13
    cases = {
        "clipnorm": ([g * 2 / 5, h * 2 / 12], {"clipnorm": 2.0}),
        "global_clipnorm": ([g * 2 / 13, h * 2 / 13], {"global_clipnorm": 2.0}),
        "clipvalue": ([g.clamp(-3.5, 3.5), h.clamp(-3.5, 3.5)], {"clipvalue": 3.5}),
    }
    for name, (expected, option) in cases.items():
        params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
        opt = optimizers.SGD(learning_rate=1.0, **option)
        grads = [g.clone(), h.clone()]
        opt.apply_gradients(zip(grads, params))
        for p, e in zip(params, expected):
            assert torch.allclose(p.detach(), -e), name
        assert torch.equal(grads[0], g), "the caller's gradients are not clipped in place"
    torch_ref = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    for p, grad in zip(torch_ref, (g, h)):
        p.grad = grad.clone()
    torch.nn.utils.clip_grad_norm_(torch_ref, 2.0)
    assert torch.allclose(torch_ref[0].grad, g * 2 / 13, atol=1e-5)  # torch agrees on global
    compiled = build_optimizer({"name": "sgd", "lr": 1.0, "clipvalue": 1.0}, torch_ref)
    torch_ref[0].grad = torch.tensor([5.0, -5.0])
    torch_ref[1].grad = None
    before = torch_ref[0].detach().clone()
    compiled.step()  # compile(optimizer=keras.optimizers.SGD(clipvalue=1.0)) clips every step
    assert torch.allclose(torch_ref[0].detach(), before - torch.tensor([1.0, -1.0]))


def test_clear_one_line_errors():
    with pytest.raises(ConfigError) as err:
        optimizers.Adam(beta1=0.9)
    msg = str(err.value)
    assert "'beta1'" in msg and "keras.optimizers.Adam" in msg and "beta_1" in msg
    assert "Did you mean 'beta_1'" in msg and "\n" not in msg
    with pytest.raises(ConfigError, match="rho"):
        optimizers.Adam(rho=0.9)  # an RMSprop argument
    with pytest.raises(ConfigError, match="only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0).build(_params())
    with pytest.raises(ConfigError, match=r"'clipnorm'.*> 0"):
        optimizers.SGD(clipnorm=-1.0).build(_params())
    with pytest.raises(ConfigError, match="schedule"):
        optimizers.Adam(learning_rate=lambda step: 0.1)
    with pytest.raises(ConfigError, match="learning_rate"):
        optimizers.Adam(learning_rate="fast")
    with pytest.raises(UserError, match="shape"):
        optimizers.SGD().apply_gradients([(torch.zeros(5), torch.nn.Parameter(torch.zeros(2)))])
    assert optimizers.Adam(name="my_adam").get_config() == {"name": "adam"}


def test_learning_rate_schedules_are_refused_with_the_alternative():
    with pytest.raises(UserError, match=r"keras.optimizers.schedules.*compile\(schedule=") as err:
        optimizers.schedules.ExponentialDecay(0.01, decay_steps=100, decay_rate=0.9)
    assert isinstance(err.value, AttributeError) and "\n" not in str(err.value)
    assert not hasattr(optimizers, "schedules")
    with pytest.raises(AttributeError, match="no attribute 'Adamm'"):
        optimizers.Adamm  # noqa: B018


def test_compile_with_a_keras_optimizer_object_clips_and_speaks_keras():
    import numpy as np

    import deepfuse as df

    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)
    before = [p.detach().clone() for p in net.parameters()]
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32") * 100
    y = np.zeros((8, 1), dtype="float32")
    model = df.Model(net)
    model.compile(optimizer=optimizers.SGD(learning_rate=1.0, clipvalue=0.01), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # one step, huge gradients
    for p, b in zip(net.parameters(), before):
        assert (p.detach() - b).abs().max() <= 0.01 + 1e-6
        assert (p.detach() - b).abs().max() > 0.009
    assert isinstance(model.optimizer, torch.optim.SGD) and model.optimizer.iterations == 1
    shared = torch.nn.Parameter(torch.zeros(2))
    opt = optimizers.SGD(learning_rate=1.0)
    opt.build([shared, shared])  # a weight listed twice (shared layers) is bound once
    assert len(opt._torch.param_groups[0]["params"]) == 1
