"""The two halves of a split GAN: the generator side (G, E) and the critic side (D_n).

Plain PyTorch objects that exchange numpy arrays, so that any transport (an in-process call, a
Ray actor call) can carry what they send. The generator side lives at a slice manager, a critic
side at each VM monitor (Algorithm 1 of seed 002).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from fedanomaly.config.schema import ModelConfig
from fedanomaly.models.biwgan import (
    VARIANTS,
    WEIGHT_CLIP,
    Critic,
    Encoder,
    GanVariant,
    Generator,
    critic_loss,
    eg_feedback,
)
from fedanomaly.seeding import stream_seed

if TYPE_CHECKING:
    from fedanomaly.models.critic_bank import CriticBank

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class GanShape:
    """Sizes every part of the model must agree on."""

    metrics: int
    length: int
    latent: int
    variant: GanVariant | None  # None for a local model (no generator, encoder or critic)

    @classmethod
    def from_config(cls, config: ModelConfig, metrics: int) -> GanShape:
        """The shape for ``metrics`` columns under a model config.

        Parameters
        ----------
        config
            Window length T, latent size l and the model's name.
        metrics
            Metrics d of a window.

        Returns
        -------
        GanShape
            With ``variant`` ``None`` where the model is not a split GAN (a local model).
        """
        return cls(metrics, config.window_length, config.latent_size, VARIANTS.get(config.name))

    @property
    def code(self) -> int:
        """Size of the latent part the critic sees (0 without an encoder)."""
        return self.latent if self.variant.bidirectional else 0


def make_optimizer(
    parameters: Iterable[torch.Tensor], config: ModelConfig
) -> torch.optim.Optimizer:
    """The optimizer ``model.optimizer`` names, with step size alpha: Adam and AdamW with
    betas (beta1, beta2), RMSprop with smoothing beta2, SGD with momentum beta1. All act element
    by element, so one of them over stacked critics equals one per critic.

    Parameters
    ----------
    parameters
        The tensors to optimise.
    config
        ``optimizer`` (any name but ``adamw``, ``rmsprop`` and ``sgd`` gives Adam),
        ``learning_rate`` (alpha) and ``betas`` (beta1, beta2).

    Returns
    -------
    torch.optim.Optimizer
        The optimizer, with no state yet.
    """
    alpha, (beta1, beta2) = config.learning_rate, config.betas
    parameters = list(parameters)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=alpha, betas=(beta1, beta2))
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=alpha, alpha=beta2)
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=alpha, momentum=beta1)
    return torch.optim.Adam(parameters, lr=alpha, betas=(beta1, beta2))


def module_arrays(*modules: torch.nn.Module) -> list[np.ndarray]:
    """Parameters and buffers of modules as numpy arrays, in a fixed order."""
    return [t.detach().cpu().numpy().copy() for m in modules for t in m.state_dict().values()]


def load_module_arrays(arrays: list[np.ndarray], *modules: torch.nn.Module) -> None:
    """Load arrays written by :func:`module_arrays` back into the modules."""
    it = iter(arrays)
    for module in modules:
        # copies: arrays that arrive through Ray are read-only
        state = {name: torch.tensor(np.asarray(next(it))) for name in module.state_dict()}
        module.load_state_dict(state)


def optimizer_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held by an optimizer's state tensors."""
    return sum(
        value.nbytes
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, torch.Tensor)
    )


def parameter_bytes(*modules: torch.nn.Module) -> int:
    """Bytes of the modules' parameters."""
    return sum(p.nbytes for m in modules for p in m.parameters())


