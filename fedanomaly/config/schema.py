"""The topology schema: what a YAML file (or ``--slices/--monitors``) declares.

One pydantic model per section, one config model per data source and per anomaly model, in the
spirit of Merlion's config-per-model. Every field has a default except the slices, so a topology
file only states what differs from the paper's set-up.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fedanomaly.data.metrics import Family
from fedanomaly.metering.precision import Precision

PAPER_002_TYPES = ("cpu_endless_loop", "memory_leak", "disk_io_fault", "network_congestion")
PAPER_000_TYPES = ("sudden_spike", "periodic_drift", "resource_jitter")
ANOMALY_TYPES = PAPER_002_TYPES + PAPER_000_TYPES
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
AnomalyType = Literal[
    "cpu_endless_loop",
    "memory_leak",
    "disk_io_fault",
    "network_congestion",
    "sudden_spike",
    "periodic_drift",
    "resource_jitter",
]


def admits_bool(annotation: object) -> bool:
    """Whether a field's type takes ``true``/``false`` (``bool`` anywhere in it)."""
    return annotation is bool or any(admits_bool(a) for a in get_args(annotation))


class Strict(BaseModel):
    """Base of every section: unknown keys are errors, not silently ignored, and so are
    infinite and NaN numbers, and ``true``/``false`` given for a number."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, data: object) -> object:
        if isinstance(data, dict):
            for key, value in data.items():
                field = cls.model_fields.get(key) if isinstance(key, str) else None
                if isinstance(value, bool) and field and not admits_bool(field.annotation):
                    raise ValueError(
                        f"{key}: {str(value).lower()} is not valid here (YAML reads yes, no, on "
                        "and off as true/false too: quote them if meant as text)"
                    )
        return data


#: The most monitors ``monitors: N`` names in one slice (100 slices of it are ten million).
MAX_MONITORS_PER_SLICE = 100_000
#: The most monitors ``--slices S --monitors N`` lays out.
MAX_BALANCED_MONITORS = 1_000_000
#: Bounds far beyond any run that ends or any fault that means something: a run of ten million
#: iterations takes weeks on a 2-core machine; a fault of 1,000 standard deviations or a level
#: stretched elevenfold says nothing a tenth of it would not.
MAX_ITERATIONS = 10_000_000
MAX_INTENSITY = 1_000.0
MAX_LEVEL_STRETCH = 10.0

# --- data sources -------------------------------------------------------------------------


#: The longest built-in series (about 9.5 years of minutes): preparing a VM's data peaks near
#: 450 bytes per step, 2.2 GB per VM at this length.
MAX_SYNTHETIC_LENGTH = 5_000_000


class SyntheticVnfConfig(Strict):
    """Built-in VM metrics with the 26-metric schema of seed 002."""

    type: Literal["synthetic-vnf"] = "synthetic-vnf"
    length: PositiveInt = Field(
        40_320,
        le=MAX_SYNTHETIC_LENGTH,
        description=(
            "steps per VM (40,320 = four weeks of minutes: the train part then covers the "
            "range the slice load takes; at most 5,000,000: preparing the data takes about "
            "450 bytes per step and VM)"
        ),
    )
    step_seconds: PositiveInt = Field(60, description="seconds between two samples")
    noise: NonNegativeFloat = Field(1.0, description="multiplier on every noise term")


def parse_column_groups(value: object) -> object:
    """Accept ``family:a|b;family:c`` (the command-line form) as well as a mapping."""
    if not isinstance(value, str):
        return value
    groups: dict[str, list[str]] = {}
    for entry in filter(None, value.split(";")):
        family, colon, names = entry.partition(":")
        if not colon:
            raise ValueError(f"'{entry}' is not FAMILY:COLUMN|COLUMN...")
        groups[family.strip()] = [n for n in names.split("|") if n]
    return groups


class PathSource(Strict):
    """A source read from files; the path may come from the command line instead of the file."""

    path: Path | None = None


class SmdConfig(PathSource):
    """Server Machine Dataset, processed-pickle or plain-text layout."""

    type: Literal["smd"] = "smd"


class PickleConfig(PathSource):
    """Any dataset in the ``<entity>_train.pkl / _test.pkl / _test_label.pkl`` layout."""

    type: Literal["pickle"] = "pickle"
    column_groups: dict[Family, list[Annotated[int, Field(ge=0)]]] = Field(
        default_factory=dict, description="family -> column indices; cli: cpu:0|1;memory:5"
    )

    @field_validator("column_groups", mode="before")
    @classmethod
    def _groups_from_text(cls, value: object) -> object:
        return parse_column_groups(value)


class BitbrainsConfig(PathSource):
    """Bitbrains GWA-T-12 VM traces: a folder of ``;``-separated CSV files, one per VM."""

    type: Literal["bitbrains"] = "bitbrains"


class CsvConfig(PathSource):
    """Any CSV file, or a folder of CSV files with one entity per file."""

    type: Literal["csv"] = "csv"
    columns: list[str] | None = Field(None, description="metric columns; default all numeric")
    timestamp_column: str | None = None
    label_column: str | None = None
    delimiter: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="one character (\\t for a tab); default: detected from the header",
    )
    column_groups: dict[Family, list[str]] = Field(
        default_factory=dict, description="family -> column names; cli: cpu:a|b;memory:c"
    )

    @field_validator("column_groups", mode="before")
    @classmethod
    def _groups_from_text(cls, value: object) -> object:
        return parse_column_groups(value)

    @field_validator("columns", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        return value.split(",") if isinstance(value, str) else value

    @field_validator("delimiter", mode="before")
    @classmethod
    def _tab_as_written(cls, value: object) -> object:
        return "\t" if value == "\\t" else value


SourceConfig = Annotated[
    SyntheticVnfConfig | SmdConfig | PickleConfig | BitbrainsConfig | CsvConfig,
    Field(discriminator="type"),
]
SOURCE_TYPES = ("synthetic-vnf", "smd", "pickle", "bitbrains", "csv")


def source_text(source: SourceConfig) -> str:
    """A source as the command line writes it: ``TYPE`` or ``TYPE:PATH``.

    Parameters
    ----------
    source
        The source's config.

    Returns
    -------
    str
        Its type, and its path where it has one.
    """
    path = getattr(source, "path", None)
    return source.type if path is None else f"{source.type}:{path}"


# --- data preparation -----------------------------------------------------------------------


class SplitConfig(Strict):
    """Time-ordered fractions of each VM's series; they must add up to 1.

    Where a source publishes its own test part (SMD), ``test`` is unused and the train part is
    cut into train and validation in the ratio ``train : validation``.
    """

    train: PositiveFloat = 0.6
    validation: PositiveFloat = 0.2
    test: PositiveFloat = 0.2

    @model_validator(mode="after")
    def _adds_up(self) -> SplitConfig:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1, got {total:g}")
        return self


class InjectionConfig(Strict):
    """Typed anomalies injected into the validation and test parts, never the train part."""

    types: list[AnomalyType] = Field(default_factory=lambda: list(PAPER_002_TYPES), min_length=1)
    rate: float = Field(0.05, gt=0.0, le=0.5, description="target fraction of anomalous steps")
    intensity: PositiveFloat = Field(
        1.5,
        le=MAX_INTENSITY,
        description="size of the change, in standard deviations of the metric's train part",
    )
    duration: tuple[PositiveInt, PositiveInt] = Field(
        (10, 40), description="min and max steps of one anomaly (sudden spikes last 1-3 steps)"
    )
    splits: Literal["auto"] | list[Literal["validation", "test"]] = Field(
        "auto",
        description="auto: validation and test, but not a test part that carries real labels",
    )

    @field_validator("splits")
    @classmethod
    def _some_part(cls, value: str | list[str]) -> str | list[str]:
        if not value:
            raise ValueError("name validation, test or both, or write auto")
        return value

    @field_validator("duration")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] > value[1]:
            raise ValueError(f"min duration {value[0]} is larger than max duration {value[1]}")
        return value


class DataConfig(Strict):
    """Where monitors' data come from and how it is prepared."""

    source: SourceConfig = Field(default_factory=SyntheticVnfConfig)
    partition: Literal["entity", "split"] = Field(
        "entity",
        description="entity: each monitor holds its own VMs; split: one series cut into "
        "contiguous parts, one per monitor",
    )
    entity: str | None = Field(None, description="with partition: split, the series to cut")
    split: SplitConfig = Field(default_factory=SplitConfig)
    injection: InjectionConfig = Field(default_factory=InjectionConfig)


