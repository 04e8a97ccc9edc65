"""BiWGAN-GP of seed 002 (sections 3-4): generator, encoder, critic, losses and feedback.

The split across tiers follows Algorithm 1: the slice manager holds G and E, each VM monitor a
critic D_n on the joint pair (window, latent). A monitor never sends its critic; it sends the
gradient of the Wasserstein estimate L_EG with respect to the latent codes f = E(X) and the
generated windows X_bar = G(z) (eq. 19-21), and the slice manager back-propagates the averaged
feedback through E and G (eq. 22-25).

Choices the paper leaves open: the noise z is repeated over the T steps of a window as the
generator LSTM's input; the critic returns its raw value (a Wasserstein critic), and the anomaly
score applies the sigmoid itself (eq. 28).
"""

from __future__ import annotations

import torch
from torch import nn


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
        return self.layers(torch.cat([x.flatten(1), code], dim=1)).squeeze(1)


def gradient_penalty(
    critic: Critic, x: torch.Tensor, f: torch.Tensor, x_bar: torch.Tensor, z: torch.Tensor
) -> torch.Tensor:
    """Mean of ``(||grad D(X_hat, z_hat)||_2 - 1)^2`` on the joint interpolate (eq. 16).

    One epsilon per sample, shared by the window and the latent part.
    """
    epsilon = torch.rand(x.shape[0], 1, device=x.device, dtype=x.dtype)
    x_hat = (epsilon.unsqueeze(2) * x + (1 - epsilon.unsqueeze(2)) * x_bar).requires_grad_(True)
    z_hat = (epsilon * f + (1 - epsilon) * z).requires_grad_(True)
    value = critic(x_hat, z_hat)
    grad_x, grad_z = torch.autograd.grad(value.sum(), (x_hat, z_hat), create_graph=True)
    norm = torch.cat([grad_x.flatten(1), grad_z], dim=1).norm(2, dim=1)
    return ((norm - 1) ** 2).mean()


def critic_loss(
    critic: Critic,
    x: torch.Tensor,
    f: torch.Tensor,
    x_bar: torch.Tensor,
    z: torch.Tensor,
    penalty_weight: float,
) -> torch.Tensor:
    """Critic loss of eq. 16: ``-(D(X, f) - D(X_bar, z)) + eta * GP``, averaged over the batch."""
    wasserstein = critic(x, f).mean() - critic(x_bar, z).mean()
    return -wasserstein + penalty_weight * gradient_penalty(critic, x, f, x_bar, z)


def eg_feedback(
    critic: Critic, x: torch.Tensor, f: torch.Tensor, x_bar: torch.Tensor, z: torch.Tensor
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """A monitor's error feedback (eq. 19-21).

    Returns
    -------
    tuple
        ``L_EG = mean(D(X, f) - D(X_bar, z))``, its gradient with respect to ``f`` (the part of
        e_n that E needs) and with respect to ``X_bar`` (the part of g_n that G needs).
    """
    f = f.detach().requires_grad_(True)
    x_bar = x_bar.detach().requires_grad_(True)
    loss = critic(x, f).mean() - critic(x_bar, z).mean()
    grad_f, grad_x_bar = torch.autograd.grad(loss, (f, x_bar))
    return float(loss.detach()), grad_f, grad_x_bar
