"""How good generated anomalous windows are, measured with held-out classifiers.

- **Type accuracy**: a random forest trained on real injected windows (flattened) and their
  types classifies the generated windows; the share given their requested type. Its accuracy
  on held-out real windows is reported beside it as the ceiling.
- **Discriminative score**: a random forest trained to tell generated from real injected
  windows (balanced, half of each held out); its held-out accuracy. 0.5 means it cannot tell
  them apart (ideal), 1.0 that every generated window is recognisable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

TREES = 200


@dataclass(frozen=True)
class GenerationQuality:
    """Type accuracy of generated windows, its real-data ceiling, and the discriminative
    score."""

    type_accuracy: float
    real_type_accuracy: float
    discriminative_score: float
    type_accuracy_by_type: dict[str, float]


def forest(seed: int) -> RandomForestClassifier:
    """The classifier both measures use."""
    return RandomForestClassifier(n_estimators=TREES, random_state=seed, n_jobs=1)


def flat(windows: np.ndarray) -> np.ndarray:
    """Windows ``(n, T, d)`` as rows ``(n, T * d)``."""
    return windows.reshape(len(windows), -1)


def generation_quality(
    real: np.ndarray,
    real_codes: np.ndarray,
    generated: np.ndarray,
    generated_codes: np.ndarray,
    type_names: list[str],
    seed: int = 0,
) -> GenerationQuality:
    """Measure generated windows against real injected ones.

    Parameters
    ----------
    real, real_codes
        Real windows ``(n, T, d)`` with an injected anomaly each, and their type indices.
    generated, generated_codes
        Generated windows and the type each was requested as.
    type_names
        Name of each type index.
    seed
        Seeds the splits and the forests.
    """
    train_x, test_x, train_y, test_y = train_test_split(
        flat(real), real_codes, test_size=0.3, random_state=seed, stratify=real_codes
    )
    types = forest(seed).fit(train_x, train_y)
    real_accuracy = float((types.predict(test_x) == test_y).mean())
    hits = types.predict(flat(generated)) == generated_codes
    by_type = {
        type_names[code]: float(hits[generated_codes == code].mean())
        for code in np.unique(generated_codes)
    }
    count = min(len(real), len(generated))
    rng = np.random.default_rng(seed)
    both = np.concatenate([
        flat(real[rng.choice(len(real), count, replace=False)]),
        flat(generated[rng.choice(len(generated), count, replace=False)]),
    ])  # fmt: skip
    source = np.repeat([0, 1], count)
    train_x, test_x, train_y, test_y = train_test_split(
        both, source, test_size=0.5, random_state=seed, stratify=source
    )
    judge = forest(seed).fit(train_x, train_y)
    return GenerationQuality(
        type_accuracy=float(hits.mean()),
        real_type_accuracy=real_accuracy,
        discriminative_score=float((judge.predict(test_x) == test_y).mean()),
        type_accuracy_by_type=by_type,
    )