LOCAL_MODELS = ("attae", "cmsf-attae")

#: Steps per window when ``model.window_length`` is not given. The split models score a whole
#: window (eq. 28) and a step gets the mean over the windows holding it, so an event raises the
#: scores of up to T - 1 normal steps on each side: shorter windows blur it less (measured in
#: the README). The local models score each position, and ATTAE's widest scale sees 16 steps.
SPLIT_WINDOW_LENGTH, LOCAL_WINDOW_LENGTH = 8, 16

#: FedAvg every L iterations and, for the local models, a slice average every L1, when not
#: given; a run of fewer iterations averages at its end (L = I, L1 = L).
DEFAULT_LOCAL_ITERATIONS, DEFAULT_SLICE_ITERATIONS = 10, 5

# --- model ----------------------------------------------------------------------------------


class HiddenSizes(Strict):
    """Hidden layer sizes of the generator, encoder (two LSTM layers each) and critic, and of
    the autoencoder's LSTMs (attae)."""

    generator: tuple[PositiveInt, PositiveInt] = (32, 32)
    encoder: tuple[PositiveInt, PositiveInt] = (32, 32)
    discriminator: tuple[PositiveInt, PositiveInt] = (128, 64)
    autoencoder: PositiveInt = 32


#: Settings only the split models use: why a local model cannot, and a value it may still
#: give besides the default (``None``: none).
SPLIT_ONLY_SETTINGS: dict[str, tuple[str, float | None]] = {
    "covariance_shrinkage": ("; {name} scores with reconstruction_score", None),
    "level_stretch": (
        ", whose monitors draw training batches for a critic; {name} trains on its windows as "
        "they are",
        0.0,
    ),
}


