"""The training loop: resume after an interruption, the learning-rate log, the recipe knobs;
the Trainer component's input pipeline and access to the class names."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tfx.types import artifact_utils, standard_artifacts

from components.image_example_gen.component import create_image_example_gen
from components.trainer import component
from components.trainer.dataset import dataset_class_names
from components.trainer.inputs import fits_in_memory, shuffled_batches
from features import IMAGE_KEY, LABEL_KEY
from models.registry import build_model
from models.training.fit import fit
from models.training.optimizers import build_optimizer
from models.training.recipe import (
    CheckpointConfig,
    EmaConfig,
    OptimizerConfig,
    RegularisationConfig,
    ScheduleConfig,
    TrainConfig,
)
from tests.fixtures import trainer as trainer_fixture
from tests.fixtures.cifar import CIFAR10_CLASS_NAMES, write_cifar10_python
from tests.fixtures.reading import run_executor

STEPS, BATCH, CLASSES = 2, 4, 3


def _train(**changes) -> TrainConfig:
    config = TrainConfig(
        epochs=3,
        batch_size=BATCH,
        optimizer=OptimizerConfig(learning_rate=0.1),
        schedule=ScheduleConfig(name="paper", warmup_epochs=1),
        checkpoint=CheckpointConfig(every_seconds=0),
    )
    return dataclasses.replace(config, **changes)


def _batches(first_step: int, fail_at: int | None = None) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(BATCH, 8, 8, 3)).astype("float32")
    labels = tf.one_hot(np.arange(BATCH) % CLASSES, CLASSES)
    steps = tf.data.Dataset.counter(start=first_step)
    if fail_at is not None:  # simulates the machine dying in the middle of training
        steps = steps.map(
            lambda s: tf.debugging.check_numerics(tf.where(s < fail_at, 0.0, np.nan), "interrupted")
        )
    return steps.map(lambda _: (images, labels))


def _model():
    return build_model("simple_cnn", input_shape=(8, 8, 3), num_classes=CLASSES, widths=(4,))


def test_in_memory_training_data_is_a_new_permutation_every_epoch_and_repeatable():
    train = _train(batch_size=5, seed=7)

    def first_three_epochs() -> list[list[int]]:
        batches = shuffled_batches(tf.data.Dataset.range(10), 10, train).take(6)
        order = [int(i) for batch in batches for i in batch]
        return [order[0:10], order[10:20], order[20:30]]

    tf.random.set_seed(1)
    epochs = first_three_epochs()
    for epoch in epochs:
        assert sorted(epoch) == list(range(10)), "every epoch holds each example exactly once"
    assert epochs[0] != epochs[1] and epochs[1] != epochs[2], "a new order every epoch"
    tf.random.set_seed(1)
    assert first_three_epochs() == epochs, "the same seeds give the same order"


def test_training_data_is_kept_in_memory_only_when_it_fits_the_budget():
    spec = {
        IMAGE_KEY: tf.io.FixedLenFeature([32, 32, 3], tf.float32),  # 12 KiB
        LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    }
    example_mib = (32 * 32 * 3 * 4 + 8) / 2**20
    assert fits_in_memory(1000, spec, max_mb=2 * 1000 * example_mib)
    assert not fits_in_memory(1001, spec, max_mb=2 * 1000 * example_mib)
    assert not fits_in_memory(1, spec, max_mb=0)


def test_resume_continues_at_the_right_epoch_and_learning_rate(tmp_path):
    train = _train()
    checkpoints, run_dir = str(tmp_path / "ckpt"), str(tmp_path)
    kwargs = dict(
        train=train,
        model_name="m",
        steps_per_epoch=STEPS,
        run_dir=run_dir,
        checkpoint_directory=checkpoints,
    )
    eval_ds = _batches(0).take(1)
    with pytest.raises(tf.errors.InvalidArgumentError):
        fit(_model(), lambda first: _batches(first, fail_at=STEPS + 1), eval_ds, **kwargs)
    assert tf.train.latest_checkpoint(checkpoints).endswith("-1")

    first_steps = []

    def batches(first_step):
        first_steps.append(first_step)
        return _batches(first_step)

    model = _model()
    history = fit(model, batches, eval_ds, **kwargs)
    assert first_steps == [STEPS]  # augmentation draws continue where they stopped
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert int(model.optimizer.iterations) == 3 * STEPS
    # Paper schedule: warm-up over epoch 1, then x0.9875 per epoch (lr read at epoch end).
    assert history[1]["learning_rate"] == pytest.approx(0.1 * 0.9875**0, rel=1e-5)
    assert history[2]["learning_rate"] == pytest.approx(0.1 * 0.9875**1, rel=1e-5)
    assert not tf.io.gfile.exists(checkpoints)  # removed once training completed


def test_epochs_are_checkpointed_only_once_the_interval_has_passed(tmp_path):
    checkpoints = tmp_path / "ckpt"
    kwargs = dict(model_name="m", steps_per_epoch=STEPS, run_dir=str(tmp_path))
    eval_ds = _batches(0).take(1)
    with pytest.raises(tf.errors.InvalidArgumentError):
        fit(
            _model(),
            lambda first: _batches(first, fail_at=2 * STEPS + 1),
            eval_ds,
            train=_train(checkpoint=CheckpointConfig(every_seconds=3600)),
            checkpoint_directory=str(checkpoints),
            **kwargs,
        )
    assert tf.train.latest_checkpoint(str(checkpoints)) is None  # nothing to resume from

    first_steps = []

    def batches(first_step):
        first_steps.append(first_step)
        return _batches(first_step)

    fit(
        _model(),
        batches,
        eval_ds,
        train=_train(checkpoint=CheckpointConfig(every_seconds=3600)),
        checkpoint_directory=str(checkpoints),
        **kwargs,
    )
    assert first_steps == [0], "the re-run starts over instead of resuming"


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", "rmsprop"])
def test_optimizers_and_ema_build(optimizer):
    train = _train(
        optimizer=OptimizerConfig(name=optimizer, nesterov=True), ema=EmaConfig(decay=0.99985)
    )
    opt = build_optimizer(train, 0.1)
    assert opt.use_ema and opt.get_config()["ema_momentum"] == pytest.approx(0.99985)
    assert float(opt.ema_momentum) == pytest.approx(0.1)  # step 0 of the warm-up


def test_the_weight_average_forgets_the_initial_weights():
    """Keras' fixed decay keeps 0.999^100 = 90% of the initial weights after 100 steps."""
    train = _train(optimizer=OptimizerConfig(name="sgd", momentum=0.0), ema=EmaConfig(0.999))
    opt = build_optimizer(train, 1.0)
    weight = tf.Variable(0.0)
    for _ in range(100):
        opt.apply_gradients([(weight - 1.0, weight)])  # one step to 1.0, then stays
    opt.finalize_variable_values([weight])  # the average replaces the weight
    assert float(weight) > 0.99


