"""Co-located critics trained as one batch: the same training as one critic at a time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fedanomaly.config.schema import ModelConfig
from fedanomaly.models.critic_bank import CriticBank
from fedanomaly.models.sides import CriticSide, GanShape, GeneratorSide

D, CRITICS = 5, 4


def config(name: str, optimizer: str = "adam") -> ModelConfig:
    return ModelConfig(
        name=name, optimizer=optimizer, batch_size=6, window_length=8, latent_size=3,
        critic_iterations=3,
        hidden={"generator": [6, 6], "encoder": [6, 6], "discriminator": [12, 7]},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "optimizer"),
    [("biwgan-gp", "adam"), ("bigan", "adam"), ("wgan-gp", "adam"), ("wgan", "adam"),
     ("gan", "adam"), ("biwgan-gp", "adamw"), ("biwgan-gp", "rmsprop"), ("biwgan-gp", "sgd")],
)  # fmt: skip
def test_a_bank_trains_like_its_critics_one_at_a_time(name, optimizer):
    """Losses, feedback and weights after three iterations equal those of independent critics
    with the same seeds (each with its own optimizer and epsilon draws)."""
    cfg = config(name, optimizer)
    shape = GanShape.from_config(cfg, D)
    alone = [CriticSide(shape, cfg, seed=k) for k in range(CRITICS)]
    bank = CriticBank([CriticSide(shape, cfg, seed=k) for k in range(CRITICS)])
    generator = GeneratorSide(shape, cfg, seed=0)
    rng = np.random.default_rng(1)
    for _ in range(3):
        batches = [rng.random((6, 8, D), dtype=np.float32) for _ in range(CRITICS)]
        payloads = generator.propose(batches)
        expected = [side.train(x, p) for side, x, p in zip(alone, batches, payloads, strict=True)]
        got = bank.train(batches, payloads)
        for (loss, eg, feedback), (b_loss, b_eg, b_feedback) in zip(expected, got, strict=True):
            assert b_loss == pytest.approx(loss, rel=1e-4, abs=1e-6)
            assert b_eg == pytest.approx(eg, rel=1e-4, abs=1e-6)
            assert feedback.keys() == b_feedback.keys()
            for key in feedback:
                np.testing.assert_allclose(b_feedback[key], feedback[key], rtol=1e-4, atol=1e-7)
    for k, (side, banked) in enumerate(zip(alone, bank.sides, strict=True)):
        for p, q in zip(side.critic.parameters(), banked.critic.parameters(), strict=True):
            torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6)
        initial = CriticSide(shape, cfg, seed=k).critic.layers[0].weight
        assert not torch.equal(banked.critic.layers[0].weight, initial)  # it did train


def test_each_critic_module_reads_and_writes_its_slice_of_the_stack():
    cfg = config("biwgan-gp")
    shape = GanShape.from_config(cfg, D)
    sides = [CriticSide(shape, cfg, seed=k) for k in range(CRITICS)]
    initial = [side.arrays() for side in sides]
    bank = CriticBank(sides)
    for side, arrays in zip(sides, initial, strict=True):  # stacking keeps every critic's weights
        for got, want in zip(side.arrays(), arrays, strict=True):
            np.testing.assert_array_equal(got, want)
    sides[2].load_arrays(initial[0])  # loading into one critic changes its slice only
    first_weight = bank.params["layers.0.weight"]
    torch.testing.assert_close(first_weight[2], first_weight[0])
    assert not torch.equal(first_weight[1], first_weight[0])
    # each critic's share of the stacked Adam state: two moments per parameter, as alone
    rng = np.random.default_rng(0)
    batches = [rng.random((6, 8, D), dtype=np.float32) for _ in range(CRITICS)]
    bank.train(batches, GeneratorSide(shape, cfg, seed=0).propose(batches))
    parameter_bytes = sum(p.nbytes for p in sides[0].critic.parameters())
    memory = sides[0].memory_bytes()
    assert memory["parameters"] == parameter_bytes
    assert 2 * parameter_bytes <= memory["optimizer"] <= 2 * parameter_bytes + 64


@pytest.mark.parametrize(
    ("optimizer", "kind"),
    [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
     ("rmsprop", torch.optim.RMSprop), ("sgd", torch.optim.SGD)],
)  # fmt: skip
def test_the_configured_optimizer_trains_every_part(optimizer, kind):
    cfg = config("biwgan-gp", optimizer)
    shape = GanShape.from_config(cfg, D)
    generator, critic = GeneratorSide(shape, cfg, seed=0), CriticSide(shape, cfg, seed=0)
    assert all(type(o) is kind for o in [*generator.optimizers, critic.optimizer])
    assert type(CriticBank([critic, CriticSide(shape, cfg, seed=1)]).optimizer) is kind
    group = critic.optimizer.param_groups[0]
    assert group["lr"] == cfg.learning_rate
    if optimizer == "sgd":
        assert group["momentum"] == cfg.betas[0]
    if optimizer == "rmsprop":
        assert group["alpha"] == cfg.betas[1]