class ModelConfig(Strict):
    """Model and training hyper-parameters (symbols of seed 002 in brackets)."""

    name: Literal["biwgan-gp", "bigan", "wgan-gp", "wgan", "gan", "attae", "cmsf-attae"] = Field(
        "biwgan-gp",
        description="biwgan-gp, a baseline of Fig. 9 (bigan, wgan-gp, wgan, gan): split models; "
        "attae (seed 000): a local model; cmsf-attae (seed 000): CMSF-GAN split across the tiers "
        "for generator_iterations, then ATTAE trained and thresholded with its generated anomalies",
    )
    iterations: PositiveInt = Field(500, le=MAX_ITERATIONS, description="training iterations [I]")
    critic_iterations: PositiveInt = Field(
        5, le=MAX_ITERATIONS, description="critic steps per G/E step [K]"
    )
    local_iterations: PositiveInt = Field(
        default_factory=lambda fields: min(DEFAULT_LOCAL_ITERATIONS, fields["iterations"]),
        description="iterations between two FedAvg [L], at most I; when not given, 10, or I "
        "where I is smaller",
    )
    slice_iterations: PositiveInt = Field(
        default_factory=lambda fields: min(DEFAULT_SLICE_ITERATIONS, fields["local_iterations"]),
        description="local models: iterations each monitor trains between two averages at its "
        "slice manager [L1], at most L; when not given, 5, or L where L is smaller; the "
        "controller averages every L iterations, L / L1 slice rounds [L2]",
    )
    scales: list[PositiveInt] = Field(
        default_factory=lambda: [4, 8, 16],
        min_length=1,
        description="attae: steps seen by each branch of the multi-scale encoder (capped at T)",
    )
    batch_size: PositiveInt = Field(32, description="windows per batch [M]")
    learning_rate: PositiveFloat = Field(1e-3, description="Adam step size [alpha]")
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (
        0.5,
        0.9,
    )
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = Field(
        "adam",
        description="optimizer of every model part: adam or adamw with betas, rmsprop "
        "(smoothing beta2), sgd (momentum beta1)",
    )
    gradient_penalty: NonNegativeFloat = Field(10.0, description="gradient-penalty weight [eta]")
    score_weight: float = Field(0.9, ge=0.0, le=1.0, description="anomaly-score weight [gamma]")
    reconstruction_weight: NonNegativeFloat = Field(
        10.0,
        description="weight of the slice manager's own L1 cycle term |X - G(E(X))| added to the "
        "EG objective (not in the paper; 0 trains G and E from the monitors' feedback alone)",
    )
    feature_matching_weight: NonNegativeFloat = Field(
        1.0, description="CMSF-GAN (generate, cmsf-attae): feature-matching weight [lambda_fm]"
    )
    generator_iterations: PositiveInt = Field(
        200,
        le=MAX_ITERATIONS,
        description="cmsf-attae: CMSF-GAN iterations before ATTAE's I iterations [I_G]; a "
        "multiple of L, so that every monitor receives the global generator",
    )
    generated_per_type: PositiveInt = Field(
        32, description="cmsf-attae: anomalous windows each monitor generates per type"
    )
    augmentation_weight: NonNegativeFloat = Field(
        1.0,
        description="cmsf-attae: weight of the hinge term that pushes the reconstruction error of "
        "generated anomalies above the margin (0: they only calibrate the threshold)",
    )
    augmentation_margin: PositiveFloat = Field(
        2.0,
        description="cmsf-attae: the margin, as a multiple of the batch's mean peak error on "
        "normal windows",
    )
    reconstruction_score: Literal["mse", "standardized", "robust"] = Field(
        "mse",
        description="attae, cmsf-attae: a step's score, from the reconstruction error at its "
        "position: mse (the squared error averaged over metrics, the paper's), standardized "
        "(each metric's absolute error standardised by its mean and standard deviation on the "
        "training windows, squared and averaged over metrics: eq. 28's squared z-scores, "
        "kept per position) or robust (each metric's absolute error's distance from its "
        "training median in interquartile ranges / 1.349, averaged over metrics)",
    )
    metric_pooling: Literal["mahalanobis", "mean", "max"] = Field(
        "mahalanobis",
        description="biwgan-gp and the Fig. 9 baselines: which norm of a window's residuals "
        "X - G(E(X)) eq. 28's reconstruction term takes: mahalanobis (the Mahalanobis distance "
        "of the window's mean residual per metric from the training windows', under their "
        "covariance shrunk by covariance_shrinkage; beyond the paper, the default), mean (the "
        "root mean square of each value's standardised absolute residual over the window, in "
        "place of the paper's L1 norm) or max (each metric's mean squared z-score over "
        "the window, standardised on the training windows, and the largest taken; beyond the "
        "paper: for faults that move a few metrics)",
    )
    covariance_shrinkage: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="biwgan-gp, metric_pooling mahalanobis: weight s of the covariance's own "
        "diagonal in (1 - s) * C + s * diag(C), C the Ledoit-Wolf estimate of the training "
        "windows' mean residuals (1 ignores the correlations between metrics)",
    )
    level_stretch: float = Field(
        0.6,
        ge=0.0,
        le=MAX_LEVEL_STRETCH,
        description="biwgan-gp and its baselines: each training window a monitor draws has its "
        "level (mean per metric) moved away from the monitor's training mean by a factor drawn "
        "uniformly from [1, 1 + level_stretch], the fluctuations within the window kept, so "
        "that G, E and the critics learn load beyond the training range (beyond the paper; "
        "0 = the windows as they are)",
    )
    fine_tune_iterations: NonNegativeInt = Field(
        0,
        le=MAX_ITERATIONS,
        description="attae, cmsf-attae: after training, each monitor trains the model it "
        "received this many more iterations on its own windows, alone, and detects with that "
        "personalised copy (beyond the paper; 0 = detect with the received model)",
    )
    latent_size: PositiveInt = Field(16, description="latent size [l]")
    window_length: PositiveInt = Field(
        default_factory=lambda fields: (
            LOCAL_WINDOW_LENGTH if fields.get("name") in LOCAL_MODELS else SPLIT_WINDOW_LENGTH
        ),
        description="steps per window [T]; when not given, 8 for biwgan-gp and its baselines, "
        "16 for attae and cmsf-attae",
    )
    window_stride: PositiveInt = Field(4, description="steps between two training windows")
    hidden: HiddenSizes = Field(default_factory=HiddenSizes)

    @field_validator("local_iterations")
    @classmethod
    def _local_within_total(cls, value: int, info: ValidationInfo) -> int:
        iterations = info.data.get("iterations")
        if iterations is not None and value > iterations:
            raise ValueError(f"L={value} is larger than iterations I={iterations}")
        return value

    @model_validator(mode="after")
    def _slice_within_local(self) -> ModelConfig:
        # after validation, so that the default L1 is checked too; split models do not use it
        if self.name in LOCAL_MODELS and self.slice_iterations > self.local_iterations:
            raise ValueError(
                f"slice_iterations L1={self.slice_iterations} is larger than "
                f"local_iterations L={self.local_iterations}"
            )
        return self

    @model_validator(mode="after")
    def _generator_on_rounds(self) -> ModelConfig:
        if self.name == "cmsf-attae" and self.generator_iterations % self.local_iterations:
            raise ValueError(
                f"generator_iterations I_G={self.generator_iterations} is not a multiple of "
                f"local_iterations L={self.local_iterations}"
            )
        return self

    @field_validator("reconstruction_score")
    @classmethod
    def _score_of_an_autoencoder(cls, value: str, info: ValidationInfo) -> str:
        name = info.data.get("name")
        if value != "mse" and name is not None and name not in LOCAL_MODELS:
            raise ValueError(
                f"{value} applies to attae and cmsf-attae; {name}'s score (eq. 28) always "
                "standardises its errors"
            )
        return value

    @field_validator("metric_pooling")
    @classmethod
    def _pooling_of_a_split_model(cls, value: str, info: ValidationInfo) -> str:
        name = info.data.get("name")
        # The local models' configs, written out in full, carry the default (until 2026-12-06
        # "mean"); only a pooling they cannot use is refused.
        if value == "max" and name is not None and name in LOCAL_MODELS:
            raise ValueError(
                f"metric_pooling {value} applies to biwgan-gp and its baselines; {name} scores "
                "with reconstruction_score"
            )
        return value

    @field_validator("covariance_shrinkage", "level_stretch")
    @classmethod
    def _setting_of_a_split_model(cls, value: float, info: ValidationInfo) -> float:
        # The local models' configs, written out in full, carry the default; level_stretch 0
        # (off) is allowed too.
        name, field = info.data.get("name"), str(info.field_name)
        reason, off = SPLIT_ONLY_SETTINGS[field]
        if value not in (cls.model_fields[field].default, off) and name in LOCAL_MODELS:
            raise ValueError(
                f"{field} applies to biwgan-gp and its baselines{reason.format(name=name)}"
            )
        return value

    @field_validator("fine_tune_iterations")
    @classmethod
    def _fine_tune_a_local_model(cls, value: int, info: ValidationInfo) -> int:
        name = info.data.get("name")
        if value and name is not None and name not in LOCAL_MODELS:
            raise ValueError(
                f"fine-tuning applies to attae and cmsf-attae, whose monitors hold a whole "
                f"model; {name}'s monitors hold only a critic"
            )
        return value

    @property
    def training_iterations(self) -> int:
        """Iterations of the whole run: I, after the I_G of CMSF-GAN for cmsf-attae."""
        if self.name == "cmsf-attae":
            return self.generator_iterations + self.iterations
        return self.iterations

    @property
    def is_local(self) -> bool:
        """Whether the whole model trains at each monitor (else it is split across tiers)."""
        return self.name in LOCAL_MODELS