def test_weight_decay_skips_biases_and_normalisation():
    model = keras.Sequential(
        [keras.Input([4]), keras.layers.Dense(3), keras.layers.LayerNormalization()]
    )
    train = _train(regularisation=RegularisationConfig(weight_decay=0.5))
    opt = build_optimizer(train, 1.0, model.trainable_variables)
    for v in model.trainable_variables:
        v.assign(tf.ones_like(v))
    zeros = [tf.zeros_like(v) for v in model.trainable_variables]
    opt.apply_gradients(zip(zeros, model.trainable_variables, strict=True))  # decay only
    kernel, bias, gamma, beta = (v.numpy() for v in model.trainable_variables)
    np.testing.assert_allclose(kernel, 0.5)
    for unchanged in (bias, gamma, beta):
        np.testing.assert_allclose(unchanged, 1.0)


def test_with_ema_the_epoch_lines_score_the_averaged_weights_that_ship(tmp_path):
    train = _train(
        epochs=2,
        optimizer=OptimizerConfig(name="sgd", learning_rate=0.5),
        ema=EmaConfig(decay=0.9),
    )
    eval_ds = _batches(0).take(1)
    model = _model()

    history = fit(
        model,
        _batches,
        eval_ds,
        train=train,
        model_name="m",
        steps_per_epoch=STEPS,
        run_dir=str(tmp_path),
        checkpoint_directory=None,
    )

    # After fit the model holds the average (Keras swaps it in); the last epoch line scored
    # the same weights, so it reports the same loss. Raw weights would differ at lr 0.5.
    shipped_loss = model.evaluate(eval_ds, verbose=0)[0]
    assert history[-1]["val_loss"] == pytest.approx(shipped_loss, rel=1e-5)


