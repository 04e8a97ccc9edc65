"""BiWGAN-GP modules and losses against closed forms and end-to-end autograd."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from fedanomaly.config import resolve_topology
from fedanomaly.config.schema import ModelConfig
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.detection.detector import model_scores
from fedanomaly.detection.scoring import ScoreScale, window_terms
from fedanomaly.models.biwgan import (
    VARIANTS,
    Critic,
    Encoder,
    Generator,
    critic_loss,
    eg_feedback,
    gradient_penalty,
)
from fedanomaly.models.sides import CriticSide, GanShape, GeneratorSide
from fedanomaly.seeding import stable_hash, standalone_seed
from fedanomaly.tiers.monitor import CoLocatedMonitors, Monitor
from fedanomaly.tiers.slice_manager import LocalMonitors, SliceManager

B, T, D, L = 6, 8, 5, 3
T_DEFAULT = ModelConfig().window_length


def linear_critic(weight: torch.Tensor, bias: float = 0.3) -> Critic:
    """A critic whose value is ``w . [flatten(x); code] + b`` (two identity layers in between)."""
    critic = Critic(L, D, T, (T * D + L, T * D + L))
    with torch.no_grad():
        size = T * D + L
        for layer in (critic.layers[0], critic.layers[2]):
            layer.weight.copy_(torch.eye(size))
            layer.bias.zero_()
        critic.layers[1].negative_slope = 1.0
        critic.layers[3].negative_slope = 1.0
        critic.layers[4].weight.copy_(weight.unsqueeze(0))
        critic.layers[4].bias.fill_(bias)
    return critic


def batch(seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.rand(B, T, D, generator=generator),
        torch.randn(B, L, generator=generator),
        torch.rand(B, T, D, generator=generator),
        torch.randn(B, L, generator=generator),
    )


def test_shapes():
    torch.manual_seed(0)
    g, e, d = Generator(L, D, T, (7, 9)), Encoder(L, D, (7, 9)), Critic(L, D, T, (11, 4))
    x = torch.rand(B, T, D)
    assert g(torch.randn(B, L)).shape == (B, T, D)
    assert e(x).shape == (B, L)
    assert d(x, e(x)).shape == (B,)


def test_no_random_stream_replays_the_draws_that_set_the_weights():
    """A critic seeded s and a pooled generator side whose noise is seeded s too (centralized
    mode names both "controller"): the interpolation weights, the noise and the initial weights
    each come from a stream of their own."""
    shape = GanShape(D, T, L, VARIANTS["biwgan-gp"])
    config = ModelConfig(hidden={"generator": (4, 4), "encoder": (4, 4), "discriminator": (8, 4)})
    critic = CriticSide(shape, config, 11)
    side = GeneratorSide(shape, config, 3, noise_seed=11)
    epsilon = critic.draw_epsilon(64).flatten()
    noise = torch.randn(64, L, generator=side.noise)
    uniforms = torch.rand(64, generator=torch.Generator().manual_seed(11))
    normals = torch.randn(64, L, generator=torch.Generator().manual_seed(11))
    # with one seed for all, epsilon was the first layer's initial weights, rescaled
    weights = critic.critic.layers[0].weight.detach().flatten()[:64]
    for draws, replay in ((epsilon, uniforms), (noise, normals)):
        assert not torch.allclose(draws, replay)
    assert abs(np.corrcoef(epsilon.numpy(), weights.numpy())[0, 1]) < 0.5
    assert abs(np.corrcoef(epsilon.numpy(), noise[:, 0].numpy())[0, 1]) < 0.5


def test_a_standalone_monitors_generator_and_critic_start_from_draws_of_their_own():
    shape = GanShape(D, T, L, VARIANTS["biwgan-gp"])
    config = ModelConfig(hidden={"generator": (8, 8), "encoder": (8, 8), "discriminator": (8, 4)})
    own = 5 + stable_hash("vm-1-1")  # the monitor's seed: its critic's weights
    critic = CriticSide(shape, config, own).critic.layers[0].weight.detach().flatten()
    generator = GeneratorSide(shape, config, standalone_seed(5, "vm-1-1")).generator
    first = next(generator.parameters()).detach().flatten()
    count = min(len(critic), len(first))
    # both layers are uniform draws: the same draws would correlate fully once rescaled
    assert abs(np.corrcoef(critic[:count].numpy(), first[:count].numpy())[0, 1]) < 0.5


def test_gradient_penalty_uses_one_epsilon_per_sample_for_window_and_latent():
    """Against an independent computation on a nonlinear critic with the same epsilon draws."""
    torch.manual_seed(7)
    critic = Critic(L, D, T, (11, 4))
    x, f, x_bar, z = batch(1)
    epsilon = torch.rand(B, generator=torch.Generator().manual_seed(9))
    penalty = gradient_penalty(critic, x, f, x_bar, z, epsilon.unsqueeze(1))
    norms = []
    for m in range(B):
        x_hat = (epsilon[m] * x[m] + (1 - epsilon[m]) * x_bar[m]).unsqueeze(0).requires_grad_(True)
        z_hat = (epsilon[m] * f[m] + (1 - epsilon[m]) * z[m]).unsqueeze(0).requires_grad_(True)
        grad_x, grad_z = torch.autograd.grad(critic(x_hat, z_hat).sum(), (x_hat, z_hat))
        norms.append(torch.sqrt(grad_x.pow(2).sum() + grad_z.pow(2).sum()))
    expected = torch.stack([(n - 1) ** 2 for n in norms]).mean()
    assert torch.isclose(penalty, expected, rtol=1e-5)


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    weight = torch.randn(T * D + L, generator=torch.Generator().manual_seed(1))
    penalty = gradient_penalty(linear_critic(weight), *batch())
    assert torch.isclose(penalty, (weight.norm() - 1) ** 2, rtol=1e-5)


def test_critic_loss_of_a_linear_critic_is_closed_form():
    weight = torch.randn(T * D + L, generator=torch.Generator().manual_seed(2))
    x, f, x_bar, z = batch()
    real = torch.cat([x.flatten(1), f], 1) @ weight
    fake = torch.cat([x_bar.flatten(1), z], 1) @ weight
    expected = -(real.mean() - fake.mean()) + 10.0 * (weight.norm() - 1) ** 2
    loss = critic_loss(linear_critic(weight), x, f, x_bar, z, 10.0)
    assert torch.isclose(loss, expected, rtol=1e-5)


def test_feedback_of_a_linear_critic_is_its_weights_over_the_batch():
    weight = torch.randn(T * D + L, generator=torch.Generator().manual_seed(3))
    x, f, x_bar, z = batch()
    _, grad_f, grad_x_bar = eg_feedback(linear_critic(weight), x, f, x_bar, z)
    torch.testing.assert_close(grad_f, weight[T * D :].expand(B, L) / B)
    torch.testing.assert_close(grad_x_bar, -weight[: T * D].reshape(T, D).expand(B, T, D) / B)


def test_feedback_through_e_and_g_equals_end_to_end_gradients():
    """Eq. 22-25: back-propagating the monitor's feedback gives dL_EG/dtheta of G and E."""
    torch.manual_seed(4)
    g, e, d = Generator(L, D, T, (7, 9)), Encoder(L, D, (7, 9)), Critic(L, D, T, (11, 4))
    x, z = torch.rand(B, T, D), torch.randn(B, L)

    f, x_bar = e(x), g(z)
    _, grad_f, grad_x_bar = eg_feedback(d, x, f, x_bar, z)
    torch.autograd.backward([x_bar, f], [grad_x_bar, grad_f])
    split = [p.grad.clone() for p in (*g.parameters(), *e.parameters())]

    for p in (*g.parameters(), *e.parameters()):
        p.grad = None
    (d(x, e(x)).mean() - d(g(z), z).mean()).backward()
    whole = [p.grad for p in (*g.parameters(), *e.parameters())]
    for a, b in zip(split, whole, strict=True):
        torch.testing.assert_close(a, b)