class GeneratorSide:
    """G and E with their optimizers: proposes (f, z, X_bar) and applies feedback. The
    variants without an encoder (``wgan-gp``, ``wgan``, ``gan``) hold G alone: no E is built,
    trained, sent or averaged.

    Parameters
    ----------
    shape
        Model sizes and variant.
    config
        Hyper-parameters.
    seed
        Seeds the initial weights.
    device
        Torch device for G and E.
    noise_seed
        Seeds the noise z (its own stream of it, :func:`~fedanomaly.seeding.stream_seed`; default:
        ``seed``); slices that share initial weights draw their own.
    """

    def __init__(
        self,
        shape: GanShape,
        config: ModelConfig,
        seed: int,
        device: str = "cpu",
        noise_seed: int | None = None,
    ) -> None:
        torch.manual_seed(seed)
        self.shape = shape
        self.device = torch.device(device)
        self.generator = Generator(
            shape.latent, shape.metrics, shape.length, config.hidden.generator
        )
        self.encoder = (
            Encoder(shape.latent, shape.metrics, config.hidden.encoder)
            if shape.variant.bidirectional
            else None
        )
        #: What this side holds, sends and averages: G, then E where the variant has one.
        self.modules: tuple[torch.nn.Module, ...] = tuple(
            module for module in (self.generator, self.encoder) if module is not None
        )
        for module in self.modules:
            module.to(self.device)
        self.optimizers = [make_optimizer(module.parameters(), config) for module in self.modules]
        self.noise = torch.Generator(device=self.device).manual_seed(
            stream_seed(seed if noise_seed is None else noise_seed, "noise")
        )
        self.reconstruction_weight = config.reconstruction_weight
        self._pending: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def propose(self, batches: list[np.ndarray]) -> list[Arrays]:
        """For each monitor's batch X_n: f_n = E(X_n), z_n ~ N(0, I), X_bar_n = G(z_n)."""
        sizes = [len(b) for b in batches]
        x = torch.from_numpy(np.concatenate(batches)).to(self.device)
        z = torch.randn(len(x), self.shape.latent, generator=self.noise, device=self.device)
        x_bar = self.generator(z)
        f = self.encoder(x) if self.encoder is not None else x.new_zeros(len(x), 0)
        self._pending = (x, f, x_bar)
        payloads = []
        for f_n, z_n, x_bar_n in zip(
            f.split(sizes), z.split(sizes), x_bar.split(sizes), strict=True
        ):
            payload = {"x_bar": x_bar_n.detach().cpu().numpy()}
            if self.encoder is not None:  # the critic of a model without one reads X_bar alone
                payload["z"] = z_n.cpu().numpy()
                payload["f"] = f_n.detach().cpu().numpy()
            payloads.append(payload)
        return payloads

    def update(self, feedbacks: list[Arrays]) -> float:
        """Back-propagate the monitors' averaged feedback through G and E; one Adam step each.

        Each monitor's gradients are batch means already; dividing by the number of monitors
        gives the (1 / (M N)) sum of eq. 22-25. With a reconstruction weight w > 0 the slice
        manager adds the gradient of w * mean |X - G(E(X))| on the batches it received.

        Returns
        -------
        float
            The reconstruction term (0 without an encoder or weight).
        """
        if self._pending is None:
            raise RuntimeError("update() before propose()")
        x, f, x_bar = self._pending
        scale = 1.0 / len(feedbacks)
        grad_x_bar = torch.from_numpy(np.concatenate([fb["g"] for fb in feedbacks])).to(self.device)
        # A surrogate whose gradient is the feedback: d(sum(X_bar * g))/dX_bar = g.
        surrogate = (x_bar * grad_x_bar).sum() * scale
        reconstruction = torch.zeros((), device=self.device)
        if self.encoder is not None:
            grad_f = torch.from_numpy(np.concatenate([fb["e"] for fb in feedbacks])).to(self.device)
            surrogate = surrogate + (f * grad_f).sum() * scale
            if self.reconstruction_weight > 0:
                reconstruction = (x - self.generator(f)).abs().mean()
                surrogate = surrogate + self.reconstruction_weight * reconstruction
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        surrogate.backward()
        for optimizer in self.optimizers:
            optimizer.step()
        self._pending = None
        return float(reconstruction.detach())

    def arrays(self) -> list[np.ndarray]:
        """G's then E's state as numpy arrays (what FedAvg averages)."""
        return module_arrays(*self.modules)

    def finite(self) -> bool:
        """Whether every weight of G and E is a number, checked on their device (no copy)."""
        return all(
            bool(torch.isfinite(weights).all())
            for module in self.modules
            for weights in module.parameters()
        )

    def load_arrays(self, arrays: list[np.ndarray]) -> None:
        """Replace G and E by arrays from :meth:`arrays` (the global model)."""
        load_module_arrays(arrays, *self.modules)

    def memory_bytes(self) -> dict[str, int]:
        """Parameters and optimizer state held."""
        return {
            "parameters": parameter_bytes(*self.modules),
            "optimizer": sum(optimizer_bytes(o) for o in self.optimizers),
        }


def clip_weights(parameters: Iterable[torch.Tensor]) -> None:
    """WGAN's weight clipping, in place."""
    with torch.no_grad():
        for p in parameters:
            p.clamp_(-WEIGHT_CLIP, WEIGHT_CLIP)