# --- evaluation -----------------------------------------------------------------------------

ControlName = Literal["random", "untrained", "zscore", "pca", "iforest"]


class PayloadConfig(Strict):
    """Precision of what crosses each tier (beyond the paper): ``float32``, ``float16``, or
    ``int8`` with a per-tensor scale. The sender's own copy keeps full precision."""

    feedback: Precision = Field(
        "float32", description="monitor -> slice manager: dL/dX_bar, dL/df and the next batch X"
    )
    generated: Precision = Field(
        "float32", description="slice manager -> monitor: f = E(X), z and X_bar = G(z)"
    )
    models: Precision = Field(
        "float32", description="models between tiers, both ways (G and E, local models)"
    )


class EvaluationConfig(Strict):
    """How every monitor's test scores are thresholded and measured."""

    threshold: Literal["validation", "pot", "sigma", "adaptive", "generated"] = Field(
        "validation",
        description="deployable threshold that makes the predictions: validation (eq. 33 on the "
        "validation part with injected anomalies), pot (peaks over threshold on training "
        "scores), sigma (training mean + sigma_beta standard deviations), adaptive (ATTAE's "
        "mu_t + sigma_beta * sigma_t over the adaptive_window scores before each step) or, "
        "with cmsf-attae, generated (eq. 33 with CMSF-GAN's anomalies in place of labels)",
    )
    sigma_beta: PositiveFloat = Field(3.0, description="beta of the sigma and adaptive thresholds")
    adaptive_window: PositiveInt = Field(
        100, description="steps of past scores behind the adaptive threshold [w]"
    )
    pot_risk: float = Field(1e-3, gt=0.0, lt=1.0, description="POT false-alarm probability q")
    pot_level: float = Field(0.98, gt=0.0, lt=1.0, description="POT initial quantile t")
    vus_window: Literal["auto"] | PositiveInt = Field(
        "auto",
        description="largest VUS buffer length; auto: TSB-AD's period estimate on the first "
        "metric of the monitor's (first VM's) test part (125 when none is found)",
    )
    controls: list[ControlName] = Field(
        default_factory=lambda: ["random", "untrained", "zscore", "pca", "iforest"],
        description="control detectors scored on the same windows",
    )

    @model_validator(mode="after")
    def _risk_within_the_tail(self) -> EvaluationConfig:
        # POT fits the tail above the pot_level quantile: a risk of that size or more lies
        # below it, where the tail model says nothing
        tail = 1.0 - self.pot_level
        if self.pot_risk > tail or math.isclose(self.pot_risk, tail):
            raise ValueError(
                f"pot_risk {self.pot_risk} must be below 1 - pot_level "
                f"({tail:.6g}): POT models only the scores above that quantile"
            )
        return self


