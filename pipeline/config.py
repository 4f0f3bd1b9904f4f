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
    """

    source: str = "cifar10"
    data_dir: str = EMBEDDED_DATA_DIR
    image_size: int = 32
    schema: str = "cifar10"


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained (shared by both models unless a `ModelConfig` overrides it).

    Attributes:
      epochs: passes over the training split; 0 exports the untrained model.
      batch_size: images per step.
      learning_rate: peak learning rate of the cosine schedule (after warm-up).
      warmup_epochs: linear warm-up length in epochs.
      weight_decay: decoupled weight decay of AdamW.
      augment: random horizontal flip + pad-and-crop, drawn anew every epoch.
      pad: pixels of zero padding before the random crop.
      steps_per_epoch: training steps per epoch; None counts the training records once.
      seed: seeds weights, shuffling and augmentation.
    """

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3
    warmup_epochs: int = 1
    weight_decay: float = 1e-4
    augment: bool = True
    pad: int = 4
    steps_per_epoch: int | None = None
    seed: int = 42


@dataclass(frozen=True)
class ModelConfig:
    """A registered model and per-model changes to the shared training recipe.

    Attributes:
      name: a name from `models.registry.list_models()`.
      overrides: keyword arguments passed to the model builder (e.g. num_tokens).
      epochs: replaces `TrainConfig.epochs` for this model when set.
      learning_rate: replaces `TrainConfig.learning_rate` for this model when set.
    """

    name: str
    overrides: dict[str, typing.Any] = field(default_factory=dict)
    epochs: int | None = None
    learning_rate: float | None = None

    def train_config(self, shared: TrainConfig) -> TrainConfig:
        changes = {"epochs": self.epochs, "learning_rate": self.learning_rate}
        return dataclasses.replace(shared, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class GateConfig:
    """When a model may be pushed (TFMA thresholds on top-1 accuracy, overall slice).

    Attributes:
      min_accuracy: absolute floor every pushed model must reach.
      min_gain: the candidate (VT) is blessed when its accuracy minus the baseline's (CNN) is
        at least this; 0.0 means "at least as good as the CNN".
    """

    min_accuracy: float = 0.2
    min_gain: float = 0.0


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


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs. Paths are derived from `output_root` and `name`.

    Attributes:
      beam: how Beam-powered components run: "in_memory" (DirectRunner, one process; the
        fastest here), "multi_processing" (DirectRunner, one worker per core) or "dataflow".
      beam_args: extra Beam options appended to the preset's (any runner flag).
      project_root: the folder holding schemas/ (this checkout; the image's container_root
        when compiled for a cluster).
    """

    name: str = "vt-vs-cnn"
    output_root: str = os.path.join(REPO_ROOT, "outputs")
    data: DataConfig = field(default_factory=DataConfig)
    candidate: ModelConfig = field(default_factory=lambda: ModelConfig("vt_resnet_tiny"))
    baseline: ModelConfig = field(default_factory=lambda: ModelConfig("resnet_tiny"))
    train: TrainConfig = field(default_factory=TrainConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    beam: str = "in_memory"
    beam_args: tuple[str, ...] = ()
    cloud: CloudConfig = field(default_factory=CloudConfig)
    enable_cache: bool = True
    project_root: str = REPO_ROOT

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
    """The embedded CIFAR-10 sample; VT-ResNet-tiny vs ResNet-tiny; minutes on a laptop CPU."""
    return PipelineConfig()


def _smoke() -> PipelineConfig:
    """The smallest meaningful run, for tests: one epoch each, small batches."""
    return PipelineConfig(
        name="smoke",
        train=TrainConfig(epochs=1, batch_size=16, warmup_epochs=0),
        gate=GateConfig(min_accuracy=0.0),
    )


def _cifar10() -> PipelineConfig:
    """Full CIFAR-10 (python layout, `--data-dir`): VT-ResNet-18 vs ResNet-18, CIFAR stems."""
    return PipelineConfig(
        name="cifar10",
        data=DataConfig(source="cifar10", data_dir="cifar-10-batches-py"),
        candidate=ModelConfig("vt_resnet18_cifar"),
        baseline=ModelConfig("resnet18_cifar"),
        train=TrainConfig(epochs=100, batch_size=128, learning_rate=2e-3, warmup_epochs=5),
        gate=GateConfig(min_accuracy=0.5),
    )


PRESETS: dict[str, Callable[[], PipelineConfig]] = {
    "default": _default,
    "smoke": _smoke,
    "cifar10": _cifar10,
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
    return dataclasses.replace(obj, **{head: _parse_value(hint, raw, dotted)})


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
