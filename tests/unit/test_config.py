import json

import pytest

from models.training.recipe import DistillationConfig, OptimizerConfig
from pipeline.commands import run
from pipeline.config import (
    PRESETS,
    ModelConfig,
    PipelineConfig,
    TrainConfig,
    apply_overrides,
    get_preset,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_a_config(name):
    assert isinstance(get_preset(name), PipelineConfig)


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="known presets: cifar10, cifar100, cifar10_full, default"):
        get_preset("cifar11")


def test_overrides_convert_to_the_field_type():
    config = apply_overrides(
        get_preset("default"),
        {
            "train.epochs": "3",
            "train.optimizer.learning_rate": "0.01",
            "train.augment.enabled": "false",
            "train.steps_per_epoch": "none",
            "candidate.overrides": '{"num_tokens": 8}',
            "beam_args": "--direct_num_workers=2,--direct_running_mode=multi_processing",
        },
    )
    assert config.train.epochs == 3
    assert config.train.optimizer.learning_rate == 0.01
    assert config.train.augment.enabled is False
    assert config.train.steps_per_epoch is None
    assert config.candidate.overrides == {"num_tokens": 8}
    assert config.beam_args == (
        "--direct_num_workers=2",
        "--direct_running_mode=multi_processing",
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train.epoch", "3", "unknown config field 'train.epoch'"),
        ("train.epochs", "three", "not a valid"),
        ("train.augment.enabled", "maybe", "not a valid"),
        ("train.augment", "true", "cannot be set from the command line"),
        ("train.optimizer.name", "adam", "train.optimizer.name must be one of adamw, sgd, rmsprop"),
        ("name.first", "x", "has no sub-fields"),
        ("data.max_per_class", "0", "must be at least 1"),
        ("data.max_per_class", "3", "max_per_class 3 is below min_images_per_class 5"),
        (
            "train.optimizer.learning_rate",
            "nan",
            "train.optimizer.learning_rate must be more than 0; got nan",
        ),
        ("data.shard_mb", "inf", "data.shard_mb must be more than 0; got inf"),
        ("train.epochs", "-1", r"train.epochs must be at least 0; got -1"),
        ("train.batch_size", "0", r"train.batch_size must be at least 1; got 0"),
        ("train.regularisation.label_smoothing", "1", r"must be in \[0, 1\); got 1.0"),
        ("train.optimizer.learning_rate", "0", "must be more than 0"),
        ("data.image_size", "0", r"data.image_size must be in \[8, 4096\]; got 0"),
        ("data.max_rejected_fraction", "2", r"must be in \[0, 1\]"),
        ("gate.min_accuracy", "1.5", r"gate.min_accuracy must be in \[0, 1\]"),
        ("evaluation.top_k", "0", "evaluation.top_k must be at least 1"),
        ("candidate.name", "vt_small", "candidate.name: Unknown model 'vt_small'. Known models:"),
        ("candidate.epochs", "-2", "candidate.epochs must be at least 0; got -2"),
        ("beam", "flink", "beam must be one of in_memory, multi_processing, portable, dataflow"),
    ],
)
def test_bad_overrides_say_what_is_wrong(key, value, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(get_preset("default"), {key: value})


def test_max_per_class_flag_sets_the_subset_size():
    config = run.build_config(run.parse_args(["--dataset=imagenet", "--max-per-class=30"]))

    assert (config.data.source, config.data.max_per_class) == ("imagenet", 30)


def test_reading_outside_the_data_dir_is_off_unless_asked_for():
    default = run.build_config(run.parse_args([]))
    asked = run.build_config(run.parse_args(["--read-outside-data-dir"]))

    assert (default.data.read_outside_data_dir, asked.data.read_outside_data_dir) == (False, True)


def test_model_config_replaces_only_the_fields_it_sets():
    shared = TrainConfig(epochs=5, optimizer=OptimizerConfig(learning_rate=0.1))
    assert ModelConfig("simple_cnn", epochs=0).train_config(shared) == TrainConfig(
        epochs=0, optimizer=OptimizerConfig(learning_rate=0.1)
    )
    assert ModelConfig("simple_cnn", teacher="baseline").train_config(shared) == TrainConfig(
        epochs=5,
        optimizer=OptimizerConfig(learning_rate=0.1),
        distillation=DistillationConfig(teacher="baseline"),
    )
    assert ModelConfig("simple_cnn").train_config(shared) == shared


def test_distillation_settings_reach_only_a_model_with_a_teacher():
    token = TrainConfig(distillation=DistillationConfig(token=True, weight=0.5))
    config = PipelineConfig(
        candidate=ModelConfig("vt_resnet_tiny", teacher="baseline"), train=token
    )
    assert config.candidate.train_config(config.train).distillation.token
    # The baseline's recipe (hence its cached Trainer) is as without the settings.
    assert config.baseline.train_config(config.train) == TrainConfig()


def test_a_distillation_token_for_a_cnn_is_a_clear_error():
    token = TrainConfig(distillation=DistillationConfig(token=True))
    with pytest.raises(ValueError, match="candidate resnet_tiny has no visual tokens"):
        PipelineConfig(candidate=ModelConfig("resnet_tiny", teacher="baseline"), train=token)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_the_recipe_travels_to_the_trainer_and_back_unchanged(name):
    train = get_preset(name).train

    assert TrainConfig.from_dict(json.loads(json.dumps(train.to_dict()))) == train


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learning_rate": 0.1}, "train has no field 'learning_rate'"),
        ({"optimizer": {"name": "adam"}}, "name must be one of adamw, sgd, rmsprop"),
        ({"schedule": {"warmup_epochs": -1}}, "warmup_epochs must be at least 0"),
    ],
)
def test_a_recipe_read_back_is_checked_as_when_it_was_built(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(values)


def test_paths_derive_from_output_root_and_name(tmp_path):
    config = apply_overrides(get_preset("default"), {"output_root": str(tmp_path), "name": "x"})
    assert config.pipeline_root == str(tmp_path / "pipelines" / "x")
    assert config.metadata_path == str(tmp_path / "metadata" / "x" / "metadata.db")
    assert config.serving_dir == str(tmp_path / "serving" / "x")
