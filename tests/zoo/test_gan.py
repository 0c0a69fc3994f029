"""Zoo GANs (``dcgan``, ``wgan_gp``): shapes, the gradient penalty against independent
computations, the n-critic cycle, labels, freezing, saving and the Generator protocol."""

from __future__ import annotations

import pytest
import torch

from deepfuse._utils.errors import ConfigError, UserError
from deepfuse.models.generative import Generator
from deepfuse.models.serialization import load_model, save_model
from deepfuse.models.zoo import get
from deepfuse.models.zoo.gan import _frozen
from deepfuse.models.zoo.gan_nets import CriticNet
from deepfuse.models.zoo.gan_penalty import gradient_norms, gradient_penalty

SMALL = {"latent_dim": 8, "g_widths": [8, 4, 4], "d_widths": [4, 8], "kernel_size": 3}


def _batch(n=8, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.rand(n, 1, 28, 28, generator=g), "y": torch.arange(n) % classes}


def _ready(name, **kwargs):
    torch.manual_seed(0)
    gan = get(name, **{**SMALL, **kwargs})
    gan.compile()
    gan.setup(_batch())
    return gan


def _copy(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def _weights(module):  # parameters only: BatchNorm's moving statistics follow every forward
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def _count(module):  # Keras' count: parameters and float buffers (BatchNorm's moving stats)
    return sum(
        t.numel() for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()
    )


# ---------------------------------------------------------------------------- architecture
def test_dcgan_with_the_tutorial_widths_has_the_tutorial_parameter_counts():
    gan = get("dcgan", g_widths=[256, 128, 64], d_widths=[64, 128], kernel_size=5)
    assert _count(gan.generator) == 2_330_944  # TensorFlow's DCGAN tutorial, summary()
    assert _count(gan.discriminator) == 212_865
    kinds = [type(m).__name__ for m in gan.generator.body][:5]
    assert kinds == ["Dense", "BatchNorm", "LeakyReLU", "Reshape", "Conv2DTranspose"]
    assert "BatchNorm" not in {type(m).__name__ for m in get("wgan_gp").discriminator.modules()}


@pytest.mark.parametrize(("shape", "ups"), [((1, 28, 28), 2), ((3, 32, 32), 3)])
def test_generators_reach_the_image_size_and_range(shape, ups):
    for name in ("dcgan", "wgan_gp"):
        gan = get(name, input_shape=list(shape), latent_dim=4, kernel_size=3)
        images = gan.generate(*gan.noise(5, seed=3))
        assert tuple(images.shape) == (5, *shape)
        assert float(images.min()) >= 0 and float(images.max()) <= 1
        strided = [m for m in gan.generator.body if type(m).__name__ == "Conv2DTranspose"]
        assert len(strided) == ups + 1  # one stride-1 block, then ups stride-2 blocks


def test_builders_check_their_arguments():
    with pytest.raises(ConfigError, match="at least 2 classes"):
        get("dcgan", conditional=True, num_classes=1)
    with pytest.raises(ConfigError, match="image shape"):
        get("wgan_gp", input_shape=[784])
    with pytest.raises(ConfigError, match="takes 3 widths"):
        get("dcgan", g_widths=[8, 8])
    with pytest.raises(ConfigError, match="'betas'"):
        get("dcgan", betas=[0.5])


def test_compile_refuses_what_the_gan_does_not_use():
    gan = get("dcgan", **SMALL)
    with pytest.raises(UserError, match="takes no loss, optimizer"):
        gan.compile(optimizer="sgd", loss="mse")


# ---------------------------------------------------------------------------- gradient penalty
def test_penalty_of_a_linear_critic_uses_the_norm_over_all_non_batch_dimensions():
    w = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    critic = lambda x: (x * w).sum(dim=(1, 2, 3))  # noqa: E731  grad = w at every point
    real, fake = torch.randn(6, 2, 3, 3), torch.randn(6, 2, 3, 3)
    got = gradient_penalty(critic, real, fake, 10.0)
    want = 10.0 * (torch.linalg.vector_norm(w) - 1) ** 2  # Frobenius norm of the whole image
    assert torch.allclose(got, want, rtol=1e-5)


def test_penalty_mixes_one_uniform_weight_per_sample_and_matches_per_sample_autograd():
    torch.manual_seed(0)
    critic = CriticNet((1, 8, 8), [4, 8], 3, layer_norm=True)
    real, fake = torch.randn(5, 1, 8, 8), torch.randn(5, 1, 8, 8)
    got = gradient_penalty(critic, real, fake, 2.0, generator=torch.Generator().manual_seed(7))
    # Independent: the same mixing weights, then each sample's gradient on its own.
    a = torch.rand(5, 1, 1, 1, generator=torch.Generator().manual_seed(7))
    mixed = a * real + (1 - a) * fake
    norms = []
    for i in range(5):
        xi = mixed[i : i + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(critic(xi).sum(), xi)
        norms.append(g.flatten().norm())
    want = 2.0 * ((torch.stack(norms) - 1) ** 2).mean()
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-7)
    func = torch.func.vmap(torch.func.grad(lambda x: critic(x[None]).sum()))(mixed)
    assert torch.allclose(gradient_norms(critic, mixed), func.flatten(1).norm(dim=1), rtol=1e-5)


def test_penalty_trains_the_critic_only_and_stays_finite_at_a_zero_gradient():
    torch.manual_seed(0)
    critic = CriticNet((1, 8, 8), [4], 3)
    fake = torch.randn(3, 1, 8, 8, requires_grad=True)
    gradient_penalty(critic, torch.randn(3, 1, 8, 8), fake).backward()
    assert fake.grad is None  # fake is detached
    assert critic.features[0].weight.grad is not None and critic.head.weight.grad is not None
    # a critic whose input gradient is 0: torch.norm's backward would give NaN there
    w = torch.zeros(4, requires_grad=True)
    gradient_penalty(lambda x: x @ w, torch.randn(3, 4), torch.randn(3, 4)).backward()
    assert torch.isfinite(w.grad).all()
    bare = torch.zeros(4, requires_grad=True)  # the same without the epsilon: NaN
    torch.sqrt(bare.pow(2).sum()).sub(1).pow(2).backward()
    assert torch.isnan(bare.grad).all()


# ---------------------------------------------------------------------------- training steps
def test_wgan_steps_the_generator_every_n_critic_batches():
    gan = _ready("wgan_gp", n_critic=3)
    changed_g, changed_d = [], []
    for _ in range(7):
        g, d = _weights(gan.generator), _copy(gan.discriminator)
        logs = gan.train_step(_batch())
        changed_g.append(not _same(g, _weights(gan.generator)))
        changed_d.append(not _same(d, _copy(gan.discriminator)))
    assert changed_g == [False, False, True, False, False, True, False]
    assert all(changed_d)
    assert int(gan.critic_steps) == 7 and set(logs) == {"d_loss", "g_loss", "gp", "wasserstein"}
    assert "critic_steps" in gan.state_dict()  # checkpointed with the weights


def test_wgan_cycle_continues_after_loading_its_state():
    gan = _ready("wgan_gp", n_critic=3)
    for _ in range(2):
        gan.train_step(_batch())
    other = _ready("wgan_gp", n_critic=3)
    other.load_state_dict(gan.state_dict())
    g = _weights(other.generator)
    other.train_step(_batch())  # the third critic step of the cycle: the generator moves
    assert not _same(g, _weights(other.generator))


def test_each_step_moves_only_its_own_network():
    for name in ("dcgan", "wgan_gp"):
        frozen_d = _ready(name, d_lr=1e-30, n_critic=1) if name == "wgan_gp" else None
        gan = frozen_d or _ready(name, d_lr=1e-30)
        gan.d_optimizer.param_groups[0]["lr"] = 0.0  # the critic may not move at all now
        d = _copy(gan.discriminator)
        gan.train_step(_batch())
        assert _same(d, _copy(gan.discriminator)), name  # the generator step left D alone
        gan.g_optimizer.param_groups[0]["lr"] = 0.0
        gan.d_optimizer.param_groups[0]["lr"] = 1e-3
        g = {k: v for k, v in _copy(gan.generator).items() if "running" not in k}
        gan.train_step(_batch())
        now = _copy(gan.generator)
        assert all(torch.equal(now[k], v) for k, v in g.items()), name  # D's step left G alone


def test_frozen_layers_stay_frozen_through_the_steps():
    gan = _ready("dcgan")
    dense = gan.generator.body[0]
    dense.requires_grad_(False)  # a user froze the first layer (trainable = False)
    before = dense.weight.clone()
    for _ in range(2):
        gan.train_step(_batch())
    assert torch.equal(dense.weight, before) and not dense.weight.requires_grad
    with _frozen(gan.generator):
        assert not any(p.requires_grad for p in gan.generator.parameters())
    assert next(p.requires_grad for p in gan.generator.parameters()) is False
    assert all(p.requires_grad for p in gan.generator.body[4].parameters())


def test_training_draws_only_from_the_global_stream_and_is_reproducible():
    a, b = _ready("dcgan"), _ready("dcgan")
    torch.manual_seed(5)
    a.train_step(_batch())
    torch.manual_seed(5)
    b.train_step(_batch())
    assert _same(_copy(a), _copy(b))


# ---------------------------------------------------------------------------- labels
def test_conditional_models_use_the_batch_labels_and_cycle_them_in_noise():
    gan = _ready("dcgan", conditional=True, num_classes=3)
    z, labels = gan.noise(7, seed=0)
    assert labels.tolist() == [0, 1, 2, 0, 1, 2, 0] and gan.num_classes == 3
    zero, one = gan.generate(z[:1], torch.tensor([0])), gan.generate(z[:1], torch.tensor([1]))
    assert not torch.equal(zero, one)
    x = _batch()["x"]
    assert not torch.equal(gan(x, torch.zeros(8)), gan(x, torch.ones(8)))  # projection head
    embed = gan.discriminator.project.weight.clone()
    gan.train_step(_batch())
    assert not torch.equal(embed, gan.discriminator.project.weight)
    with pytest.raises(UserError, match="needs class labels"):
        gan.train_step({"x": x})
    plain = _ready("dcgan", num_classes=3)
    assert plain.num_classes == 0 and plain.noise(2)[1] is None


# ---------------------------------------------------------------------------- protocol, saving
def test_noise_is_local_and_generate_is_deterministic():
    gan = _ready("wgan_gp", conditional=True, num_classes=3)
    state = torch.get_rng_state()
    z1, _ = gan.noise(4, seed=9)
    images = gan.generate(*gan.noise(4, seed=9))
    assert torch.equal(torch.get_rng_state(), state)  # the run's random stream untouched
    assert torch.equal(z1, gan.noise(4, seed=9)[0]) and not torch.equal(z1, gan.noise(4)[0])
    assert torch.equal(images, gan.generate(*gan.noise(4, seed=9)))
    assert isinstance(gan, Generator) and gan.generator.training  # mode restored


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_saved_gan_rebuilds_and_generates_the_same_images(tmp_path, name):
    gan = _ready(name, conditional=True, num_classes=3)
    gan.train_step(_batch())  # moving statistics and weights away from their start
    save_model(gan, tmp_path)
    back = load_model(tmp_path)
    assert type(back) is type(gan)
    noise = gan.noise(6, seed=2)
    assert torch.equal(back.generate(*noise), gan.generate(*noise))
    assert back.architecture["kwargs"]["conditional"] is True
