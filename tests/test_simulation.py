"""Real simulations on a shared Ray cluster: metered bytes against closed forms, the four modes,
determinism, divergence and bad input."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, f1_score

from fedanomaly.config import resolve_topology
from fedanomaly.config.schema import Topology
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.detection.detector import local_model_scores
from fedanomaly.errors import InputError
from fedanomaly.evaluation.ranges import volume_under_surface
from fedanomaly.models.biwgan import Critic, Encoder, Generator
from fedanomaly.models.local import build_local_model
from fedanomaly.models.sides import GanShape, GeneratorSide
from fedanomaly.runs.directory import load_checkpoint
from fedanomaly.simulation import RunFailedError, failure_reason, initial_model, simulate
from fedanomaly.tiers.monitor import (
    CoLocatedMonitors,
    DivergenceError,
    Monitor,
    check_finite_weights,
)
from fedanomaly.tiers.node import TierNode
from fedanomaly.tiers.slice_manager import LocalMonitors, SliceManager

D = 26  # metrics of synthetic-vnf
TINY = {
    "data.source.length": 1440,
    "model.iterations": 4,
    "model.local_iterations": 2,
    "model.batch_size": 8,
    "model.critic_iterations": 1,
    "model.latent_size": 6,
    "model.hidden": {"generator": [8, 8], "encoder": [8, 8], "discriminator": [16, 8]},
    # one Ray actor for both slices and their monitors (one Flower worker too): a run starts
    # two processes instead of six; tests of the spread layout ask for it (PLACEMENTS)
    "placement.slices_per_node": 2,
}


def tiny(mode: str = "federated", **settings: object) -> Topology:
    return resolve_topology(slices=2, monitors=3, settings={**TINY, "mode": mode, **settings})


def best_f1(labels: np.ndarray, scores: np.ndarray) -> float:
    """The best F1 over every cut ``scores >= c``, counted out from the sorted scores."""
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], labels[order].astype(float)
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]  # alarm a tied group whole
    alarms = np.arange(1, len(scores) + 1)[last_of_tie]
    caught = np.cumsum(hits)[last_of_tie]
    return float(np.max(2 * caught / (alarms + hits.sum())))


def trained_iterations(run: Path) -> dict[str, list[int]]:
    """The iterations ``metrics.jsonl`` holds records of, per training group."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    groups = sorted({r["group"] for r in records if "iteration" in r})
    return {g: sorted(r["iteration"] for r in records if r.get("group") == g) for g in groups}


def npy_framing(name: str, array: np.ndarray) -> int:
    """Framing of one array, computed with numpy's own writer: name length, name, npy header."""
    stream = io.BytesIO()
    np.save(stream, array)
    return 2 + len(name.encode()) + len(stream.getvalue()) - array.nbytes


def message(**arrays: np.ndarray) -> tuple[int, int]:
    """(payload, framing) of a message with these arrays."""
    payload = sum(a.nbytes for a in arrays.values())
    return payload, 8 + sum(npy_framing(n, a) for n, a in arrays.items())


def parameters(topology: Topology) -> tuple[int, int]:
    """Float counts of G + E and of one critic, built independently of the run."""
    m = topology.model
    g = Generator(m.latent_size, D, m.window_length, m.hidden.generator)
    e = Encoder(m.latent_size, D, m.hidden.encoder)
    c = Critic(m.latent_size, D, m.window_length, m.hidden.discriminator)
    count = lambda *mods: sum(p.numel() for mod in mods for p in mod.parameters())  # noqa: E731
    return count(g, e), count(c)


def zeros(*shape: int) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32)


def exchange_messages(topology: Topology) -> tuple[tuple[int, int], ...]:
    """(payload, framing) bytes of a monitor's float32 messages, built here as arrays: up per
    iteration (feedback and next batch), down per iteration (f, z, X_bar), its first batch."""
    m = topology.model
    batch, length, latent = m.batch_size, m.window_length, m.latent_size
    up = message(g=zeros(batch, length, D), e=zeros(batch, latent), x=zeros(batch, length, D))
    down = message(z=zeros(batch, latent), x_bar=zeros(batch, length, D), f=zeros(batch, latent))
    return up, down, message(x=zeros(batch, length, D))


