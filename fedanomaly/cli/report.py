"""The closing tables of ``fedanomaly simulate``, rendered from a run's ``summary.json``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Column, Table

from fedanomaly.cli.common import human_bytes, number
from fedanomaly.metering.meter import LINKS


def summary_tables(summary: dict[str, Any]) -> Group:
    """The closing tables of a run: cost per link and tier, detection overall and per type,
    against the controls and by threshold, and a line on false alarms on unseen load."""
    links = Table(
        "link", "up", "down", "messages", "on the link (s)", title="Communication",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for link, entry in summary["communication"].items():
        links.add_row(link, human_bytes(entry["up_bytes"]), human_bytes(entry["down_bytes"]),
                      str(entry["messages"]), f"{entry['transfer_seconds']:.2f}")  # fmt: skip
    tiers = Table("tier", "CPU s", "wall s", "peak memory", title="Tiers", box=box.SIMPLE_HEAD)
    for tier in summary["compute_seconds"]:
        tiers.add_row(
            tier,
            f"{summary['compute_seconds'][tier]:.2f}",
            f"{summary['compute_wall_seconds'][tier]:.2f}",
            human_bytes(summary["peak_memory_bytes"][tier]),
        )
    detection = summary["detection"]
    method = detection["threshold_method"]
    quality = Table(
        "anomalies", "precision", "recall", "F1", "accuracy", "AUC-PR",
        title=f"Detection at the deployable threshold ({method}): all = means over monitors, "
        "per type = pooled over monitors (AUC-PR: their mean)",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    overall = detection["overall"]
    quality.add_row(
        "all", *(number(overall[k]) for k in ("precision", "recall", "f1", "accuracy", "auc_pr"))
    )
    for name, entry in detection["by_type"].items():
        quality.add_row(
            name, *(number(entry[k]) for k in ("precision", "recall", "f1", "accuracy", "auc_pr"))
        )
    ranking = Table(
        "detector", "VUS-PR", "VUS-ROC", "AUC-PR", "AUC-ROC",
        f"F1 ({method}{'; controls: validation' if method == 'generated' else ''})", "",
        title=f"Against the controls (VUS window {detection['vus_window']:.0f} steps; "
        f"{overall['anomalous_share']:.1%} of test steps anomalous)",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    keys = ("vus_pr", "vus_roc", "auc_pr", "auc_roc", "f1")
    ranking.add_row(summary["model"], *(number(overall[k]) for k in keys), "")
    for name, entry in detection["controls"].items():
        verdict = {True: "beaten", False: "[red]NOT beaten[/red]", None: ""}[
            detection["beats_controls"][name]
        ]
        ranking.add_row(f"control: {name}", *(number(entry[k]) for k in keys), verdict)
    thresholds = Table(
        "threshold", "precision", "recall", "F1", title="F1 by threshold", box=box.SIMPLE_HEAD
    )
    for name, entry in detection["by_threshold"].items():
        label = "oracle (test labels)" if name == "oracle" else f"{name} (deployable)"
        thresholds.add_row(
            label,
            *(number(entry[k]) if k in entry else "" for k in ("precision", "recall", "f1")),
        )
    thresholds.add_row("event-wise F1", "", "", number(overall["event_f1"]), style="dim")
    thresholds.add_row(
        "point-adjusted F1 (legacy)", "", "", number(overall["f1_point_adjusted_legacy"]),
        style="dim",
    )  # fmt: skip
    header = (
        f"{summary['mode']} {summary['model']}: {summary['topology']['slices']} slices, "
        f"{summary['topology']['monitors']} monitors, {summary['iterations']} iterations, "
        f"{summary['wall_seconds']:.1f} s wall, {summary['simulated_seconds']:.1f} s simulated "
        f"({summary['simulated']['transfer_seconds']:.1f} s of it on the links)"
    )
    return Group(header, links, tiers, quality, ranking, thresholds, unseen_load_line(detection))


def per_monitor_table(summary: dict[str, Any]) -> Table:
    """Each monitor's detection beside the control rows on its own windows, and their means.

    Parameters
    ----------
    summary
        A run's ``summary.json`` content.

    Returns
    -------
    Table
        Per monitor: VUS-PR, AUC-PR, F1 at the deployable threshold and the oracle F1 of the
        model, then each control row's VUS-PR, in red and marked ``*`` where it is above the
        model's (the mark stays where the output is piped); a last
        row with the means over monitors (``detection.overall`` and ``detection.controls``).
    """
    detection = summary["detection"]
    controls = list(detection["controls"])
    table = Table(
        "monitor", "VUS-PR", "AUC-PR", "F1", "oracle F1", *controls,
        title=f"Per monitor: the model's VUS-PR, AUC-PR, F1 ({detection['threshold_method']}) "
        "and oracle F1; each control row's VUS-PR on the same windows (*: above the model's)",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip

    def row(label: str, figures: dict[str, Any], rows: dict[str, dict[str, Any]]) -> list[str]:
        model = figures["vus_pr"]
        cells = [label, *(number(figures[k]) for k in ("vus_pr", "auc_pr", "f1", "f1_oracle"))]
        for name in controls:
            control = rows[name]["vus_pr"]
            above = model is not None and control is not None and control > model
            cells.append(f"[red]{number(control)}*[/red]" if above else number(control))
        return cells

    for name, figures in detection["per_monitor"].items():
        table.add_row(*row(name, figures, figures["controls"]))
    table.add_row(*row("mean", detection["overall"], detection["controls"]), style="bold")
    return table


def unseen_load_line(detection: dict[str, Any]) -> str:
    """The closing line on unseen load.

    Parameters
    ----------
    detection
        A summary's ``detection`` entry, with its ``beyond_train_range`` counts.

    Returns
    -------
    str
        How many false alarms fall on test steps where a metric is outside its training range,
        and how common such normal steps are.
    """
    beyond = detection["beyond_train_range"]
    if not beyond["false_alarms"]:
        return "No false alarms at the deployable threshold."
    return (
        f"False alarms on steps where a metric is outside its training range: "
        f"{beyond['false_alarms_beyond']} of {beyond['false_alarms']} "
        f"({beyond['false_alarm_share']:.0%}); such steps are {beyond['normal_share']:.1%} "
        "of the normal test steps."
    )


def comparison_row(run: str, summary: dict[str, Any]) -> dict[str, Any]:
    """What several runs are compared on: the setting, the traffic, the time and detection.

    Parameters
    ----------
    run
        The run's name in the table (its directory).
    summary
        The run's ``summary.json`` content.

    Returns
    -------
    dict
        ``run``, ``mode``, ``model``, ``slices``, ``monitors``, ``iterations``, ``seed``;
        ``bytes`` (every link, both directions) and ``<link>_bytes`` per link;
        ``wall_seconds``; the means over monitors ``f1`` (at ``threshold_method``),
        ``f1_oracle``, ``vus_pr`` and ``auc_pr``; ``controls_beaten`` and ``controls``, how
        many control rows the model's VUS-PR is above and how many could be compared (both
        figures defined).
    """
    links = summary["communication"]
    per_link = {
        f"{link}_bytes": links[link]["up_bytes"] + links[link]["down_bytes"] for link in LINKS
    }
    detection = summary["detection"]
    overall = detection["overall"]
    verdicts = detection["beats_controls"]
    return {
        "run": run,
        "mode": summary["mode"],
        "model": summary["model"],
        "slices": summary["topology"]["slices"],
        "monitors": summary["topology"]["monitors"],
        "iterations": summary["iterations"],
        "seed": summary["seed"],
        "bytes": sum(per_link.values()),
        **per_link,
        "wall_seconds": summary["wall_seconds"],
        "threshold_method": detection["threshold_method"],
        **{key: overall[key] for key in ("f1", "f1_oracle", "vus_pr", "auc_pr")},
        "controls_beaten": sum(1 for beaten in verdicts.values() if beaten),
        "controls": sum(1 for beaten in verdicts.values() if beaten is not None),
    }


#: The lines of :func:`comparison_table`: a label and how a run's cell reads its row.
COMPARISON_LINES: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("mode", lambda row: row["mode"]),
    ("model", lambda row: row["model"]),
    ("slices x monitors", lambda row: f"{row['slices']} x {row['monitors']}"),
    ("iterations", lambda row: str(row["iterations"])),
    ("seed", lambda row: str(row["seed"])),
    *(
        (f"bytes {link}", lambda row, link=link: human_bytes(row[f"{link}_bytes"]))
        for link in LINKS
    ),
    ("bytes, all links", lambda row: human_bytes(row["bytes"])),
    ("wall seconds", lambda row: f"{row['wall_seconds']:.1f}"),
    ("F1 (deployable)", lambda row: f"{number(row['f1'])} ({row['threshold_method']})"),
    ("F1 (oracle)", lambda row: number(row["f1_oracle"])),
    ("VUS-PR", lambda row: number(row["vus_pr"])),
    ("AUC-PR", lambda row: number(row["auc_pr"])),
    (
        "controls beaten",
        lambda row: f"{row['controls_beaten']} of {row['controls']}" if row["controls"] else "n/a",
    ),
]


def comparison_column(row: dict[str, Any]) -> list[str]:
    """One run's cells of :func:`comparison_table` (from :func:`comparison_row`), line by line."""
    return [cell(row) for _, cell in COMPARISON_LINES]


def comparison_table(runs: list[str], columns: list[list[str]]) -> Table:
    """Runs side by side, one column each (:func:`comparison_column`): traffic against
    detection.

    A figure per line and a run per column keep the table narrow whatever the run names."""
    table = Table(
        "", *(Column(run, justify="right", overflow="fold") for run in runs),
        title="Runs: traffic (up + down) against detection (means over monitors)",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for index, (label, _) in enumerate(COMPARISON_LINES):
        table.add_row(label, *(column[index] for column in columns))
    return table