# --- network ----------------------------------------------------------------------------------


class LinkConfig(Strict):
    """One tier link: what a message of B bytes costs to cross it."""

    bandwidth_mbps: PositiveFloat
    latency_ms: NonNegativeFloat
    jitter_ms: NonNegativeFloat = 0.0
    loss: float = Field(0.0, ge=0.0, lt=1.0)


class LinksConfig(Strict):
    """The three kinds of link in the hierarchy."""

    monitor_slice: LinkConfig = Field(
        default_factory=lambda: LinkConfig(bandwidth_mbps=1000, latency_ms=0.5)
    )
    slice_controller: LinkConfig = Field(
        default_factory=lambda: LinkConfig(bandwidth_mbps=100, latency_ms=10)
    )
    monitor_controller: LinkConfig = Field(
        default_factory=lambda: LinkConfig(bandwidth_mbps=100, latency_ms=15)
    )


# --- hierarchy ------------------------------------------------------------------------------

DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"
Device = Annotated[str, Field(pattern=DEVICE_PATTERN)]


class MonitorConfig(Strict):
    """A VM monitor: the VMs whose metrics it holds, and optionally its own data source."""

    name: Name
    vms: list[str] = Field(
        default_factory=list,
        description="entities of the source (SMD machine, Bitbrains VM id, CSV file stem); "
        "empty: the next unused entity, or a VM named after the monitor for synthetic data",
    )
    source: SourceConfig | None = None
    labelled_anomalies: bool = Field(
        True,
        description="cmsf-attae and generate: the monitor holds labelled anomalies (typed "
        "injected windows) on which its discriminator trains CMSF-GAN; false: it only receives "
        "the generator (generate leaves it out)",
    )

    @field_validator("vms", mode="before")
    @classmethod
    def _numbers_are_names(cls, value: object) -> object:
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value


