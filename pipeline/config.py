"""The one typed configuration of a pipeline run, its named presets, and dotted overrides.

An experiment is a `PipelineConfig`; presets are functions returning one, and command-line
flags only replace fields (`apply_overrides(config, {"train.epochs": "3"})`). The pipeline
reads the config; nothing reads flags or the environment behind its back.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from components.image_example_gen.defaults import (
    DEFAULT_MAX_REJECTED_FRACTION,
    DEFAULT_SHARD_BYTES,
)
from models.ranges import (
    AT_LEAST_0,
    AT_LEAST_1,
    FRACTION,
    GAIN,
    POSITIVE,
    Range,
    check_choice,
    check_ranges,
)
from models.registry import builder_kind, check_model_name
from models.training.recipe import (
    DistillationConfig,
    OptimizerConfig,
    RegularisationConfig,
    ScheduleConfig,
    TrainConfig,
)

BEAM_MODES = ("in_memory", "multi_processing", "portable", "dataflow")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMBEDDED_DATA_DIR = os.path.join(REPO_ROOT, "data", "cifar10-sample")


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from and the size the models see.

    Attributes:
      source: name of an ExampleGen source (`components/image_example_gen/sources`).
      data_dir: local or gs:// directory in the source's layout.
      image_size: side in pixels that Transform resizes every image to.
      schema: name of a folder under `schemas/` holding the curated `schema.pbtxt`.
      split_ratios: hash buckets per output split of the data set's train split (or only
        split) when it has no eval split of its own, e.g. {"train": 8, "eval": 2}; None:
        9:1 train/eval, or 8:1:1 train/eval/test when it has no test split either
        (`components/image_example_gen/splits.py`).
      max_per_class: read at most this many images per class and split (folder, imagenet);
        None reads all.
      max_rejected_fraction: ExampleGen fails when more than this fraction of the inputs
        (corrupt, empty or non-image files, unknown classes...) is rejected.
      cache_dir: where official archives (CIFAR) are downloaded and unpacked; None is
        `$XDG_CACHE_HOME/vt-tfx/datasets` (`~/.cache/...` when XDG_CACHE_HOME is unset).
      download: CIFAR: a `data_dir` that does not exist means the official archive in
        `cache_dir`, downloaded when missing (off: a mistyped path is an error). An empty
        `data_dir`, the CIFAR presets' default, always means the cache.
      shard_mb: about this many MiB of serialized examples per output TFRecord shard; shards
        are written in a repeatable order (`components/image_example_gen/shards.py`).
      min_images_per_class: ExampleGen stops the run unless two classes or more have at least
        this many training examples; classes below it are named in the run summary.
      read_outside_data_dir: read inputs that lead outside `data_dir` (symlinks, `..`,
        absolute manifest paths); by default they are rejected unread (docs/datasets.md,
        "Untrusted data").
    """

    source: str = "cifar10"
    data_dir: str = EMBEDDED_DATA_DIR
    image_size: int = 32
    schema: str = "cifar10"
    split_ratios: dict[str, int] | None = None
    max_per_class: int | None = None
    max_rejected_fraction: float = DEFAULT_MAX_REJECTED_FRACTION
    cache_dir: str | None = None
    download: bool = False
    shard_mb: float = DEFAULT_SHARD_BYTES / 2**20
    min_images_per_class: int = 5
    read_outside_data_dir: bool = False

    def __post_init__(self):
        check_ranges(
            self,
            {
                # At 8 px the last stage of a CIFAR stem (1/8 of the input) has one pixel;
                # the models are also built once at the chosen size before a run starts.
                "image_size": Range(8, 4096),
                "max_per_class": AT_LEAST_1,
                "max_rejected_fraction": FRACTION,
                "shard_mb": POSITIVE,
                "min_images_per_class": AT_LEAST_1,
            },
        )
        if self.max_per_class is not None and self.max_per_class < self.min_images_per_class:
            raise ValueError(
                f"max_per_class {self.max_per_class} is below min_images_per_class "
                f"{self.min_images_per_class}: no class could reach it"
            )


