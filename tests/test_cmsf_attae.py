"""``cmsf-attae``: CMSF-GAN split across the tiers, then ATTAE with generated anomalies: the
augmented loss, the ``generated`` threshold, the schema's rules and real runs in every mode
with their bytes against closed forms."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fedanomaly import simulation
from fedanomaly.config import resolve_topology
from fedanomaly.config.schema import Topology
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.data.typed_windows import TRAIN_PER_TYPE
from fedanomaly.detection.detector import local_model_scores
from fedanomaly.errors import InputError
from fedanomaly.evaluation.report import PartScores, deployable_thresholds
from fedanomaly.evaluation.thresholds import generated_threshold
from fedanomaly.models.attae import Attae, augmented_loss, reconstruction_loss
from fedanomaly.models.cmsf import ConditionalGenerator
from fedanomaly.models.local import build_local_model
from fedanomaly.runs.directory import load_checkpoint
from fedanomaly.simulation import simulate

D = 26  # metrics of synthetic-vnf
TYPES = 4  # the default injected types
CMSF_TINY = {
    "data.source.length": 1440,
    "model.name": "cmsf-attae",
    "model.generator_iterations": 2,
    "model.iterations": 2,
    "model.local_iterations": 2,
    "model.slice_iterations": 1,
    "model.batch_size": 8,
    "model.critic_iterations": 1,
    "model.latent_size": 6,
    "model.generated_per_type": 3,
    "model.hidden": {"generator": [8, 8], "discriminator": [16, 8], "autoencoder": 8},
    "placement.slices_per_node": 2,  # one Ray actor (one process) for the whole run
}


def cmsf_topology(mode: str, unlabelled: str | None = None, **settings: object) -> Topology:
    """2 slices, 3 monitors; ``unlabelled`` names a monitor without labelled anomalies."""
    topology = resolve_topology(slices=2, monitors=3, settings={**CMSF_TINY, "mode": mode,
                                                                  **settings})  # fmt: skip
    raw = topology.model_dump(mode="json")
    for slice_ in raw["slices"]:
        for monitor in slice_["monitors"]:
            monitor["labelled_anomalies"] = monitor["name"] != unlabelled
    return Topology.model_validate(raw)


def floats(*modules: torch.nn.Module) -> int:
    """Bytes of the modules' float32 state."""
    return 4 * sum(t.numel() for m in modules for t in m.state_dict().values())


def test_augmented_loss_is_the_reconstruction_plus_the_hinge_written_out():
    torch.manual_seed(0)
    model = Attae(3, 8, (2, 8), 4, 2)
    x, anomalies = torch.rand(5, 8, 3), torch.rand(4, 8, 3)
    with torch.no_grad():
        normal = ((x - model(x)) ** 2).mean(dim=2).numpy()
        odd = ((anomalies - model(anomalies)) ** 2).mean(dim=2).numpy()
    floor = 3.0 * normal.max(axis=1).mean()
    hinge = np.maximum(0.0, floor - odd.max(axis=1)).mean()
    loss = augmented_loss(model, x, anomalies, 0.5, 3.0)
    assert float(loss.detach()) == pytest.approx(normal.mean() + 0.5 * hinge, rel=1e-5)
    assert hinge > 0  # the case checked is one where the hinge acts
    # a margin no anomaly falls under leaves the plain reconstruction loss
    plain = augmented_loss(model, x, anomalies, 0.5, 1e-9)
    reconstruction = float(reconstruction_loss(model, x).detach())
    assert float(plain.detach()) == pytest.approx(reconstruction, rel=1e-6)


def test_generated_threshold_is_the_midpoint_of_validation_and_generated_peaks():
    validation = np.array([0.1, 0.2, 0.3, 0.9])
    generated = np.array([1.0, 2.0])
    # the validation labels are not used: the whole part counts as normal
    assert generated_threshold(validation, generated) == pytest.approx((0.375 + 1.5) / 2)
    scores = PartScores(
        np.zeros(4), validation, np.array([0, 0, 0, 2]), np.zeros(3), np.zeros(3), generated
    )
    evaluation = resolve_topology(slices=1, monitors=1).evaluation
    assert deployable_thresholds(scores, evaluation)["generated"] == pytest.approx(0.9375)
    without = PartScores(np.zeros(4), validation, np.zeros(4), np.zeros(3), np.zeros(3))
    assert "generated" not in deployable_thresholds(without, evaluation)