def feedback_arrays(grad_f: torch.Tensor, grad_x_bar: torch.Tensor, variant: GanVariant) -> Arrays:
    """The feedback message: ``g`` = dL_EG/dX_bar and, with an encoder, ``e`` = dL_EG/df.

    Parameters
    ----------
    grad_f
        dL_EG/df ``(M, l)`` on the CPU; not read without an encoder.
    grad_x_bar
        dL_EG/dX_bar ``(M, T, d)`` on the CPU.
    variant
        Whether the model has an encoder.

    Returns
    -------
    dict
        The arrays by name, sharing memory with the tensors.
    """
    feedback = {"g": grad_x_bar.numpy()}
    if variant.bidirectional:
        feedback["e"] = grad_f.numpy()
    return feedback


class CriticSide:
    """A monitor's critic D_n and its optimizer: K critic steps, then the feedback."""

    def __init__(self, shape: GanShape, config: ModelConfig, seed: int) -> None:
        torch.manual_seed(seed)
        self.shape = shape
        self.config = config
        self.critic = Critic(shape.code, shape.metrics, shape.length, config.hidden.discriminator)
        self.optimizer = make_optimizer(self.critic.parameters(), config)
        self.epsilon = torch.Generator().manual_seed(stream_seed(seed, "epsilon"))
        self.bank: CriticBank | None = None  # set when stacked with co-located critics

    def tensors(self, x: np.ndarray, payload: Arrays) -> tuple[torch.Tensor, ...]:
        """(X, f, X_bar, z) as tensors, with empty latent parts without an encoder.

        Parameters
        ----------
        x
            The monitor's batch of real windows ``(M, T, d)``; X shares its memory.
        payload
            The generator side's message: ``x_bar`` and, with an encoder, ``z`` and ``f``
            (copied).

        Returns
        -------
        tuple of torch.Tensor
            X and X_bar ``(M, T, d)``, f and z ``(M, l)``; without an encoder f and z are both
            ``(M, 0)``.
        """
        x_t = torch.from_numpy(x)
        x_bar = torch.tensor(payload["x_bar"])  # copies: what arrives through Ray is read-only
        if self.shape.variant.bidirectional:
            return x_t, torch.tensor(payload["f"]), x_bar, torch.tensor(payload["z"])
        empty = x_t.new_zeros(len(x_t), 0)
        return x_t, empty, x_bar, empty

    def draw_epsilon(self, batch_size: int) -> torch.Tensor | None:
        """The gradient penalty's interpolation weights for one critic step (``None`` without
        a penalty), drawn from this critic's own generator."""
        if self.shape.variant.penalty != "gp":
            return None
        return torch.rand(batch_size, 1, generator=self.epsilon)

    def train(self, x: np.ndarray, payload: Arrays) -> tuple[float, float, Arrays]:
        """K critic steps on one batch, then L_EG's gradients (eq. 16-21).

        Parameters
        ----------
        x
            The monitor's batch of real windows ``(M, T, d)``.
        payload
            The generator side's message for it: ``x_bar``, ``z`` and, with an encoder, ``f``.

        Returns
        -------
        tuple
            The last critic loss, L_EG, and the feedback to send: ``g`` = dL_EG/dX_bar and,
            with an encoder, ``e`` = dL_EG/df.
        """
        x_t, f, x_bar, z = self.tensors(x, payload)
        variant = self.shape.variant
        loss = torch.zeros(())
        for _ in range(self.config.critic_iterations):
            self.optimizer.zero_grad(set_to_none=True)
            epsilon = self.draw_epsilon(len(x_t))
            loss = critic_loss(
                self.critic, x_t, f, x_bar, z, self.config.gradient_penalty, variant, epsilon
            )
            loss.backward()
            self.optimizer.step()
            if variant.penalty == "clip":
                clip_weights(self.critic.parameters())
        eg, grad_f, grad_x_bar = eg_feedback(self.critic, x_t, f, x_bar, z, variant)
        return float(loss.detach()), float(eg), feedback_arrays(grad_f, grad_x_bar, variant)

    def arrays(self) -> list[np.ndarray]:
        """The critic's state as numpy arrays."""
        return module_arrays(self.critic)

    def load_arrays(self, arrays: list[np.ndarray]) -> None:
        """Replace the critic by arrays from :meth:`arrays`."""
        load_module_arrays(arrays, self.critic)

    def memory_bytes(self) -> dict[str, int]:
        """Parameters and optimizer state held."""
        if self.bank is not None:
            optimizer = self.bank.optimizer_bytes_per_critic()
        else:
            optimizer = optimizer_bytes(self.optimizer)
        return {"parameters": parameter_bytes(self.critic), "optimizer": optimizer}