@dataclass(frozen=True)
class ModelConfig:
    """A registered model and per-model changes to the shared training recipe.

    Attributes:
      name: a name from `models.registry.list_models()`.
      overrides: keyword arguments passed to the model builder (e.g. num_tokens).
      epochs: replaces `TrainConfig.epochs` for this model when set.
      learning_rate: replaces `TrainConfig.optimizer.learning_rate` for this model when set.
      teacher: replaces `TrainConfig.distillation.teacher` for this model when set.
    """

    name: str
    overrides: dict[str, typing.Any] = field(default_factory=dict)
    epochs: int | None = None
    learning_rate: float | None = None
    teacher: str | None = None

    def __post_init__(self):
        check_model_name(self.name)
        check_ranges(self, {"epochs": AT_LEAST_0, "learning_rate": POSITIVE})

    def train_config(self, shared: TrainConfig) -> TrainConfig:
        """The shared recipe with this model's changes."""
        train = shared
        if self.epochs is not None:
            train = dataclasses.replace(train, epochs=self.epochs)
        if self.learning_rate is not None:
            optimizer = dataclasses.replace(train.optimizer, learning_rate=self.learning_rate)
            train = dataclasses.replace(train, optimizer=optimizer)
        if self.teacher is not None:
            distillation = dataclasses.replace(train.distillation, teacher=self.teacher)
            train = dataclasses.replace(train, distillation=distillation)
        if not train.distillation.teacher:
            # A model without a teacher records no distillation settings, so that setting
            # them for the candidate (train.distillation.token, ...) leaves the baseline's
            # recipe, hence its cached Trainer, as it was.
            train = dataclasses.replace(train, distillation=DistillationConfig())
        return train


@dataclass(frozen=True)
class GateConfig:
    """When a model may be pushed (TFMA thresholds on top-1 accuracy, overall slice).

    Attributes:
      min_accuracy: absolute floor every pushed model must reach.
      min_gain_over_chance: every pushed model must also reach chance (1 / the number of
        classes) plus this: 0.1 means 0.2 on CIFAR-10 and 0.6 on two classes.
      allow_untrained: a model trained for 0 epochs may be pushed (off: it never is).
      min_gain: the candidate (VT) wins when the lower end of the `confidence` interval of
        its gain over the baseline (CNN), both scored on the same eval examples, is more
        than this; 0.0 means "better than the CNN beyond the eval split's noise" (a tie, or
        a gain within the noise, keeps the CNN).
      min_gain_over_production: the run's winner replaces the model in production (the
        newest pushed version; both scored when pushing, on this run's eval split) only when
        the lower end of the interval of its gain over production is more than this; 0.0
        means "better", a negative value lets a worse model replace it.
      confidence: of those intervals (paired bootstrap over the eval examples); 0.9 leaves
        a 5% chance of preferring a model that is not better.
    """

    min_accuracy: float = 0.2
    min_gain_over_chance: float = 0.1
    allow_untrained: bool = False
    min_gain: float = 0.0
    min_gain_over_production: float = 0.0
    confidence: float = 0.9

    def __post_init__(self):
        check_ranges(
            self,
            {
                "min_accuracy": FRACTION,
                "min_gain_over_chance": GAIN,
                "min_gain": GAIN,
                "min_gain_over_production": GAIN,
                "confidence": Range(0, 1, low_open=True, high_open=True),
            },
        )


@dataclass(frozen=True)
class EvaluationConfig:
    """What TFMA measures besides top-1 accuracy, and on which slices.

    Attributes:
      slices: features to slice by, one slice set each (besides the overall slice). Raw
        features (label_name, coarse_label_name) come from the examples; image-property
        buckets (brightness_bucket, contrast_bucket) from the Transform graph inside the model.
        A feature a data set lacks yields no slices.
      top_k: k of the top-k accuracy; None: 5, or the number of classes when the curated
        schema fixes fewer.
      calibration_bins: equal-width confidence bins of the expected calibration error.
      property_buckets: quantile buckets of each image property, computed by Transform over
        the training split (4 = quartiles).
    """

    slices: tuple[str, ...] = (
        "label_name",
        "coarse_label_name",
        "brightness_bucket",
        "contrast_bucket",
    )
    top_k: int | None = None
    calibration_bins: int = 10
    property_buckets: int = 4

    def __post_init__(self):
        check_ranges(
            self,
            {"top_k": AT_LEAST_1, "calibration_bins": AT_LEAST_1, "property_buckets": AT_LEAST_1},
        )