def test_a_generated_window_scores_the_mean_error_over_its_positions_and_metrics():
    topology = cmsf_topology("federated")
    monitor = prepare_monitors(topology)[0]
    length = topology.model.window_length
    model = build_local_model(topology.model, D, 0)
    generated = np.random.default_rng(0).random((5, length, D), dtype=np.float32)
    scores = local_model_scores(monitor, model, topology.model, generated)
    with torch.no_grad():
        x = torch.from_numpy(generated)
        expected = ((x - model(x)) ** 2).mean(dim=(1, 2)).numpy()
    np.testing.assert_allclose(scores.generated, expected, rtol=1e-5)
    # the parts are scored as without generated windows
    np.testing.assert_array_equal(
        scores.test, local_model_scores(monitor, model, topology.model).test
    )


@pytest.mark.parametrize(
    ("mode", "unlabelled", "settings", "message"),
    [
        ("standalone", "vm-1-1", {}, "standalone mode a monitor without labelled"),
        ("federated", "vm-2-1", {}, r"slices\[1\]: no monitor has labelled anomalies"),
        ("federated", None, {"model.generator_iterations": 3}, "not a multiple of"),
        ("federated", None, {"model.generator_iterations": 10**8},
         "generator_iterations: Input should be less than or equal to 10000000"),
        ("federated", None, {"model.name": "attae", "evaluation.threshold": "generated"},
         "generated needs model.name cmsf-attae"),
    ],
)  # fmt: skip
def test_the_schema_refuses_what_cannot_train(mode, unlabelled, settings, message):
    with pytest.raises((InputError, ValueError), match=message):
        cmsf_topology(mode, unlabelled, **settings)


def test_fedavg_of_the_part_in_training_ends_as_averaging_the_whole_model(
    ray_address, tmp_path, monkeypatch
):
    # the part a round does not train is the same everywhere, so sending and averaging only
    # the other part must end with the models (and scores) of averaging everything every round
    topology = cmsf_topology("federated", **{"model.generator_iterations": 4,
                                             "model.iterations": 4})  # fmt: skip
    phased = simulate(topology, tmp_path / "phased", ray_address)

    def every_array(_topology, _shape, initial):  # the rule of a model trained in one phase
        return lambda _round: slice(0, len(initial))

    monkeypatch.setattr(simulation, "trained_per_round", every_array)
    whole = simulate(topology, tmp_path / "whole", ray_address)
    for part in ("generator", "model"):
        state = load_checkpoint(tmp_path / "phased" / "checkpoints" / f"{part}.pt")
        reference = load_checkpoint(tmp_path / "whole" / "checkpoints" / f"{part}.pt")
        assert state.keys() == reference.keys()
        for key, value in state.items():
            torch.testing.assert_close(value, reference[key], rtol=1e-5, atol=1e-6)
    for name in ("vm-1-1", "vm-2-1"):
        scores = np.load(tmp_path / "phased" / f"scores-{name}.npz")["scores"]
        reference = np.load(tmp_path / "whole" / f"scores-{name}.npz")["scores"]
        np.testing.assert_allclose(scores, reference, rtol=1e-4, atol=1e-6)
    for direction in ("up", "down"):
        key = f"{direction}_payload_bytes"
        sent = [run["communication"]["slice_controller"][key] for run in (phased, whole)]
        assert sent[0] < sent[1]


