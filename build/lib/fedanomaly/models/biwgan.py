"""BiWGAN-GP of seed 002 (sections 3-4): generator, encoder, critic, losses and feedback.

The split across tiers follows Algorithm 1: the slice manager holds G and E, each VM monitor a
critic D_n on the joint pair (window, latent). A monitor never sends its critic; it sends the
gradient of the Wasserstein estimate L_EG with respect to the latent codes f = E(X) and the
generated windows X_bar = G(z) (eq. 19-21), and the slice manager back-propagates the averaged
feedback through E and G (eq. 22-25).

Choices the paper leaves open: the noise z is repeated over the T steps of a window as the
generator LSTM's input; the critic returns its raw value (a Wasserstein critic), and the anomaly
score applies the sigmoid itself (eq. 28). The four baselines of Fig. 9 (GAN, WGAN, WGAN-GP,
BiGAN) are variants of the same modules: without the encoder the critic sees an empty latent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional


class Generator(nn.Module):
    """G: z of shape ``(B, l)`` -> window of shape ``(B, T, d)``: LSTM, LSTM, linear."""

    def __init__(self, latent: int, metrics: int, length: int, hidden: tuple[int, int]) -> None:
        super().__init__()
        self.length = length
        self.first = nn.LSTM(latent, hidden[0], batch_first=True)
        self.second = nn.LSTM(hidden[0], hidden[1], batch_first=True)
        self.out = nn.Linear(hidden[1], metrics)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        steps = z.unsqueeze(1).expand(-1, self.length, -1)
        hidden, _ = self.first(steps)
        hidden, _ = self.second(hidden)
        return self.out(hidden)


class Encoder(nn.Module):
    """E: window ``(B, T, d)`` -> f ``(B, l)``: LSTM, LSTM, linear on the last step."""

    def __init__(self, latent: int, metrics: int, hidden: tuple[int, int]) -> None:
        super().__init__()
        self.first = nn.LSTM(metrics, hidden[0], batch_first=True)
        self.second = nn.LSTM(hidden[0], hidden[1], batch_first=True)
        self.out = nn.Linear(hidden[1], latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.first(x)
        hidden, _ = self.second(hidden)
        return self.out(hidden[:, -1])


class Critic(nn.Module):
    """D_n: (window, latent) -> raw critic value, three fully connected layers."""

    def __init__(self, latent: int, metrics: int, length: int, hidden: tuple[int, int]) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(length * metrics + latent, hidden[0]),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden[0], hidden[1]),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden[1], 1),
        )

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """The raw critic value of each (window, code) pair.

        Parameters
        ----------
        x
            Windows ``(B, T, d)``.
        code
            Latent codes ``(B, l)``; ``(B, 0)`` for the variants without an encoder.

        Returns
        -------
        torch.Tensor
            One value per pair ``(B,)``.
        """
        return self.layers(torch.cat([x.flatten(1), code], dim=1)).squeeze(1)


@dataclass(frozen=True)
class GanVariant:
    """One member of the family compared in Fig. 9 of seed 002.

    Parameters
    ----------
    name
        Model name used in configs and on the command line.
    bidirectional
        With an encoder and a critic on the joint pair (window, latent) (BiGAN family); without,
        the critic sees windows only and the anomaly score uses the critic term alone.
    wasserstein
        Wasserstein critic (raw value) instead of a logistic discriminator.
    penalty
        ``gp`` (gradient penalty), ``clip`` (weight clipping of WGAN) or ``none``.
    """

    name: str
    bidirectional: bool
    wasserstein: bool
    penalty: str


VARIANTS: dict[str, GanVariant] = {
    v.name: v
    for v in (
        GanVariant("biwgan-gp", bidirectional=True, wasserstein=True, penalty="gp"),
        GanVariant("bigan", bidirectional=True, wasserstein=False, penalty="none"),
        GanVariant("wgan-gp", bidirectional=False, wasserstein=True, penalty="gp"),
        GanVariant("wgan", bidirectional=False, wasserstein=True, penalty="clip"),
        GanVariant("gan", bidirectional=False, wasserstein=False, penalty="none"),
    )
}
WEIGHT_CLIP = 0.01


CriticFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def gradient_penalty(
    critic: CriticFunction,
    x: torch.Tensor,
    f: torch.Tensor,
    x_bar: torch.Tensor,
    z: torch.Tensor,
    epsilon: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean of ``(||grad D(X_hat, z_hat)||_2 - 1)^2`` on the joint interpolate (eq. 16).

    One epsilon per sample, shared by the window and the latent part: ``epsilon`` of shape
    ``(..., M, 1)`` (each critic draws its own, so the draws do not depend on what else runs
    in the process), or uniform draws when it is ``None``. Leading dimensions before the batch
    dimension M are independent critics evaluated at once (see :mod:`critic_bank`); the
    result has those dimensions.

    Parameters
    ----------
    critic
        D, or a bank of critics: windows ``(..., M, T, d)`` and codes ``(..., M, l)`` to
        values ``(..., M)``.
    x, f
        Real windows ``(..., M, T, d)`` and their codes E(X) ``(..., M, l)``.
    x_bar, z
        Generated windows ``(..., M, T, d)`` and their noise ``(..., M, l)``.
    epsilon
        Interpolation weights ``(..., M, 1)``, or ``None`` to draw them uniformly in [0, 1)
        from torch's global generator.

    Returns
    -------
    torch.Tensor
        The penalty per critic, shape ``(...)`` (a scalar for one critic), differentiable
        with respect to the critic's parameters.
    """
    if epsilon is None:
        epsilon = torch.rand(*x.shape[:-2], 1, device=x.device, dtype=x.dtype)
    x_hat = (epsilon.unsqueeze(-1) * x + (1 - epsilon.unsqueeze(-1)) * x_bar).requires_grad_(True)
    z_hat = (epsilon * f + (1 - epsilon) * z).requires_grad_(True)
    value = critic(x_hat, z_hat)
    grad_x, grad_z = torch.autograd.grad(value.sum(), (x_hat, z_hat), create_graph=True)
    norm = torch.cat([grad_x.flatten(-2), grad_z], dim=-1).norm(2, dim=-1)
    return ((norm - 1) ** 2).mean(-1)


