"""BiWGAN-GP modules and losses against closed forms and end-to-end autograd."""

from __future__ import annotations

import copy

import torch

from fedanomaly.config.schema import ModelConfig
from fedanomaly.models.biwgan import (
    Critic,
    Encoder,
    Generator,
    critic_loss,
    eg_feedback,
    gradient_penalty,
)
from fedanomaly.models.sides import CriticSide, GanShape, GeneratorSide

B, T, D, L = 6, 8, 5, 3


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