LINKS = {
    "links.monitor_slice": {"bandwidth_mbps": 50.0, "latency_ms": 40.0},
    "links.slice_controller": {"bandwidth_mbps": 8.0, "latency_ms": 100.0, "jitter_ms": 20.0,
                               "loss": 0.2},
}  # fmt: skip


def seconds(bytes_: int, bandwidth_mbps: float, latency_ms: float, jitter_ms=0.0, loss=0.0):
    """Expected transfer time of one message, written out."""
    return (latency_ms / 1000 + jitter_ms / 2000 + 8 * bytes_ / (bandwidth_mbps * 1e6)) / (1 - loss)


PLACEMENTS = [
    # the default layout: a node per slice manager, the monitors of a slice on nodes of their own
    {"placement.slices_per_node": None},
    {"placement.slices_per_node": 2},  # both slices and all their monitors on one node
]


@pytest.mark.parametrize("placement", PLACEMENTS, ids=["spread", "one-node"])
def test_federated_bytes_match_the_closed_form(ray_address, tmp_path, placement):
    """Placement changes processes, not messages: the same bytes either way."""
    topology = tiny(**LINKS, **placement)
    summary = simulate(topology, tmp_path / "run", ray_address)
    m = topology.model
    batch, length, latent, monitors, slices = m.batch_size, m.window_length, m.latent_size, 3, 2
    iterations, rounds = m.iterations, m.iterations // m.local_iterations
    up, down, first = exchange_messages(topology)
    assert up[0] == 4 * (2 * batch * length * D + batch * latent)
    assert down[0] == 4 * (2 * batch * latent + batch * length * D)

    # per iteration, in metrics.jsonl: slice-1 has 2 monitors, slice-2 has 1
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    records = [r for r in lines if "iteration" in r]
    assert len(records) == iterations * slices
    for record in records:
        members = 2 if record["group"] == "slice-1" else 1
        assert record["up_bytes"] == members * sum(up)
        assert record["down_bytes"] == members * sum(down)
    # and before them, per slice, its monitors' first batches
    opening = {r["first_batches"]: r for r in lines if "first_batches" in r}
    assert {g: (r["up_bytes"], r["up_messages"]) for g, r in opening.items()} == {
        "slice-1": (2 * sum(first), 2),
        "slice-2": (sum(first), 1),
    }

    # per run, in summary.json, with the first batches and the deployment of G and E for detection
    model_count, _ = parameters(topology)
    model_message = message(**{f"p{k}": a for k, a in enumerate(final_arrays(tmp_path / "run"))})
    assert model_message[0] == 4 * model_count
    link = summary["communication"]["monitor_slice"]
    assert link["up_payload_bytes"] == monitors * (first[0] + iterations * up[0])
    assert link["up_framing_bytes"] == monitors * (first[1] + iterations * up[1])
    assert link["down_payload_bytes"] == monitors * (iterations * down[0] + model_message[0])
    assert link["messages"] == monitors * (1 + 2 * iterations + 1)

    # per FedAvg round: G and E (and the sample count) up, G and E down, plus the final broadcast
    controller = summary["communication"]["slice_controller"]
    assert controller["up_payload_bytes"] == rounds * slices * (4 * model_count + 8)
    assert controller["down_payload_bytes"] == (rounds + 1) * slices * 4 * model_count
    assert summary["communication"]["monitor_controller"]["messages"] == 0
    assert summary["fedavg_rounds"] == rounds
    model_arrays = {f"p{k}": a for k, a in enumerate(final_arrays(tmp_path / "run"))}
    reply = message(**model_arrays, num_examples=np.array(0, dtype=np.int64))
    per_round = [r for r in lines if "round" in r]
    assert [r["round"] for r in per_round] == list(range(1, rounds + 1))
    for record in per_round:
        assert record["up_bytes"] == slices * sum(reply)
        assert record["down_bytes"] == slices * sum(model_message)

    # the simulated clock: per iteration one message down and one up (monitors in parallel),
    # per round one model up and one down (slices in parallel)
    per_iteration = seconds(sum(down), 50.0, 40.0) + seconds(sum(up), 50.0, 40.0)
    per_round = seconds(sum(reply), 8.0, 100.0, 20.0, 0.2)
    per_round += seconds(sum(model_message), 8.0, 100.0, 20.0, 0.2)
    expected = seconds(sum(first), 50.0, 40.0) + iterations * per_iteration + rounds * per_round
    simulated = summary["simulated"]
    assert simulated["transfer_seconds"] == pytest.approx(expected, rel=1e-5)
    assert summary["simulated_seconds"] == pytest.approx(
        simulated["transfer_seconds"] + simulated["compute_seconds"], rel=1e-5
    )
    assert 0 < simulated["compute_seconds"] < summary["training_seconds"]
    # per link: every message one after the other
    assert link["transfer_seconds"] == pytest.approx(
        link["messages"] * 0.040 + 8 * (link["up_bytes"] + link["down_bytes"]) / 50e6, rel=1e-5
    )
    assert controller["transfer_seconds"] == pytest.approx(
        (controller["messages"] * 0.110 + 8 * (controller["up_bytes"] + controller["down_bytes"])
         / 8e6) / 0.8, rel=1e-5
    )  # fmt: skip