def critic_loss(
    critic: CriticFunction,
    x: torch.Tensor,
    f: torch.Tensor,
    x_bar: torch.Tensor,
    z: torch.Tensor,
    penalty_weight: float,
    variant: GanVariant = VARIANTS["biwgan-gp"],
    epsilon: torch.Tensor | None = None,
) -> torch.Tensor:
    """The critic's loss on one batch (a loss per critic where leading dimensions stack them).

    Wasserstein (eq. 16): ``-(D(X, f) - D(X_bar, z)) + eta * GP``; logistic: the binary
    cross-entropy with real pairs labelled 1 and generated pairs 0. Batch means throughout.

    Parameters
    ----------
    critic
        D, or a bank of critics (see :func:`gradient_penalty`).
    x, f
        Real windows ``(..., M, T, d)`` and their codes E(X) ``(..., M, l)``.
    x_bar, z
        Generated windows ``(..., M, T, d)`` and their noise ``(..., M, l)``.
    penalty_weight
        eta, the gradient penalty's weight; used with the ``gp`` penalty only.
    variant
        Logistic or Wasserstein critic, and its penalty (``clip``'s weight clipping is left to
        the caller, after the optimizer step).
    epsilon
        The gradient penalty's interpolation weights ``(..., M, 1)``, or ``None`` for uniform
        draws.

    Returns
    -------
    torch.Tensor
        The loss per critic, shape ``(...)``.
    """
    real, fake = critic(x, f), critic(x_bar, z)
    if not variant.wasserstein:
        return functional.softplus(-real).mean(-1) + functional.softplus(fake).mean(-1)
    loss = -(real.mean(-1) - fake.mean(-1))
    if variant.penalty == "gp":
        loss = loss + penalty_weight * gradient_penalty(critic, x, f, x_bar, z, epsilon)
    return loss


def eg_loss(
    critic: CriticFunction,
    x: torch.Tensor,
    f: torch.Tensor,
    x_bar: torch.Tensor,
    z: torch.Tensor,
    variant: GanVariant = VARIANTS["biwgan-gp"],
) -> torch.Tensor:
    """What G and E minimise: ``L_EG = mean(D(X, f) - D(X_bar, z))`` (eq. 19) for a
    Wasserstein critic; for a logistic one, the cross-entropy with the labels swapped.

    Parameters
    ----------
    critic
        D, or a bank of critics (see :func:`gradient_penalty`).
    x, f
        Real windows ``(..., M, T, d)`` and their codes E(X) ``(..., M, l)``.
    x_bar, z
        Generated windows ``(..., M, T, d)`` and their noise ``(..., M, l)``.
    variant
        Logistic or Wasserstein critic.

    Returns
    -------
    torch.Tensor
        The loss per critic, shape ``(...)``.
    """
    real, fake = critic(x, f), critic(x_bar, z)
    if variant.wasserstein:
        return real.mean(-1) - fake.mean(-1)
    return functional.softplus(real).mean(-1) + functional.softplus(-fake).mean(-1)


def eg_feedback(
    critic: CriticFunction,
    x: torch.Tensor,
    f: torch.Tensor,
    x_bar: torch.Tensor,
    z: torch.Tensor,
    variant: GanVariant = VARIANTS["biwgan-gp"],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A monitor's error feedback (eq. 19-21).

    Parameters
    ----------
    critic
        D, or a bank of critics (see :func:`gradient_penalty`).
    x, f
        Real windows ``(..., M, T, d)`` and their codes E(X) ``(..., M, l)``; ``f`` is
        detached, so the gradient stops at it.
    x_bar, z
        Generated windows ``(..., M, T, d)``, detached like ``f``, and their noise
        ``(..., M, l)``.
    variant
        Logistic or Wasserstein critic.

    Returns
    -------
    tuple
        ``L_EG`` (one per critic where leading dimensions stack critics), its gradient with
        respect to ``f`` (the part of e_n that E needs) and with respect to ``X_bar`` (the part
        of g_n that G needs).
    """
    f = f.detach().requires_grad_(True)
    x_bar = x_bar.detach().requires_grad_(True)
    loss = eg_loss(critic, x, f, x_bar, z, variant)
    grad_f, grad_x_bar = torch.autograd.grad(loss.sum(), (f, x_bar), allow_unused=True)
    if grad_f is None:
        grad_f = torch.zeros_like(f)
    return loss.detach(), grad_f, grad_x_bar