def test_stochastic_depth_and_dropout_reach_the_model():
    model = build_model(
        "resnet_tiny",
        input_shape=(16, 16, 3),
        num_classes=CLASSES,
        survival_prob=0.9,
        dropout=0.2,
    )
    names = [layer.name for layer in model.layers]
    assert "dropout" in names and any(name.endswith("_drop") for name in names)


def test_unknown_model_option_is_a_clear_error():
    with pytest.raises(ValueError, match="simple_cnn.*survival_prob"):
        build_model("simple_cnn", input_shape=(8, 8, 3), num_classes=2, survival_prob=0.9)


def _artifact(artifact_type, uri: Path):
    artifact = artifact_type()
    artifact.uri = str(uri)
    return artifact


def test_trainer_reads_the_class_names_image_example_gen_stored(tmp_path: Path) -> None:
    data_dir = write_cifar10_python(tmp_path / "data", 10, 1)
    exec_properties = create_image_example_gen(
        str(data_dir), "cifar10", split_ratios={"train": 1, "eval": 1}
    ).exec_properties
    dataset = _artifact(standard_artifacts.Examples, tmp_path / "examples")
    run_executor(exec_properties, tmp_path / "examples", dataset)
    transformed = _artifact(standard_artifacts.Examples, tmp_path / "transformed")
    transformed.split_names = artifact_utils.encode_split_names(["train", "eval"])
    model = _artifact(standard_artifacts.Model, tmp_path / "model")

    component.Executor().Do(
        {"examples": [transformed], component.DATASET_KEY: [dataset]},
        {"model": [model], "model_run": [_artifact(standard_artifacts.ModelRun, tmp_path / "run")]},
        {
            "train_args": "{}",
            "eval_args": "{}",
            "custom_config": json.dumps({"model": "simple_cnn"}),
            "run_fn": f"{trainer_fixture.__name__}.record_class_names",
        },
    )

    [names_file] = tf.io.gfile.glob(f"{model.uri}/*/{trainer_fixture.NAMES_FILE}")
    assert json.loads(Path(names_file).read_text()) == CIFAR10_CLASS_NAMES


def test_run_fn_without_the_dataset_input_says_how_to_build_the_trainer() -> None:
    class FnArgs:
        custom_config = {"model": "simple_cnn"}

    with pytest.raises(KeyError, match="create_trainer"):
        dataset_class_names(FnArgs())


@pytest.mark.parametrize(
    ("mixed_precision", "has_gpu", "flags", "expected"),
    [
        (False, True, {"avx512_bf16"}, "float32"),
        (True, True, set(), "mixed_float16"),
        (True, False, {"avx2", "avx512_bf16"}, "mixed_bfloat16"),
        (True, False, {"amx_bf16"}, "mixed_bfloat16"),
        (True, False, {"avx2", "avx512f"}, "float32"),
    ],
)
def test_mixed_precision_is_bfloat16_on_a_cpu_with_bfloat16_instructions(
    mixed_precision, has_gpu, flags, expected
):
    from models.training.distribute import precision_policy

    assert precision_policy(mixed_precision, has_gpu, flags) == expected


def test_a_vt_with_a_distillation_token_trains_in_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model(
            "vt_resnet_tiny_prenorm",
            input_shape=(32, 32, 3),
            num_classes=CLASSES,
            distillation_token=True,
            widths=(4, 8, 8, 8),
            token_channels=8,
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        )
        images = tf.random.stateless_normal([8, 32, 32, 3], seed=[0, 3])
        labels = tf.one_hot(np.arange(8) % CLASSES, CLASSES)
        losses = model.fit(images, labels, epochs=2, batch_size=4, verbose=0).history["loss"]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(losses).all()
    assert model.get_layer("vt1").compute_dtype == "bfloat16"
    assert model.output.dtype == tf.float32  # the heads and their average