def final_arrays(run) -> list[np.ndarray]:
    """G's then E's parameters from the run's checkpoints."""
    states = [load_checkpoint(run / "checkpoints" / f"{n}.pt") for n in ("generator", "encoder")]
    return [t.numpy() for state in states for t in state.values()]


def test_a_variant_without_an_encoder_sends_and_averages_g_alone(ray_address, tmp_path):
    """wgan-gp has no E: the FedAvg rounds and the model each monitor detects with carry G's
    parameters only, and no encoder checkpoint is written."""
    topology = tiny(**{"model.name": "wgan-gp"})
    summary = simulate(topology, tmp_path / "run", ray_address)
    m = topology.model
    g = Generator(m.latent_size, D, m.window_length, m.hidden.generator)
    generator_values = sum(p.numel() for p in g.parameters())
    rounds, slices, monitors = m.iterations // m.local_iterations, 2, 3
    controller = summary["communication"]["slice_controller"]
    assert controller["up_payload_bytes"] == rounds * slices * (4 * generator_values + 8)
    assert controller["down_payload_bytes"] == (rounds + 1) * slices * 4 * generator_values
    down = 4 * m.batch_size * m.window_length * D  # X_bar alone: its critics read no z
    link = summary["communication"]["monitor_slice"]
    deployed = link["down_payload_bytes"] - monitors * m.iterations * down
    assert deployed == monitors * 4 * generator_values
    assert not (tmp_path / "run" / "checkpoints" / "encoder.pt").exists()
    assert (tmp_path / "run" / "checkpoints" / "generator.pt").exists()
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    iterations = [line for line in lines if "iteration" in line]
    assert iterations and not any("reconstruction" in line for line in iterations)  # no cycle