class SliceConfig(Strict):
    """A network slice: its manager and monitors; ``monitors: 30`` names them automatically."""

    name: Name
    device: Device | None = Field(None, description="overrides the topology's device")
    monitors: list[MonitorConfig] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _expand_count(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("monitors"), int):
            count = data["monitors"]
            if isinstance(count, bool):
                raise ValueError(f"monitors: expected a count or a list, not {str(count).lower()}")
            if count > MAX_MONITORS_PER_SLICE:
                raise ValueError(
                    f"monitors: at most {MAX_MONITORS_PER_SLICE:,} per slice, got {count:,}"
                )
            if count < 1:
                raise ValueError(f"monitors must be at least 1, got {count}")
            data = {
                **data,
                "monitors": [{"name": f"{data.get('name')}-vm-{k + 1}"} for k in range(count)],
            }
        return data


class ControllerConfig(Strict):
    """The network controller (Flower server)."""

    name: Name = "controller"


class PlacementConfig(Strict):
    """How monitors and slice managers map onto Ray actors (processes); the protocol and the
    metering do not change, only the number of processes."""

    monitors_per_node: PositiveInt | None = Field(
        None,
        description="monitors of one slice that share a Ray actor (3 unless slices_per_node is "
        "set); each keeps its own data, critic and meter, and every exchange with its slice "
        "manager still crosses the link",
    )
    slices_per_node: PositiveInt | None = Field(
        None,
        description="if set, this many slices share a Ray actor, each slice manager with all "
        "its monitors (for large topologies: a few processes instead of one per slice); "
        "replaces monitors_per_node",
    )
    batch_critics: bool = Field(
        True,
        description="the critics of monitors that share an actor train as one batched "
        "computation (stacked parameters, torch.func); each keeps its own weights, optimizer "
        "state and random draws, so only floating-point rounding differs",
    )

    @model_validator(mode="after")
    def _one_layout(self) -> PlacementConfig:
        if self.slices_per_node is not None and self.monitors_per_node is not None:
            raise ValueError(
                "set monitors_per_node or slices_per_node, not both: with slices_per_node each "
                "actor holds whole slices"
            )
        if self.slices_per_node is None and self.monitors_per_node is None:
            self.monitors_per_node = 3
        return self