@dataclass(frozen=True)
class CloudConfig:
    """Where a compiled pipeline runs (Vertex AI Pipelines or Kubeflow) and with what.

    Attributes:
      image: container image with this project installed (see Dockerfile); required to compile.
      container_root: where the image holds the project (its schemas/ and data/).
      project, region, service_account: Google Cloud settings for Vertex AI and Dataflow.
      vertex_training: run both Trainers as Vertex AI Training jobs instead of in the pipeline
        step's container (TFX's Google Cloud AI Platform Trainer extension).
      training_machine_type, accelerator_type, accelerator_count: the Vertex AI Training
        worker, e.g. "n1-standard-8" with "NVIDIA_TESLA_T4" x 1.
      dataflow_machine_type, temp_location: Dataflow workers and their gs:// scratch space.
      volume: "PVC:MOUNT_PATH", Kubeflow only: every step mounts the persistent volume claim
        PVC at MOUNT_PATH, so that an output root under MOUNT_PATH is shared by the pods.
      model_registry: Vertex AI only: what PushWinner pushes also goes to the Vertex AI Model
        Registry and is deployed to the endpoint `endpoint` (default: the pipeline's name),
        served by `serving_image` (a Vertex AI prebuilt TensorFlow image) on
        `serving_machine_type` (pipeline/cloud_serving.py).
    """

    image: str = ""
    container_root: str = "/pipeline"
    project: str = ""
    region: str = "us-central1"
    service_account: str = ""
    vertex_training: bool = False
    training_machine_type: str = "n1-standard-8"
    accelerator_type: str = ""
    accelerator_count: int = 0
    dataflow_machine_type: str = "n1-standard-4"
    temp_location: str = ""
    volume: str = ""
    model_registry: bool = False
    serving_image: str = ""
    endpoint: str = ""
    serving_machine_type: str = "n1-standard-4"

    def __post_init__(self):
        if self.volume:
            parse_volume(self.volume)


def parse_volume(volume: str) -> tuple[str, str]:
    """ "PVC:MOUNT_PATH" -> (PVC, MOUNT_PATH); raises ValueError in one line otherwise."""
    claim, _, mount_path = volume.partition(":")
    if not claim or not mount_path.startswith("/"):
        raise ValueError(f"cloud.volume must be PVC_NAME:/MOUNT/PATH, got {volume!r}")
    return claim, mount_path.rstrip("/") or "/"


@dataclass(frozen=True)
class ResourceConfig:
    """What one component's container asks a cluster for (Vertex AI / Kubeflow Pipelines;
    local runs ignore it). 0 and "" leave the cluster's default.

    Attributes:
      cpu: vCPUs (the container's limit).
      memory: GB (10^9 bytes; the container's limit).
      accelerator_type: e.g. "NVIDIA_TESLA_T4" (Vertex AI's names); "" for none.
      accelerator_count: how many, when `accelerator_type` is set.
    """

    cpu: float = 0.0
    memory: float = 0.0
    accelerator_type: str = ""
    accelerator_count: int = 1

    def __post_init__(self):
        check_ranges(
            self, {"cpu": AT_LEAST_0, "memory": AT_LEAST_0, "accelerator_count": AT_LEAST_1}
        )