@pytest.mark.parametrize(
    ("mode", "links"),
    [
        ("federated", {"monitor_slice", "slice_controller"}),
        ("distributed", {"monitor_slice"}),
        ("standalone", set()),
        ("centralized", {"monitor_controller"}),
    ],
)
def test_each_mode_uses_its_links_and_writes_a_run_directory(ray_address, tmp_path, mode, links):
    topology = tiny(mode)
    run = tmp_path / "run"
    summary = simulate(topology, run, ray_address)
    used = {link for link, entry in summary["communication"].items() if entry["messages"]}
    assert used == links
    assert summary["mode"] == mode and summary["topology"] == {
        "name": topology.name,
        "slices": 2,
        "monitors": 3,
    }
    for tier in ("monitor", "slice_manager", "controller"):
        assert tier in summary["compute_seconds"] and tier in summary["peak_memory_bytes"]
    detection = summary["detection"]
    overall = detection["overall"]
    assert set(overall) == {
        "anomalous_share", "precision", "recall", "f1", "accuracy", "auc_pr", "auc_roc",
        "vus_pr", "vus_roc", "event_f1", "f1_oracle", "f1_point_adjusted_legacy",
    }  # fmt: skip
    assert all(0.0 <= v <= 1.0 for v in overall.values())
    assert set(detection["controls"]) == {"random", "untrained", "zscore", "pca", "iforest"}
    for name, row in detection["controls"].items():
        assert set(row) == {"vus_pr", "vus_roc", "auc_pr", "auc_roc", "f1"}
        assert detection["beats_controls"][name] == (overall["vus_pr"] > row["vus_pr"])
    assert set(detection["by_threshold"]) == {"validation", "pot", "sigma", "adaptive", "oracle"}
    assert detection["by_threshold"]["validation"]["f1"] == pytest.approx(overall["f1"])
    recomputed, shares = [], []
    counted = ("normal_steps", "normal_steps_beyond", "false_alarms", "false_alarms_beyond")
    unseen = dict.fromkeys(counted, 0)
    raw = {data.name: data for data in prepare_monitors(topology)}
    for name, figures in detection["per_monitor"].items():
        saved = np.load(run / f"scores-{name}.npz")
        # a step is beyond the training range where a raw value leaves the train part's range
        train, test = raw[name].vms[0].train.raw, raw[name].vms[0].test.raw
        beyond = ((test < train.min(axis=0)) | (test > train.max(axis=0))).any(axis=1)
        np.testing.assert_array_equal(saved["beyond_range"], beyond)
        normal, alarm = saved["labels"] == 0, saved["preds"] == 1
        unseen["normal_steps"] += int(normal.sum())
        unseen["normal_steps_beyond"] += int((normal & beyond).sum())
        unseen["false_alarms"] += int((normal & alarm).sum())
        unseen["false_alarms_beyond"] += int((normal & alarm & beyond).sum())
        np.testing.assert_array_equal(saved["preds"], saved["scores"] > figures["threshold"])
        np.testing.assert_array_equal(saved["preds"], saved["scores"] > saved["threshold"])
        assert f1_score(saved["labels"], saved["preds"]) == pytest.approx(figures["f1"])
        assert average_precision_score(saved["labels"], saved["scores"]) == pytest.approx(
            figures["auc_pr"]
        )
        # the saved arrays are enough for every metric: each method's thresholds, the VMs'
        # lengths and the VUS window
        for method in ("validation", "pot", "sigma", "adaptive"):
            preds = saved["scores"] > saved[f"threshold_{method}"]
            assert f1_score(saved["labels"], preds) == pytest.approx(
                figures["by_threshold"][method]["f1"]
            )
        assert saved["lengths"].tolist() == [len(saved["scores"])]
        volume = volume_under_surface(
            saved["labels"], saved["scores"], int(saved["vus_window"]),
            lengths=tuple(saved["lengths"]),
        )  # fmt: skip
        assert volume.pr == pytest.approx(figures["vus_pr"])
        assert best_f1(saved["labels"], saved["scores"]) == pytest.approx(figures["f1_oracle"])
        recomputed.append(f1_score(saved["labels"], saved["preds"]))
        shares.append(saved["labels"].mean())
    assert overall["f1"] == pytest.approx(np.mean(recomputed))
    for name, row in detection["controls"].items():  # the means of the monitors' own rows
        for key in ("vus_pr", "auc_pr", "f1"):
            own = [figures["controls"][name][key] for figures in detection["per_monitor"].values()]
            assert row[key] == pytest.approx(np.mean(own))
    assert overall["anomalous_share"] == pytest.approx(np.mean(shares))
    assert detection["beyond_train_range"] == {
        **unseen,
        "normal_share": pytest.approx(unseen["normal_steps_beyond"] / unseen["normal_steps"]),
        "false_alarm_share": pytest.approx(unseen["false_alarms_beyond"] / unseen["false_alarms"])
        if unseen["false_alarms"]
        else None,
    }
    assert set(summary["detection"]["by_type"]) <= {
        "cpu_endless_loop", "memory_leak", "disk_io_fault", "network_congestion"
    }  # fmt: skip
    assert json.loads((run / "summary.json").read_text()) == summary
    assert (run / "config.yaml").exists() and (run / "losses.png").stat().st_size > 10_000
    checkpoints = {p.name for p in (run / "checkpoints").iterdir()}
    shared = mode in ("federated", "centralized")
    assert ("generator.pt" in checkpoints) == shared
    for path in (run / "checkpoints").iterdir():
        assert all(isinstance(t, torch.Tensor) for t in load_checkpoint(path).values())
    scores = np.load(run / "scores-vm-1-1.npz")
    assert set(scores.files) == {
        "scores", "preds", "labels", "types", "beyond_range", "threshold", "lengths", "vus_window",
        *(f"threshold_{method}" for method in ("validation", "pot", "sigma", "adaptive")),
    }  # fmt: skip
    assert len(scores["scores"]) == len(scores["labels"]) == 288  # the test part of 1,440 steps
    if mode == "centralized":
        # every monitor's train part goes up once; G, E and D come back to each monitor
        model_count, critic_count = parameters(topology)
        centralized = summary["communication"]["monitor_controller"]
        assert centralized["up_payload_bytes"] == 3 * 864 * D * 4
        assert centralized["down_payload_bytes"] == 3 * 4 * (model_count + critic_count)
        # metrics.jsonl opens with each monitor's upload: one message of its train part
        lines = [json.loads(line) for line in (run / "metrics.jsonl").open()]
        uploads = [line for line in lines if "upload" in line]
        assert lines[: len(uploads)] == uploads
        train = raw["vm-1-1"].vms[0].train.scaled
        assert uploads == [
            {"upload": name, "link": "monitor_controller", "up_bytes": sum(message(train_0=train)),
             "down_bytes": 0, "up_messages": 1, "down_messages": 0}
            for name in ("vm-1-1", "vm-1-2", "vm-2-1")
        ]  # fmt: skip
        assert sum(u["up_bytes"] for u in uploads) == centralized["up_bytes"]
    if mode == "standalone":
        assert summary["peak_memory_bytes"]["slice_manager"] == 0