#: The largest seed: the run adds a name's 32-bit hash to it, and torch takes seeds below 2**64.
MAX_SEED = 2**32 - 1


class Topology(Strict):
    """A whole simulated deployment: one controller, its slices and their monitors."""

    name: Name = "topology"
    seed: int = Field(
        0, ge=0, le=MAX_SEED, description="seeds every random stream of the run (0 .. 2**32 - 1)"
    )
    mode: Literal["centralized", "standalone", "distributed", "federated"] = "federated"
    device: Device = Field(
        "auto",
        description="slice managers (the controller in centralized mode; standalone monitors "
        "train on the CPU): auto = a GPU when there is one",
    )
    controller: ControllerConfig = Field(default_factory=ControllerConfig)
    placement: PlacementConfig = Field(default_factory=PlacementConfig)
    links: LinksConfig = Field(default_factory=LinksConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    payload: PayloadConfig = Field(default_factory=PayloadConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    slices: list[SliceConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Topology:
        seen: dict[str, str] = {self.controller.name: "controller"}
        for s, slice_ in enumerate(self.slices):
            nodes = [(f"slices[{s}]", slice_.name)] + [
                (f"slices[{s}].monitors[{m}]", monitor.name)
                for m, monitor in enumerate(slice_.monitors)
            ]
            for where, name in nodes:
                if name in seen:
                    raise ValueError(f"{where}.name '{name}' is already used by {seen[name]}")
                seen[name] = where
        return self

    @model_validator(mode="after")
    def _split_needs_no_vms(self) -> Topology:
        if self.data.partition == "split":
            for s, slice_ in enumerate(self.slices):
                for m, monitor in enumerate(slice_.monitors):
                    if monitor.vms or monitor.source:
                        raise ValueError(
                            f"slices[{s}].monitors[{m}] names its own vms or source, which "
                            "data.partition: split does not use (it cuts data.source)"
                        )
        return self

    @model_validator(mode="after")
    def _generated_threshold_needs_cmsf(self) -> Topology:
        if self.evaluation.threshold == "generated" and self.model.name != "cmsf-attae":
            raise ValueError(
                f"evaluation.threshold: generated needs model.name cmsf-attae, not "
                f"{self.model.name}"
            )
        return self

    @model_validator(mode="after")
    def _labelled_monitors_to_train_on(self) -> Topology:
        if self.model.name != "cmsf-attae":
            return self
        for s, slice_ in enumerate(self.slices):
            for m, monitor in enumerate(slice_.monitors):
                if self.mode == "standalone" and not monitor.labelled_anomalies:
                    raise ValueError(
                        f"slices[{s}].monitors[{m}]: in standalone mode a monitor without "
                        "labelled anomalies has no generator to learn from (set "
                        "labelled_anomalies: true, or use distributed or federated mode)"
                    )
            labelled = any(monitor.labelled_anomalies for monitor in slice_.monitors)
            if self.mode in ("distributed", "federated") and not labelled:
                raise ValueError(
                    f"slices[{s}]: no monitor has labelled anomalies, so the slice's CMSF-GAN "
                    "has no discriminator to train with"
                )
        if not any(monitor.labelled_anomalies for _, monitor in self.monitors):
            raise ValueError("no monitor has labelled anomalies for CMSF-GAN to train on")
        return self

    _origin: str = PrivateAttr("")
    _options: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def origin(self) -> str:
        """The file the topology was read from, with the data source that replaced the file's
        where one did; empty for a topology made on the command line. Named in errors about
        the data the topology names (a VM its source lacks)."""
        return self._origin

    def mark_origin(self, origin: str, options: dict[str, str] | None = None) -> None:
        """Set :attr:`origin` and the command-line options behind settings (see :meth:`set_by`).

        Parameters
        ----------
        origin
            The file, as the user gave it, and the data source that replaced its own; empty
            where there is no file.
        options
            Dotted YAML path -> the command-line option that set it.
        """
        self._origin = origin
        self._options = dict(options or {})

    def set_by(self, path: str) -> str:
        """What set a setting, for an error that its value causes with the data.

        Parameters
        ----------
        path
            A dotted YAML path, such as ``model.batch_size``.

        Returns
        -------
        str
            The command-line option that set it, else :attr:`origin` (empty for a default of
            a topology made on the command line).
        """
        return self._options.get(path, self._origin)

    def blamed(self, message: str, path: str | None = None) -> str:
        """``message`` after what set the setting at ``path`` (:meth:`set_by`), or after
        :attr:`origin` without a path; as it is where neither is known.

        Parameters
        ----------
        message
            The problem, naming the YAML path.
        path
            A dotted YAML path whose value causes the problem, such as ``model.batch_size``.

        Returns
        -------
        str
            ``<option or file>: <message>``, or ``message``.
        """
        where = self.origin if path is None else self.set_by(path)
        return f"{where}: {message}" if where else message

    @property
    def monitors(self) -> list[tuple[SliceConfig, MonitorConfig]]:
        """Every monitor with its slice, in topology order."""
        return [(slice_, monitor) for slice_ in self.slices for monitor in slice_.monitors]

    def slice_device(self, slice_: SliceConfig) -> str:
        """The device setting that applies to a slice manager."""
        return slice_.device or self.device