@dataclass(frozen=True)
class ResourcesConfig:
    """Resources of the components that do the heavy work, in a compiled pipeline. The
    defaults are a starting point, not measured on a cluster: a standard machine's worth
    for Transform and the Evaluator, twice that for the Trainers; give the Trainers an
    accelerator for the ImageNet presets."""

    transform: ResourceConfig = field(default_factory=lambda: ResourceConfig(4, 16))
    trainer: ResourceConfig = field(default_factory=lambda: ResourceConfig(8, 32))
    evaluator: ResourceConfig = field(default_factory=lambda: ResourceConfig(4, 16))


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs. Paths are derived from `output_root` and `name`.

    Attributes:
      beam: how Beam-powered components run: "in_memory" (DirectRunner, one process; the
        fastest here), "multi_processing" (DirectRunner, one worker per core), "portable"
        (PortableRunner on Beam's embedded job server; docs/runners.md) or "dataflow".
      beam_args: extra Beam options appended to the preset's (any runner flag).
      project_root: the folder holding schemas/ (this checkout; the image's container_root
        when compiled for a cluster).
    """

    name: str = "vt-vs-cnn"
    output_root: str = os.path.join(REPO_ROOT, "outputs")
    data: DataConfig = field(default_factory=DataConfig)
    candidate: ModelConfig = field(default_factory=lambda: ModelConfig("vt_resnet_tiny_prenorm"))
    baseline: ModelConfig = field(default_factory=lambda: ModelConfig("resnet_tiny"))
    train: TrainConfig = field(default_factory=TrainConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    beam: str = "in_memory"
    beam_args: tuple[str, ...] = ()
    cloud: CloudConfig = field(default_factory=CloudConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    enable_cache: bool = True
    project_root: str = REPO_ROOT

    def __post_init__(self):
        check_choice(self, "beam", BEAM_MODES)
        for role in ("candidate", "baseline"):
            model = getattr(self, role)
            distillation = model.train_config(self.train).distillation
            if distillation.model_options() and builder_kind(model.name) != "vt_resnet":
                raise ValueError(
                    f"train.distillation.token: {role} {model.name} has no visual tokens; "
                    "a distillation token needs a VT model (vt_resnet*)"
                )

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_root, "pipelines", self.name)

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_root, "metadata", self.name, "metadata.db")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.output_root, "serving", self.name)

    @property
    def schema_dir(self) -> str:
        return os.path.join(self.project_root, "schemas", self.data.schema)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


def _default() -> PipelineConfig:
    """The embedded CIFAR-10 sample; the small-data VT-ResNet-tiny (docs/models.md) vs
    ResNet-tiny; minutes on a laptop CPU. `--candidate vt_resnet_tiny` runs the paper's VT.

    Weight decay 0.05: on the 5,085-image subset it lifts the CNN by 2 points and leaves the
    VT as it was (docs/benchmarks.md, current numbers, "weight decay")."""
    regularisation = RegularisationConfig(weight_decay=0.05)
    return PipelineConfig(train=TrainConfig(regularisation=regularisation))


def _smoke() -> PipelineConfig:
    """The smallest meaningful run, for tests: one epoch each, small batches."""
    return PipelineConfig(
        name="smoke",
        # A third of the tiny training data for eval: the gate needs a few examples per class.
        data=DataConfig(min_images_per_class=1, split_ratios={"train": 2, "eval": 1}),
        train=TrainConfig(epochs=1, batch_size=16, schedule=ScheduleConfig(warmup_epochs=0)),
        # One epoch on a few images: the tests check the plumbing, not accuracy.
        gate=GateConfig(min_accuracy=0.0, min_gain_over_chance=-1.0),
    )


def _cifar10() -> PipelineConfig:
    """Full CIFAR-10 (python layout, `--data-dir`): VT-ResNet-18 vs ResNet-18, CIFAR stems."""
    return PipelineConfig(
        name="cifar10",
        data=DataConfig(source="cifar10", data_dir=""),  # the cache: downloaded if missing
        candidate=ModelConfig("vt_resnet18_cifar"),
        baseline=ModelConfig("resnet18_cifar"),
        train=TrainConfig(
            epochs=100,
            batch_size=128,
            optimizer=OptimizerConfig(learning_rate=2e-3),
            schedule=ScheduleConfig(warmup_epochs=5),
        ),
        gate=GateConfig(min_accuracy=0.5),
    )


def _cifar10_full() -> PipelineConfig:
    """All 50,000 CIFAR-10 training images on a 2-core CPU within the hour: ResNet-tiny vs
    the small-data VT of equal MACs (docs/models.md), each shown 50 epochs of the train split.
    The official python layout (`--data-dir`; its test batch is the test split, eval carved
    9:1 from train), or `--dataset folder --data-dir` a folder of class folders such as
    ../shared/data/cifar10-jpg (train, eval and test carved 8:1:1)."""
    return dataclasses.replace(
        _cifar10(),
        name="cifar10_full",
        candidate=ModelConfig("vt_resnet_tiny_prenorm"),
        baseline=ModelConfig("resnet_tiny"),
        train=TrainConfig(
            epochs=50,
            batch_size=128,
            optimizer=OptimizerConfig(learning_rate=3e-3),
            schedule=ScheduleConfig(warmup_epochs=3),
            # Decoupled decay of lr * 0.05 = 1.5e-4 per step at the peak (norms and biases
            # excluded); with the default 1e-4 it would be 3e-7, i.e. off.
            regularisation=RegularisationConfig(weight_decay=0.05, label_smoothing=0.1),
        ),
    )


def _cifar100() -> PipelineConfig:
    """CIFAR-100 (python or binary layout, or its .tar.gz; `--data-dir`), fine labels, with
    the coarse superclass as a slicing feature: VT-ResNet-18 vs ResNet-18, CIFAR stems."""
    cifar10 = _cifar10()
    return dataclasses.replace(
        cifar10,
        name="cifar100",
        data=DataConfig(source="cifar100", data_dir="", schema="cifar100"),
        gate=GateConfig(min_accuracy=0.3),
    )


def _imagenet() -> PipelineConfig:
    """ILSVRC2012 (`--data-dir` holding train/ and val/) at 224 px: VT-ResNet-18 vs ResNet-18
    (Wu et al. 2020, table 2), with Beam on every core for the 1.28M-file ingestion."""
    return PipelineConfig(
        name="imagenet",
        data=DataConfig(source="imagenet", data_dir="imagenet", image_size=224, schema="imagenet"),
        candidate=ModelConfig("vt_resnet18"),
        baseline=ModelConfig("resnet18"),
        train=TrainConfig(
            epochs=90,
            batch_size=256,
            optimizer=OptimizerConfig(learning_rate=2e-3),
            schedule=ScheduleConfig(warmup_epochs=5),
        ),
        gate=GateConfig(min_accuracy=0.5),
        beam="multi_processing",
    )


def _folder() -> PipelineConfig:
    """Your own images as class folders (`--data-dir`; see components/image_example_gen),
    resized to 64 px, split 80/10/10 by a hash of each file's path when there is no
    train/ + val/ at the top."""
    return PipelineConfig(
        name="folder",
        data=DataConfig(
            source="folder",
            data_dir="images",
            image_size=64,
            schema="folder",
        ),
    )


def _mnist(source: str, name: str) -> Callable[[], PipelineConfig]:
    def preset() -> PipelineConfig:
        return PipelineConfig(
            name=name,
            data=DataConfig(source=source, data_dir=name, image_size=28, schema=source),
            train=TrainConfig(epochs=10, batch_size=128),
        )

    preset.__doc__ = f"{name} IDX .gz files (`--data-dir`), 28 px grey: tiny VT vs tiny CNN."
    return preset


PRESETS: dict[str, Callable[[], PipelineConfig]] = {
    "default": _default,
    "smoke": _smoke,
    "cifar10": _cifar10,
    "cifar10_full": _cifar10_full,
    "cifar100": _cifar100,
    "imagenet": _imagenet,
    "folder": _folder,
    "mnist": _mnist("mnist", "mnist"),
    "fashion_mnist": _mnist("fashion_mnist", "fashion_mnist"),
    "kmnist": _mnist("kmnist", "kmnist"),
}


def get_preset(name: str) -> PipelineConfig:
    """Returns the named preset; raises ValueError naming the known presets."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]()


def apply_overrides(config: PipelineConfig, overrides: Mapping[str, str]) -> PipelineConfig:
    """Returns `config` with dotted fields replaced, e.g. {"train.epochs": "3"}.

    Values are strings (as typed on a command line) converted to the field's type; dict fields
    take JSON. Raises ValueError naming the valid fields when a key or value does not fit.
    """
    for dotted, raw in overrides.items():
        config = _replace_path(config, dotted.split("."), raw, dotted)
    return config


def _replace_path(obj: typing.Any, path: list[str], raw: str, dotted: str) -> typing.Any:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    head = path[0]
    if head not in fields:
        raise ValueError(f"unknown config field {dotted!r}; fields here: {', '.join(fields)}")
    current = getattr(obj, head)
    if len(path) > 1:
        if not dataclasses.is_dataclass(current):
            raise ValueError(f"config field {dotted!r}: {head!r} has no sub-fields")
        return dataclasses.replace(obj, **{head: _replace_path(current, path[1:], raw, dotted)})
    hint = typing.get_type_hints(type(obj))[head]
    value = _parse_value(hint, raw, dotted)
    try:
        return dataclasses.replace(obj, **{head: value})
    except ValueError as error:  # a check of the dataclass: say which field of which section
        message = str(error)
        if message.startswith(f"{head} "):
            raise ValueError(dotted + message[len(head) :]) from None
        raise ValueError(f"{dotted}: {message}") from None


def _parse_value(hint: typing.Any, raw: str, dotted: str) -> typing.Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null", ""):
            return None
        [hint] = [a for a in typing.get_args(hint) if a is not type(None)]
        return _parse_value(hint, raw, dotted)
    parsers: dict[typing.Any, Callable[[str], typing.Any]] = {
        bool: _parse_bool,
        int: int,
        float: float,
        str: str,
        dict: _parse_json_object,
        tuple: lambda text: tuple(s for s in text.split(",") if s),
    }
    parse = parsers.get(origin or hint)
    if parse is None:
        raise ValueError(f"config field {dotted!r} cannot be set from the command line")
    try:
        return parse(raw)
    except ValueError:
        name = getattr(origin or hint, "__name__", str(hint))
        raise ValueError(f"config field {dotted!r}: {raw!r} is not a valid {name}") from None


def _parse_bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError(text)


def _parse_json_object(text: str) -> dict[str, typing.Any]:
    value = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(value, dict):
        raise ValueError(text)
    return value