def test_same_seed_same_numbers(ray_address, tmp_path):
    runs = [
        simulate(tiny(seed=seed), tmp_path / f"run{k}", ray_address)
        for k, seed in enumerate((3, 3, 4))
    ]
    first, second, other = (
        np.load(tmp_path / f"run{k}" / "scores-vm-2-1.npz")["scores"] for k in range(3)
    )
    np.testing.assert_array_equal(first, second)
    assert runs[0]["detection"] == runs[1]["detection"]
    assert runs[0]["communication"] == runs[1]["communication"]
    assert runs[0]["simulated"]["transfer_seconds"] == runs[1]["simulated"]["transfer_seconds"]

    def numbers(k: int) -> list[dict]:
        """metrics.jsonl without the measured compute times."""
        lines = [json.loads(line) for line in (tmp_path / f"run{k}" / "metrics.jsonl").open()]
        return [{key: v for key, v in line.items() if key != "compute_seconds"} for line in lines]

    assert numbers(0) == numbers(1)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("mode", ["distributed", "federated"])
def test_a_diverging_monitor_stops_the_run_and_keeps_the_directory(ray_address, tmp_path, mode):
    # a learning rate of 1e8 leaves the first iteration's losses finite and ruins the second's
    topology = tiny(mode, **{"model.learning_rate": 1e8, "model.iterations": 20})
    with pytest.raises(
        RunFailedError, match=r"monitor vm-\d-\d: critic loss \S+, EG loss \S+ at iteration \d+"
    ) as failure:
        simulate(topology, tmp_path / "run", ray_address)
    assert (tmp_path / "run" / "config.yaml").exists()
    # run.log, where `fedanomaly report` sends the user, says why the run stopped
    last = (tmp_path / "run" / "run.log").read_text().splitlines()[-1]
    assert last == f"fedanomaly: run stopped: {failure.value}"
    # the failed round's records are kept: the failing monitor's slice has every iteration
    # before the failing one, and each slice its iterations from the first on
    found = re.search(r"vm-(\d)-\d: .* at iteration (\d+)", str(failure.value))
    failed_slice, failed_at = f"slice-{found.group(1)}", int(found.group(2))
    done = trained_iterations(tmp_path / "run")
    assert failed_at > 0
    assert done[failed_slice] == list(range(failed_at))
    assert all(its == list(range(len(its))) for its in done.values())


