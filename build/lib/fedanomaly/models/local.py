"""A local model's learner: the whole model, its optimizer and a monitor's windows.

"Local" models (ATTAE, later Zoom-CNN) train a complete copy at every VM monitor; copies are
averaged by sample count at the slice manager every L1 iterations and at the controller every L
iterations. A learner knows nothing of tiers: it trains, and hands out or takes in its weights
as numpy arrays.
"""

from __future__ import annotations

import numpy as np
import torch

from fedanomaly.config.schema import ModelConfig
from fedanomaly.models.attae import Attae, augmented_loss, reconstruction_loss
from fedanomaly.models.sides import (
    load_module_arrays,
    make_optimizer,
    module_arrays,
    optimizer_bytes,
    parameter_bytes,
)


def build_local_model(config: ModelConfig, metrics: int, seed: int) -> Attae:
    """The local model named by ``config.name``, its weights seeded by ``seed``.

    Parameters
    ----------
    config
        Window length T, ``scales``, ``hidden.autoencoder`` and ``latent_size``.
    metrics
        Metrics d of a window.
    seed
        Seeds torch's global generator before the weights are drawn.

    Returns
    -------
    Attae
        The untrained model (ATTAE, the only local model so far).
    """
    torch.manual_seed(seed)
    return Attae(
        metrics,
        config.window_length,
        tuple(config.scales),
        config.hidden.autoencoder,
        config.latent_size,
    )


class LocalLearner:
    """A whole model training on one monitor's (or the pooled) windows.

    Parameters
    ----------
    windows
        Training windows ``(count, T, d)``.
    config
        Hyper-parameters (batch size M, Adam).
    model_seed
        Seeds the initial weights (the same for every copy of a federation).
    batch_seed
        Seeds the batch sampling (one per monitor).
    """

    def __init__(
        self, windows: np.ndarray, config: ModelConfig, model_seed: int, batch_seed: int
    ) -> None:
        self.windows = np.ascontiguousarray(windows, dtype=np.float32)
        self.batch_size = config.batch_size
        self.model = build_local_model(config, self.windows.shape[2], model_seed)
        self.optimizer = make_optimizer(self.model.parameters(), config)
        self.rng = np.random.default_rng(batch_seed)
        self.augmentation = (config.augmentation_weight, config.augmentation_margin)
        self.anomalies: np.ndarray | None = None  # generated anomalous windows (cmsf-attae)

    @property
    def samples(self) -> int:
        """Training windows held: the FedAvg weight."""
        return len(self.windows)

    def train(self, iterations: int) -> list[float]:
        """``iterations`` optimizer steps on batches of M windows; the loss of each.

        Once it holds generated anomalies (:attr:`anomalies`), each step also draws M of them
        and minimises :func:`~fedanomaly.models.attae.augmented_loss`.
        """
        losses = []
        for _ in range(iterations):
            chosen = np.sort(self.rng.choice(self.samples, self.batch_size, replace=False))
            x = torch.from_numpy(self.windows[chosen])
            if self.anomalies is None or self.augmentation[0] == 0:
                loss = reconstruction_loss(self.model, x)
            else:
                drawn = self.rng.choice(len(self.anomalies), self.batch_size)
                anomalies = torch.from_numpy(self.anomalies[np.sort(drawn)])
                loss = augmented_loss(self.model, x, anomalies, *self.augmentation)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(float(loss.detach()))
        return losses

    def arrays(self) -> list[np.ndarray]:
        """The model's state as numpy arrays (what is averaged)."""
        return module_arrays(self.model)

    def load_arrays(self, arrays: list[np.ndarray]) -> None:
        """Replace the weights by an average; the optimizer state stays."""
        load_module_arrays(arrays, self.model)

    def memory_bytes(self) -> dict[str, int]:
        """Parameters, optimizer state and resident training data."""
        anomalies = 0 if self.anomalies is None else self.anomalies.nbytes
        return {
            "parameters": parameter_bytes(self.model),
            "optimizer": optimizer_bytes(self.optimizer),
            "data": int(self.windows.nbytes + anomalies),
        }