@pytest.mark.parametrize("mode", ["federated", "distributed", "standalone", "centralized"])
def test_cmsf_attae_trains_in_each_mode_with_closed_form_bytes(ray_address, tmp_path, mode):
    unlabelled = None if mode == "standalone" else "vm-1-2"
    settings: dict[str, object] = {"evaluation.threshold": "generated"}
    if mode == "federated":  # two FedAvg rounds in each phase
        settings.update({"model.generator_iterations": 4, "model.iterations": 4})
    topology = cmsf_topology(mode, unlabelled, **settings)
    summary = simulate(topology, tmp_path / "run", ray_address)
    m = topology.model
    attae = floats(build_local_model(m, D, 0))
    generator = floats(
        ConditionalGenerator(m.latent_size, TYPES, D, m.window_length, m.hidden.generator[-1])
    )
    monitors, slices = 3, 2
    labelled = monitors - (unlabelled is not None)
    fakes = m.batch_size * (8 + 4 * m.window_length * D)  # type codes (int64) and windows
    feedback = 4 * m.batch_size * m.window_length * D
    slice_rounds = m.iterations // m.slice_iterations
    fedavg_rounds = m.training_iterations // m.local_iterations
    link = summary["communication"]["monitor_slice"]
    controller = summary["communication"]["slice_controller"]
    central = summary["communication"]["monitor_controller"]
    if mode in ("federated", "distributed"):
        # CMSF-GAN: typed fakes down and dL_G/dX' up, for the labelled monitors only ...
        assert link["up_messages"] == m.generator_iterations * labelled + monitors * slice_rounds
        assert link["up_payload_bytes"] == (
            m.generator_iterations * labelled * feedback + monitors * slice_rounds * (attae + 8)
        )
        # ... then G to every monitor, an ATTAE average before each slice round but the first
        # (the controller's last average before it is of G alone), and G with ATTAE for
        # detection
        assert link["down_payload_bytes"] == (
            m.generator_iterations * labelled * fakes
            + monitors * generator
            + monitors * (slice_rounds - 1) * attae
            + monitors * (generator + attae)
        )
    else:
        assert link["messages"] == 0
    if mode == "federated":
        # the controller averages G in the rounds of CMSF-GAN's I_G iterations and ATTAE in the
        # rounds after; down go G first, then what the last round averaged
        generator_rounds = m.generator_iterations // m.local_iterations
        attae_rounds = fedavg_rounds - generator_rounds
        assert generator_rounds >= 2 and attae_rounds >= 2
        assert controller["up_payload_bytes"] == slices * (
            generator_rounds * (generator + 8) + attae_rounds * (attae + 8)
        )
        assert controller["down_payload_bytes"] == slices * (
            (generator_rounds + 1) * generator + attae_rounds * attae
        )
    else:
        assert controller["messages"] == 0
    if mode == "centralized":  # train parts and labelled windows up, the model down
        parts = sum(vm.train.scaled.nbytes for d in prepare_monitors(topology) for vm in d.vms)
        typed = labelled * TYPES * TRAIN_PER_TYPE * (8 + 4 * m.window_length * D)
        assert central["up_payload_bytes"] == parts + typed
        assert central["down_payload_bytes"] == monitors * (generator + attae)
    else:
        assert central["messages"] == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    steps = [r for r in records if "iteration" in r]
    gan = [r for r in steps if r["iteration"] < m.generator_iterations]
    assert gan and all("critic_loss" in r and np.isfinite(r["eg_loss"]) for r in gan)
    later = [r for r in steps if r["iteration"] >= m.generator_iterations]
    assert later and all(np.isfinite(r["loss"]) for r in later)
    assert summary["iterations"] == m.generator_iterations + m.iterations
    detection = summary["detection"]
    assert detection["threshold_method"] == "generated"
    assert set(detection["by_threshold"]) >= {"generated", "validation", "oracle"}
    names = {p.stem for p in (tmp_path / "run" / "checkpoints").iterdir()}
    assert {n.split("-")[0] for n in names} == {"generator", "model"}
    state = load_checkpoint(next((tmp_path / "run" / "checkpoints").glob("generator*.pt")))
    assert 4 * sum(t.numel() for t in state.values()) == generator
