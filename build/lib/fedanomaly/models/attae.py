"""ATTAE of seed 000 (section 3.2): an LSTM autoencoder with multi-scale temporal encoding.

The encoder runs one LSTM branch per scale over the last ``s`` steps of the window (short
branches follow high-frequency changes, the full-length one the slow trend); their final
hidden states are concatenated and fused by a linear layer into the code ``h``. The decoder
feeds ``h`` at every step to an LSTM and maps its outputs back to the metrics. Training uses
normal windows only and minimises the reconstruction MSE; a step's score comes from the
reconstruction error at its position, averaged over the windows that contain it
(:func:`fedanomaly.detection.detector.local_model_scores`: ``mse``, ``standardized`` or
``robust``). The adaptive threshold of the paper is an evaluation threshold
(:mod:`fedanomaly.evaluation.thresholds`), not part of the model.

ATTAE is a "local" model: each VM monitor trains a whole copy
(:class:`fedanomaly.models.local.LocalLearner`), averaged monitor -> slice -> controller.
"""

from __future__ import annotations

import torch
from torch import nn


class MultiScaleEncoder(nn.Module):
    """Window ``(B, T, d)`` -> code ``(B, l)``: an LSTM per scale, concatenated, fused."""

    def __init__(
        self, metrics: int, length: int, scales: tuple[int, ...], hidden: int, latent: int
    ) -> None:
        super().__init__()
        self.scales = tuple(min(s, length) for s in scales)
        self.branches = nn.ModuleList(
            nn.LSTM(metrics, hidden, batch_first=True) for _ in self.scales
        )
        self.fuse = nn.Linear(hidden * len(self.scales), latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        finals = []
        for scale, branch in zip(self.scales, self.branches, strict=True):
            outputs, _ = branch(x[:, -scale:])
            finals.append(outputs[:, -1])
        return self.fuse(torch.cat(finals, dim=1))


class Decoder(nn.Module):
    """Code ``(B, l)`` -> window ``(B, T, d)``: the code at every step, LSTM, linear."""

    def __init__(self, metrics: int, length: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.length = length
        self.lstm = nn.LSTM(latent, hidden, batch_first=True)
        self.out = nn.Linear(hidden, metrics)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(code.unsqueeze(1).expand(-1, self.length, -1))
        return self.out(outputs)


class Attae(nn.Module):
    """The autoencoder: ``decoder(encoder(x))``.

    Parameters
    ----------
    metrics, length
        Metrics d and steps T of a window.
    scales
        Branch lengths of the multi-scale encoder (capped at T).
    hidden
        LSTM hidden size of every branch and of the decoder.
    latent
        Code size l.
    """

    def __init__(
        self, metrics: int, length: int, scales: tuple[int, ...], hidden: int, latent: int
    ) -> None:
        super().__init__()
        self.encoder = MultiScaleEncoder(metrics, length, scales, hidden, latent)
        self.decoder = Decoder(metrics, length, hidden, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def reconstruction_loss(model: Attae, x: torch.Tensor) -> torch.Tensor:
    """L_rec: mean squared error of the reconstruction over the batch, steps and metrics.

    Parameters
    ----------
    model
        The autoencoder.
    x
        Windows ``(B, T, d)``.

    Returns
    -------
    torch.Tensor
        The loss, a scalar.
    """
    return position_errors(model, x).mean()


def position_errors(model: Attae, x: torch.Tensor) -> torch.Tensor:
    """Squared reconstruction error per window and position, averaged over metrics:
    ``(B, T, d)`` -> ``(B, T)``; what training minimises (and the ``mse`` score).

    Parameters
    ----------
    model
        The autoencoder.
    x
        Windows ``(B, T, d)``.

    Returns
    -------
    torch.Tensor
        The errors ``(B, T)``.
    """
    return ((x - model(x)) ** 2).mean(dim=2)


def augmented_loss(
    model: Attae, x: torch.Tensor, anomalies: torch.Tensor, weight: float, margin: float
) -> torch.Tensor:
    """L_rec on normal windows plus a hinge on generated anomalous ones (cmsf-attae):

        L = L_rec(x) + weight * mean_j max(0, margin * mean_i peak(x_i) - peak(a_j))

    with peak(w) the largest position error of window w; the normal peaks enter as a constant,
    so the hinge only pushes the anomalies' errors up, to ``margin`` times the normal ones.

    Parameters
    ----------
    model
        The autoencoder.
    x
        Normal windows ``(B, T, d)``.
    anomalies
        Generated anomalous windows ``(A, T, d)``.
    weight
        Weight of the hinge.
    margin
        The multiple of the mean normal peak that the anomalies' peaks are pushed up to.

    Returns
    -------
    torch.Tensor
        The loss, a scalar.
    """
    normal = position_errors(model, x)
    floor = margin * normal.amax(dim=1).mean().detach()
    hinge = torch.relu(floor - position_errors(model, anomalies).amax(dim=1)).mean()
    return normal.mean() + weight * hinge
