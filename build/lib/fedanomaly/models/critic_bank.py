"""The critics of co-located monitors, trained as one batched computation.

Monitors that share a Ray actor (``placement.monitors_per_node`` or ``slices_per_node``) each
keep their own critic D_n, optimizer state and epsilon draws; a :class:`CriticBank` stacks
their parameters along a new leading dimension (:func:`torch.func.stack_module_state`) and
evaluates all critics at once with :func:`torch.func.vmap` over
:func:`torch.func.functional_call`, so the cost of an iteration grows with the work, not with
the number of Python-level critic calls.

Why this is the same training as one critic at a time: the sum of the critics' losses has,
with respect to each critic's parameters, that critic's own gradient; Adam is element-wise and
every critic takes the same number of steps, so one Adam over the stacked tensors is one Adam
per critic (so are AdamW, RMSprop and SGD with momentum, the other ``model.optimizer``
choices); each critic draws its gradient-penalty epsilon from its own generator, as alone.
Only floating-point rounding of the batched matrix products differs.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from fedanomaly.models.biwgan import critic_loss, eg_feedback
from fedanomaly.models.sides import (
    Arrays,
    CriticSide,
    clip_weights,
    feedback_arrays,
    make_optimizer,
    optimizer_bytes,
)

CriticOutcome = tuple[float, float, Arrays]


class CriticBank:
    """Critic sides of one process stacked into one batched critic.

    After construction each side's critic module reads and writes its own slice of the stacked
    parameters, so what a side reports (its arrays, checkpoints, scores) is what the bank trained.

    Parameters
    ----------
    sides
        The critic sides to stack; all of the same shape and config.
    """

    def __init__(self, sides: list[CriticSide]) -> None:
        first = sides[0]
        self.sides = sides
        self.shape, self.config = first.shape, first.config
        params, buffers = torch.func.stack_module_state([side.critic for side in sides])
        self.params, self.buffers = params, buffers
        for index, side in enumerate(sides):
            for name, tensor in side.critic.named_parameters():
                tensor.data = params[name].data[index]
            for name, tensor in side.critic.named_buffers():
                tensor.data = buffers[name].data[index]
            side.bank = self
        self.template = copy.deepcopy(first.critic).to("meta")
        self.optimizer = make_optimizer(params.values(), self.config)
        self._batched = torch.func.vmap(self._one)

    def __len__(self) -> int:
        return len(self.sides)

    def _one(
        self,
        params: dict[str, torch.Tensor],
        buffers: dict[str, torch.Tensor],
        x: torch.Tensor,
        code: torch.Tensor,
    ) -> torch.Tensor:
        return torch.func.functional_call(self.template, (params, buffers), (x, code))

    def critic(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """Every critic on its own batch: ``x`` ``(N, M, T, d)``, ``code`` ``(N, M, l)``.

        Parameters
        ----------
        x
            One batch of windows per critic ``(N, M, T, d)``, in the order of :attr:`sides`.
        code
            Their latent codes ``(N, M, l)``; ``l`` is 0 without an encoder.

        Returns
        -------
        torch.Tensor
            The raw critic values ``(N, M)``.
        """
        return self._batched(self.params, self.buffers, x, code)

    def train(self, batches: list[np.ndarray], payloads: list[Arrays]) -> list[CriticOutcome]:
        """K critic steps of every critic on its batch, then each one's L_EG feedback.

        Parameters
        ----------
        batches
            Each critic's real windows ``(M, T, d)``, in the order of :attr:`sides`; all of
            one size M, as they are stacked.
        payloads
            Each critic's message from the generator side, in the same order: ``x_bar``, ``z``
            and, with an encoder, ``f``.

        Returns
        -------
        list
            Per critic, in order: the last critic loss, L_EG and the feedback arrays, as
            :meth:`CriticSide.train` returns them.

        Raises
        ------
        ValueError
            If ``batches`` or ``payloads`` does not hold one entry per critic.
        """
        parts = [
            side.tensors(x, payload)
            for side, x, payload in zip(self.sides, batches, payloads, strict=True)
        ]
        x, f, x_bar, z = (torch.stack(tensors) for tensors in zip(*parts, strict=True))
        variant = self.shape.variant
        losses = torch.zeros(len(self))
        for _ in range(self.config.critic_iterations):
            self.optimizer.zero_grad(set_to_none=True)
            epsilon = None
            if variant.penalty == "gp":
                epsilon = torch.stack([side.draw_epsilon(x.shape[1]) for side in self.sides])
            losses = critic_loss(
                self.critic, x, f, x_bar, z, self.config.gradient_penalty, variant, epsilon
            )
            losses.sum().backward()
            self.optimizer.step()
            if variant.penalty == "clip":
                clip_weights(self.params.values())
        eg, grad_f, grad_x_bar = eg_feedback(self.critic, x, f, x_bar, z, variant)
        losses = losses.detach()
        return [
            (float(losses[n]), float(eg[n]), feedback_arrays(grad_f[n], grad_x_bar[n], variant))
            for n in range(len(self))
        ]

    def optimizer_bytes_per_critic(self) -> int:
        """Each critic's share of the stacked optimizer state (the same for every critic)."""
        return optimizer_bytes(self.optimizer) // len(self)