def test_a_batch_larger_than_a_monitors_data_is_refused_before_training(tmp_path):
    topology = tiny(**{"model.batch_size": 5000})
    model = topology.model
    train_steps = int(TINY["data.source.length"] * 0.6)  # the default 60 % train part
    windows = (train_steps - model.window_length) // model.window_stride + 1
    with pytest.raises(
        InputError, match=rf"model.batch_size \(M=5000\) is larger than monitor vm-1-1's {windows}"
    ):
        simulate(topology, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_unreachable_ray_address_is_a_clear_error(tmp_path):
    with pytest.raises(
        InputError, match=r"--ray-address: cannot reach a Ray cluster at 127.0.0.1:9"
    ):
        simulate(tiny(), tmp_path / "run", "127.0.0.1:9")


def test_auto_joins_only_a_cluster_ray_start_left_and_checks_it(tmp_path, monkeypatch):
    """``auto`` is RAY_ADDRESS, else the address the last ``ray start`` left in Ray's
    temporary folder (this test session's own cluster, running, is not one: it is never
    joined unasked); a stale address fails fast (Ray would wait for minutes), nothing written."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # Ray's temporary folder: $RAY_TMPDIR/ray
    with pytest.raises(InputError, match=r"auto: no Ray cluster started with `ray start`"):
        simulate(tiny(), tmp_path / "run", "auto")
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text("127.0.0.1:9")
    stale = r"cannot reach a Ray cluster at 127.0.0.1:9: .* \(what 'auto' found"
    with pytest.raises(InputError, match=stale):
        simulate(tiny(), tmp_path / "run", "auto")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    (tmp_path / "ray" / "ray_current_cluster").unlink()
    with pytest.raises(InputError, match=stale):
        simulate(tiny(), tmp_path / "run", "auto")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("placement", PLACEMENTS, ids=["spread", "one-node"])
def test_fedavg_weights_slices_by_their_training_windows(ray_address, tmp_path, placement):
    """The global model equals an in-process replay of the same rounds averaged with weights Q_s
    (slice-1 holds two monitors, slice-2 one), and differs from a plain mean."""
    topology = tiny(**placement)
    simulate(topology, tmp_path / "run", ray_address)
    federated = final_arrays(tmp_path / "run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        weighted, plain = (replay_fedavg(topology, weighted) for weighted in (True, False))
    finally:
        torch.set_num_threads(threads)
    for got, want in zip(federated, weighted, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert max(np.abs(g - p).max() for g, p in zip(federated, plain, strict=True)) > 1e-4


def replay_fedavg(topology: Topology, weighted: bool) -> list[np.ndarray]:
    """The federated rounds in this process: slices train L iterations, then G and E averaged."""
    model = topology.model
    monitors = prepare_monitors(topology)
    shape = GanShape.from_config(model, D)
    managers, sizes = [], []
    for slice_ in topology.slices:
        local = [
            Monitor(m.name, m.windows("train", model.window_length, model.window_stride),
                    shape, model, topology.seed, None)
            for m in monitors if m.slice_name == slice_.name
        ]  # fmt: skip
        managers.append(
            SliceManager(
                slice_.name,
                shape,
                model,
                topology.seed,
                LocalMonitors(CoLocatedMonitors(local, batched=True)),
                None,
            )
        )
        sizes.append(sum(len(m.windows) for m in local) if weighted else 1)
    average: list[np.ndarray] = []
    for start in range(0, model.iterations, model.local_iterations):
        for manager in managers:
            manager.train(start, model.local_iterations)
        states = [manager.side.arrays() for manager in managers]
        average = [
            sum(w * state[k] for w, state in zip(sizes, states, strict=True)) / sum(sizes)
            for k in range(len(states[0]))
        ]
        for manager in managers:
            manager.side.load_arrays(average)
    return average


def test_monitors_named_in_another_order_step_as_the_same_group():
    """A node's co-located monitors are one group whatever order their names come in: their
    critics are stacked into one bank only, and each result goes back to its own name."""
    topology = tiny()
    model = topology.model
    shape = GanShape.from_config(model, D)
    names = [m.name for m in prepare_monitors(topology)][:2]
    results = []
    for order in (names, names[::-1]):
        node = TierNode(
            shape, model, topology.seed, True, topology.payload, topology.data.injection,
            frozenset(),
        )  # fmt: skip
        node.add_monitors(prepare_monitors(topology, set(names)), None)
        batches = dict(zip(names, (b for b, _ in node.first_batches(names)), strict=True))
        side = GeneratorSide(shape, model, topology.seed)
        payloads = dict(zip(names, side.propose([batches[n] for n in names]), strict=True))
        results.append(node.step(0, {name: payloads[name] for name in order}))
        assert len(node.stepping) == 1
        assert node.monitors[names[0]].critic.bank is node.monitors[names[1]].critic.bank
    in_order, reversed_order = results
    for got, want in zip(reversed_order[::-1], in_order, strict=True):
        assert got.critic_loss == want.critic_loss
        for key in want.feedback:
            np.testing.assert_array_equal(got.feedback[key], want.feedback[key])


@pytest.mark.parametrize("mode", ["federated", "distributed", "standalone", "centralized"])
def test_a_local_model_trains_in_each_mode_with_closed_form_bytes(ray_address, tmp_path, mode):
    topology = tiny(
        mode,
        **{"model.name": "attae", "model.slice_iterations": 1, "model.hidden": {"autoencoder": 8}},
    )
    summary = simulate(topology, tmp_path / "run", ray_address)
    m = topology.model
    model = build_local_model(m, D, 0)
    model_bytes = 4 * sum(t.numel() for t in model.state_dict().values())
    monitors, slices, rounds = 3, 2, m.iterations // m.local_iterations
    slice_rounds = m.iterations // m.slice_iterations
    link = summary["communication"]["monitor_slice"]
    controller = summary["communication"]["slice_controller"]
    if mode in ("federated", "distributed"):
        # every slice round each monitor sends its model and sample count up ...
        assert link["up_messages"] == monitors * slice_rounds
        assert link["up_payload_bytes"] == monitors * slice_rounds * (model_bytes + 8)
        # ... and gets an average back before the next one, and the final model at the end
        # (federated: the initial global model goes down before the first round as well)
        downs = slice_rounds if mode == "federated" else slice_rounds - 1
        assert link["down_messages"] == monitors * (downs + 1)
        assert link["down_payload_bytes"] == monitors * (downs + 1) * model_bytes
    else:
        assert link["messages"] == 0
    if mode == "federated":
        assert controller["up_payload_bytes"] == rounds * slices * (model_bytes + 8)
        assert controller["down_payload_bytes"] == (rounds + 1) * slices * model_bytes
    else:
        assert controller["messages"] == 0
    states = [load_checkpoint(p) for p in (tmp_path / "run" / "checkpoints").iterdir()]
    assert states and all(set(s) == set(model.state_dict()) for s in states)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert all(np.isfinite(r["loss"]) for r in records if "iteration" in r)
    # each monitor's figures come from its saved scores, and its untrained control row is the
    # model at the run's initial weights, scored on the same steps
    initial = build_local_model(m, D, topology.seed)
    for data in prepare_monitors(topology):
        figures = summary["detection"]["per_monitor"][data.name]
        saved = np.load(tmp_path / "run" / f"scores-{data.name}.npz")
        assert average_precision_score(saved["labels"], saved["scores"]) == pytest.approx(
            figures["auc_pr"]
        )
        untrained = local_model_scores(data.for_training(), initial, m).test
        assert average_precision_score(saved["labels"], untrained) == pytest.approx(
            figures["controls"]["untrained"]["auc_pr"]
        )


def test_fine_tuning_personalises_each_monitors_copy_without_traffic(ray_address, tmp_path):
    local = {"model.name": "attae", "model.slice_iterations": 1, "model.hidden": {"autoencoder": 8}}
    plain = tiny(**local)
    tuned = tiny(**local, **{"model.fine_tune_iterations": 3})
    summaries = {
        "plain": simulate(plain, tmp_path / "plain", ray_address),
        "tuned": simulate(tuned, tmp_path / "tuned", ray_address),
    }
    # fine-tuning happens at the monitors after the last model arrived: nothing more is sent
    assert summaries["tuned"]["communication"] == summaries["plain"]["communication"]
    plain_dir, tuned_dir = tmp_path / "plain" / "checkpoints", tmp_path / "tuned" / "checkpoints"
    global_model = load_checkpoint(tuned_dir / "model.pt")
    for name, value in load_checkpoint(plain_dir / "model.pt").items():
        torch.testing.assert_close(global_model[name], value)
    assert not any(p.name.startswith("personalised") for p in plain_dir.iterdir())
    model = build_local_model(tuned.model, D, 0)
    for data in prepare_monitors(tuned):
        state = load_checkpoint(tuned_dir / f"personalised-{data.name}.pt")
        assert any(not torch.equal(state[k], global_model[k]) for k in state)
        model.load_state_dict(state)
        saved = np.load(tmp_path / "tuned" / f"scores-{data.name}.npz")["scores"]
        np.testing.assert_allclose(saved, local_model_scores(data, model, tuned.model).test)
        before = np.load(tmp_path / "plain" / f"scores-{data.name}.npz")["scores"]
        assert not np.allclose(saved, before)


@pytest.mark.parametrize("mode", ["federated", "centralized"])
def test_a_diverging_fine_tuning_stops_the_run_naming_the_monitor(ray_address, tmp_path, mode):
    # one iteration of training reports the loss before its step; the step of an absurd
    # learning rate ruins the weights, so fine-tuning's first loss is not finite
    local = {"model.name": "attae", "model.hidden": {"autoencoder": 8}}
    steps = {"model.iterations": 1, "model.local_iterations": 1, "model.slice_iterations": 1}
    topology = tiny(
        mode,
        **local,
        **steps,
        **{"model.learning_rate": 1e30, "model.fine_tune_iterations": 2},
    )
    with pytest.raises(
        RunFailedError, match=r"monitor vm-\d-\d: reconstruction loss \S+ at iteration 1\b"
    ):
        simulate(topology, tmp_path / "run", ray_address)
    groups = ["controller"] if mode == "centralized" else ["slice-1", "slice-2"]
    assert trained_iterations(tmp_path / "run") == {group: [0] for group in groups}


def test_a_model_ruined_by_its_last_step_stops_the_run_at_detection(ray_address, tmp_path):
    # one iteration: its loss is taken before the step, and the step of an absurd learning
    # rate leaves weights of about 1e30, finite, whose scores are not
    topology = tiny(
        "federated",
        **{"model.name": "attae", "model.hidden": {"autoencoder": 8}},
        **{"model.iterations": 1, "model.local_iterations": 1, "model.slice_iterations": 1},
        **{"model.learning_rate": 1e30},
    )
    with pytest.raises(
        RunFailedError,
        match=r"monitor vm-\d-\d: its scores are not finite: the model it detects with diverged "
        r"by iteration 0 \(or its data hold values beyond any float\)$",
    ):
        simulate(topology, tmp_path / "run", ray_address)
    assert trained_iterations(tmp_path / "run") == {"slice-1": [0], "slice-2": [0]}
    assert not (tmp_path / "run" / "summary.json").exists()


def test_the_initial_model_leaves_the_callers_torch_generator_alone():
    topology = tiny()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = initial_model(GanShape.from_config(topology.model, D), topology)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())
    again = initial_model(GanShape.from_config(topology.model, D), topology)
    for a, b in zip(first, again, strict=True):  # and is the same model every time
        np.testing.assert_array_equal(a, b)


def test_a_generator_side_knows_when_its_weights_are_not_numbers():
    topology = tiny()
    side = GeneratorSide(GanShape.from_config(topology.model, D), topology.model, 0)
    assert side.finite()
    with torch.no_grad():
        next(side.encoder.parameters()).view(-1)[0] = float("nan")
    assert not side.finite()


def test_weights_that_are_not_numbers_are_stopped_naming_the_holder_and_iteration():
    check_finite_weights([np.ones(3, np.float32), np.full((2, 2), 1e30, np.float32)], "m", 4)
    for bad in (np.nan, np.inf, -np.inf):
        weights = [np.ones(3, np.float32), np.array([1.0, bad], np.float32)]
        with pytest.raises(
            DivergenceError, match=r"^monitor m: weights turned NaN or infinite at iteration 4$"
        ):
            check_finite_weights(weights, "monitor m", 4)


def test_ray_out_of_memory_becomes_one_line_saying_what_to_change():
    ray_report = (
        "1 worker(s) were killed due to the node running low on memory. Memory on the node "
        "(IP: 192.0.2.2, ID: f6ce) was 22.37GB / 23.54GB (0.950412), which exceeds the memory "
        "usage threshold of 0.950000; Object store memory usage: [- objects spillable: 30]"
    )
    reason = failure_reason(ray_report)
    assert "22.37GB / 23.54GB" in reason and "placement.slices_per_node" in reason
    assert "\n" not in reason and "Object store" not in reason
    assert failure_reason("monitor vm-1 diverged") == "monitor vm-1 diverged"