def test_generator_side_update_applies_the_averaged_feedback():
    """Without the reconstruction term, update() leaves in G and E the gradient of L_EG averaged
    over monitors, as back-propagating end to end through copies of G and E gives."""
    config = ModelConfig(
        window_length=T, latent_size=L, reconstruction_weight=0.0,
        hidden={"generator": (7, 9), "encoder": (7, 9), "discriminator": (11, 4)},
    )  # fmt: skip
    shape = GanShape.from_config(config, D)
    side = GeneratorSide(shape, config, 1)
    critics = [CriticSide(shape, config, s).critic for s in (2, 3)]
    batches = [
        torch.rand(B, T, D, generator=torch.Generator().manual_seed(s)).numpy() for s in (4, 5)
    ]
    g, e = copy.deepcopy(side.generator), copy.deepcopy(side.encoder)
    payloads = side.propose(batches)

    feedbacks = []
    for critic, x, p in zip(critics, batches, payloads, strict=True):
        tensors = (torch.from_numpy(x), torch.from_numpy(p["f"]), torch.from_numpy(p["x_bar"]))
        _, grad_f, grad_x_bar = eg_feedback(critic, *tensors, torch.from_numpy(p["z"]))
        feedbacks.append({"e": grad_f.numpy(), "g": grad_x_bar.numpy()})
    loss = sum(
        critic(torch.from_numpy(x), e(torch.from_numpy(x))).mean()
        - critic(g(torch.from_numpy(p["z"])), torch.from_numpy(p["z"])).mean()
        for critic, x, p in zip(critics, batches, payloads, strict=True)
    ) / len(critics)
    loss.backward()
    side.update(feedbacks)
    pairs = zip(
        (*side.generator.parameters(), *side.encoder.parameters()),
        (*g.parameters(), *e.parameters()),
        strict=True,
    )
    for used, expected in pairs:
        torch.testing.assert_close(used.grad, expected.grad)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_trains_in_the_split_protocol_and_scores(name):
    """Fig. 9's baselines run the same protocol with other losses; without an encoder E stays."""
    topology = resolve_topology(
        slices=1, monitors=2,
        settings={"data.source.length": 600, "model.name": name, "model.batch_size": 8,
                  "model.hidden": {"generator": [8, 8], "encoder": [8, 8],
                                   "discriminator": [16, 8]}},
    )  # fmt: skip
    config = topology.model
    monitors = prepare_monitors(topology)
    shape = GanShape.from_config(config, 26)
    local = [
        Monitor(m.name, m.windows("train", T_DEFAULT, config.window_stride), shape, config, 0, None)
        for m in monitors
    ]
    group = LocalMonitors(CoLocatedMonitors(local, batched=False))
    manager = SliceManager("s", shape, config, 0, group, None)
    # only the variants with an encoder build one
    assert (manager.side.encoder is not None) == VARIANTS[name].bidirectional
    before = [p.detach().clone() for m in manager.side.modules for p in m.parameters()]
    manager.train(0, 3)
    assert len(manager.records) == 3
    assert all(np.isfinite([r.critic_loss, r.eg_loss]).all() for r in manager.records)
    after = [p for m in manager.side.modules for p in m.parameters()]
    generator_count = len(list(manager.side.generator.parameters()))
    assert not torch.equal(before[0], after[0])
    # the encoder trains too
    assert all(
        not torch.equal(b, a)
        for b, a in zip(before[generator_count:], after[generator_count:], strict=True)
    )
    modules = (manager.side.generator, manager.side.encoder, local[0].critic.critic)
    scores = model_scores(monitors[0], modules, shape, config)
    assert len(scores.test) == len(monitors[0].vms[0].test) and np.isfinite(scores.test).all()
    assert len(scores.train) == len(monitors[0].vms[0].train)
    # a step's score is the mean of eq. 28 over the stride-1 windows that hold it
    test = monitors[0].vms[0].test.scaled
    train = monitors[0].windows("train", T_DEFAULT, config.window_stride)
    scale = ScoreScale.fit(*window_terms(*modules, train), config.score_weight,
                           VARIANTS[name].bidirectional, config.metric_pooling,
                           config.covariance_shrinkage)  # fmt: skip
    windows = np.stack([test[s : s + T_DEFAULT] for s in range(len(test) - T_DEFAULT + 1)])
    window_scores = scale.combine(*window_terms(*modules, windows))
    for step in (0, T_DEFAULT - 1, len(test) // 2, len(test) - 1):
        holding = window_scores[max(0, step - T_DEFAULT + 1) : step + 1]
        assert scores.test[step] == pytest.approx(holding.mean(), rel=1e-5, abs=1e-6)
