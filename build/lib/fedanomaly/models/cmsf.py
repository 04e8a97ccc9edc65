"""CMSF-GAN (seed 000, section 3.1): a conditional generator of typed anomalous windows.

G(z, c) maps noise and the one-hot anomaly type c to a window; inside it a multi-scale feature
block runs a short branch (a 1-D convolution over 3 steps: high-frequency structure) beside a
long branch (an LSTM over the sequence averaged over 4 steps: low-frequency structure) and fuses
them. The discriminator D(x, c) gives a real/fake logit conditioned on c, an auxiliary type
classifier, and the intermediate features f(x) on which feature matching acts:

    L_D = BCE(D(x, c), 1) + BCE(D(G(z, c'), c'), 0) + CE(cls(x), c)
    L_G = BCE(D(G(z, c'), c'), 1) + CE(cls(G(z, c')), c') + lambda_fm L_FM

with L_FM the mean over D's features of (mean f(x) - mean f(G(z, c')))^2 (the squared norm of
the paper divided by the feature count, so that lambda_fm does not depend on D's width).

The two halves are split like BiWGAN-GP's: the generator side proposes (z, c, X') and applies
the averaged feedback dL_G/dX'; each critic side holds real typed windows and D, takes K steps
and sends dL_G/dX' back (plain numpy in and out).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.functional import avg_pool1d, cross_entropy
from torch.nn.functional import binary_cross_entropy_with_logits as bce_logits
from torch.nn.functional import one_hot as torch_one_hot

from fedanomaly.config.schema import ModelConfig
from fedanomaly.models.sides import (
    Arrays,
    load_module_arrays,
    make_optimizer,
    module_arrays,
    optimizer_bytes,
    parameter_bytes,
)
from fedanomaly.seeding import stream_seed

SHORT_KERNEL = 3
LONG_POOL = 4


class MultiScaleBlock(nn.Module):
    """Short (convolution over 3 steps) and long (LSTM over 4-step means) branches, fused."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.short = nn.Conv1d(channels, channels, SHORT_KERNEL, padding=SHORT_KERNEL // 2)
        self.long = nn.LSTM(channels, channels, batch_first=True)
        self.fuse = nn.Linear(2 * channels, channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` -> ``(B, T, C)``."""
        steps = h.shape[1]
        short = torch.relu(self.short(h.transpose(1, 2))).transpose(1, 2)
        coarse = avg_pool1d(h.transpose(1, 2), LONG_POOL, ceil_mode=True).transpose(1, 2)
        long, _ = self.long(coarse)
        long = long.repeat_interleave(LONG_POOL, dim=1)[:, :steps]
        return torch.relu(self.fuse(torch.cat([short, long], dim=-1))) + h


class ConditionalGenerator(nn.Module):
    """G(z, c): ``(B, l)`` noise and ``(B, k)`` one-hot type -> window ``(B, T, d)``."""

    def __init__(self, latent: int, types: int, metrics: int, length: int, hidden: int) -> None:
        super().__init__()
        self.length, self.hidden = length, hidden
        self.project = nn.Linear(latent + types, length * hidden)
        self.block = MultiScaleBlock(hidden)
        self.out = nn.Linear(hidden, metrics)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """A window per noise vector and type.

        Parameters
        ----------
        z
            Noise ``(B, l)``.
        c
            One-hot types ``(B, k)``.

        Returns
        -------
        torch.Tensor
            Windows ``(B, T, d)``.
        """
        h = torch.relu(self.project(torch.cat([z, c], dim=1))).view(-1, self.length, self.hidden)
        return self.out(self.block(h))


class TypeDiscriminator(nn.Module):
    """D(x, c): real/fake logit given the type, type logits, and the features f(x)."""

    def __init__(self, types: int, metrics: int, length: int, hidden: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(metrics, hidden, 5, padding=2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(hidden * ((length + 1) // 2), hidden),
            nn.LeakyReLU(0.2),
        )
        self.real = nn.Linear(hidden + types, 1)
        self.classify = nn.Linear(hidden, types)

    def forward(
        self, x: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(real/fake logit ``(B,)``, type logits ``(B, k)``, features ``(B, H)``).

        Parameters
        ----------
        x
            Windows ``(B, T, d)``.
        c
            One-hot types ``(B, k)``; only the real/fake logit sees them.

        Returns
        -------
        tuple of torch.Tensor
            The logit, the type logits and the features f(x), H being D's width.
        """
        f = self.features(x.transpose(1, 2))
        return self.real(torch.cat([f, c], dim=1)).squeeze(1), self.classify(f), f


def one_hot(codes: torch.Tensor, types: int) -> torch.Tensor:
    """Type indices ``(B,)`` as float one-hot rows ``(B, k)``.

    Parameters
    ----------
    codes
        Type indices in ``0..types - 1`` ``(B,)``, of any numeric dtype (cast to int64).
    types
        Number of anomaly types k.

    Returns
    -------
    torch.Tensor
        float32 rows ``(B, k)``.
    """
    return torch_one_hot(codes.long(), types).float()


def discriminator_loss(
    critic: TypeDiscriminator,
    x: torch.Tensor,
    codes: torch.Tensor,
    fake: torch.Tensor,
    fake_codes: torch.Tensor,
    types: int,
) -> torch.Tensor:
    """L_D: real and fake through the conditioned logit, and the type of the real windows.

    Parameters
    ----------
    critic
        D.
    x, codes
        Real windows ``(B, T, d)`` and their type indices ``(B,)``.
    fake, fake_codes
        Generated windows ``(B', T, d)`` and their type indices ``(B',)``.
    types
        Number of anomaly types k.

    Returns
    -------
    torch.Tensor
        L_D, a scalar (batch means).
    """
    real_logit, real_types, _ = critic(x, one_hot(codes, types))
    fake_logit, _, _ = critic(fake, one_hot(fake_codes, types))
    adversarial = bce_logits(real_logit, torch.ones_like(real_logit)) + bce_logits(
        fake_logit, torch.zeros_like(fake_logit)
    )
    return adversarial + cross_entropy(real_types, codes.long())


def generator_loss(
    critic: TypeDiscriminator,
    x: torch.Tensor,
    codes: torch.Tensor,
    fake: torch.Tensor,
    fake_codes: torch.Tensor,
    types: int,
    feature_weight: float,
) -> torch.Tensor:
    """L_G = L_GAN + CE(type of the fakes) + lambda_fm * L_FM (feature matching on f).

    Parameters
    ----------
    critic
        D.
    x, codes
        Real windows ``(B, T, d)`` and their type indices ``(B,)``: their mean features f(x)
        are the target (no gradients).
    fake, fake_codes
        Generated windows ``(B', T, d)`` and their type indices ``(B',)``.
    types
        Number of anomaly types k.
    feature_weight
        lambda_fm.

    Returns
    -------
    torch.Tensor
        L_G, a scalar (batch means).
    """
    with torch.no_grad():
        real_features = critic(x, one_hot(codes, types))[2]
    fake_logit, fake_types, fake_features = critic(fake, one_hot(fake_codes, types))
    adversarial = bce_logits(fake_logit, torch.ones_like(fake_logit))
    matching = (real_features.mean(0) - fake_features.mean(0)).pow(2).mean()
    return adversarial + cross_entropy(fake_types, fake_codes.long()) + feature_weight * matching


class CmsfGeneratorSide:
    """G with its optimizer: proposes typed windows and applies the critics' feedback.

    Parameters
    ----------
    types
        Number of anomaly types k.
    metrics
        Metrics d of a window.
    config
        Window length T, noise size l (``latent_size``), G's width (the last of
        ``hidden.generator``) and the optimizer.
    seed
        Seeds the weights.
    noise_seed
        Seeds the noise and the type draws (default: ``seed``); slices that start from one
        model draw their own.
    """

    def __init__(
        self,
        types: int,
        metrics: int,
        config: ModelConfig,
        seed: int,
        noise_seed: int | None = None,
    ) -> None:
        torch.manual_seed(seed)
        self.types, self.latent = types, config.latent_size
        self.generator = ConditionalGenerator(
            config.latent_size, types, metrics, config.window_length, config.hidden.generator[-1]
        )
        self.optimizer = make_optimizer(self.generator.parameters(), config)
        self.noise = torch.Generator().manual_seed(
            stream_seed(seed if noise_seed is None else noise_seed, "noise")
        )
        self._pending: torch.Tensor | None = None

    def generate(self, codes: np.ndarray) -> np.ndarray:
        """Windows ``(len(codes), T, d)`` of the requested type indices, without training."""
        with torch.no_grad():
            return self._forward(torch.from_numpy(codes)).numpy()

    def _forward(self, codes: torch.Tensor) -> torch.Tensor:
        z = torch.randn(len(codes), self.latent, generator=self.noise)
        return self.generator(z, one_hot(codes, self.types))

    def propose(self, sizes: list[int]) -> list[Arrays]:
        """A batch of typed windows per critic: ``codes`` (balanced over the types, in a
        random order) and ``x_fake``."""
        total = sum(sizes)
        codes = torch.randperm(total, generator=self.noise) % self.types
        fake = self._forward(codes)
        self._pending = fake
        return [
            {"codes": c.numpy().astype(np.int64), "x_fake": f.detach().numpy()}
            for c, f in zip(codes.split(sizes), fake.split(sizes), strict=True)
        ]

    def update(self, feedbacks: list[Arrays]) -> None:
        """Back-propagate the mean of the critics' dL_G/dX' through G; one optimizer step."""
        if self._pending is None:
            raise RuntimeError("update() before propose()")
        grad = torch.from_numpy(np.concatenate([fb["g"] for fb in feedbacks]))
        self.optimizer.zero_grad(set_to_none=True)
        (self._pending * grad).sum().div(len(feedbacks)).backward()
        self.optimizer.step()
        self._pending = None

    def arrays(self) -> list[np.ndarray]:
        """G's state as numpy arrays (what FedAvg averages)."""
        return module_arrays(self.generator)

    def load_arrays(self, arrays: list[np.ndarray]) -> None:
        """Replace G by arrays from :meth:`arrays` (the global generator)."""
        load_module_arrays(arrays, self.generator)

    def memory_bytes(self) -> dict[str, int]:
        """Parameters and optimizer state held."""
        return {
            "parameters": parameter_bytes(self.generator),
            "optimizer": optimizer_bytes(self.optimizer),
        }


class CmsfCriticSide:
    """A monitor's D with its optimizer and its real typed windows.

    Parameters
    ----------
    windows, codes
        Real windows ``(n, T, d)`` carrying injected anomalies and their type indices.
    types
        Number of anomaly types k.
    config
        D's width (the last of ``hidden.discriminator``), the optimizer, K
        (``critic_iterations``) and lambda_fm (``feature_matching_weight``).
    seed
        Seeds the weights and the batch draws.
    """

    def __init__(
        self, windows: np.ndarray, codes: np.ndarray, types: int, config: ModelConfig, seed: int
    ) -> None:
        torch.manual_seed(seed)
        self.windows, self.codes, self.types = windows, codes, types
        self.critic = TypeDiscriminator(
            types, windows.shape[2], windows.shape[1], config.hidden.discriminator[-1]
        )
        self.optimizer = make_optimizer(self.critic.parameters(), config)
        self.critic_iterations = config.critic_iterations
        self.feature_weight = config.feature_matching_weight
        self.rng = np.random.default_rng(seed)

    def real_batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` real windows drawn without replacement and their types."""
        pick = self.rng.choice(len(self.windows), size=min(size, len(self.windows)), replace=False)
        return torch.from_numpy(self.windows[pick]), torch.from_numpy(self.codes[pick])

    def train(self, payload: Arrays) -> tuple[float, float, Arrays]:
        """K steps of D against the proposed fakes, then dL_G/dX'.

        Returns
        -------
        tuple
            The last L_D, L_G and the feedback ``{"g": dL_G/dX'}``.
        """
        fake = torch.tensor(payload["x_fake"])  # a copy: what arrives through Ray is read-only
        fake_codes = torch.from_numpy(np.asarray(payload["codes"]))
        loss = torch.zeros(())
        for _ in range(self.critic_iterations):
            x, codes = self.real_batch(len(fake))
            self.optimizer.zero_grad(set_to_none=True)
            loss = discriminator_loss(self.critic, x, codes, fake, fake_codes, self.types)
            loss.backward()
            self.optimizer.step()
        x, codes = self.real_batch(len(fake))
        fake.requires_grad_(True)
        g_loss = generator_loss(
            self.critic, x, codes, fake, fake_codes, self.types, self.feature_weight
        )
        (grad,) = torch.autograd.grad(g_loss, fake)
        return float(loss.detach()), float(g_loss.detach()), {"g": grad.numpy()}

    def memory_bytes(self) -> dict[str, int]:
        """Parameters, optimizer state and the typed windows held."""
        return {
            "parameters": parameter_bytes(self.critic),
            "optimizer": optimizer_bytes(self.optimizer),
            "data": int(self.windows.nbytes + self.codes.nbytes),
        }
