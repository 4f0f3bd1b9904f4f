"""The Trainer's module: `run_fn`, TFX Trainer's entry point, shared by every model.

`run_fn` reads everything from `fn_args` (files, Transform output, serving dir, base model) and
from `fn_args.custom_config`, a JSON-able dict made by `trainer_custom_config`:

    model            registered model name (models/registry.py)
    model_overrides  builder keyword arguments
    train            the training recipe, `TrainConfig.to_dict()` (models/training/recipe.py)
    image_size       side of the square images Transform produces
    checkpoint_root  stable directory for epoch checkpoints, or None (no resume)

The class names (label index -> human-readable name, exported with the model; their count
sizes the classifier) are not in that config: the Trainer (`components/trainer/component.py`)
reads them at run time from ImageExampleGen's Examples artifact (`dataset_class_names`).

Checkpoints and resume: TFX gives every execution a new `model_run_dir`, so a re-run of an
interrupted Trainer could not find its checkpoints there. They live under `checkpoint_root`
(the pipeline passes <pipeline_root>/checkpoints/<component id>) in a sub-directory named by a
hash of the custom config and the input artifacts, so only an identical re-run resumes: it
restores weights, optimizer state (hence the step and the learning rate) and the epoch, and
continues at the next epoch (`models/training/fit.py`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from absl import logging
from tfx import v1 as tfx

from components.trainer.dataset import dataset_class_names
from components.trainer.inputs import count_records, input_fn
from features import MODEL_INFO_FILE
from models.costs import count_macs, count_params
from models.training.callbacks import agree_with_chief
from models.training.distillation import Distiller, load_teacher
from models.training.distribute import create_strategy, set_precision
from models.training.export import export_serving_model
from models.training.fit import fit
from models.training.model import build_model
from models.training.recipe import BASELINE_TEACHER, TrainConfig


def trainer_custom_config(
    *,
    model: str,
    model_overrides: dict[str, Any],
    train: TrainConfig,
    image_size: int,
    checkpoint_root: str | None = None,
) -> dict[str, Any]:
    """The `custom_config` dict `run_fn` expects (one place that knows its keys)."""
    return {
        "model": model,
        "model_overrides": dict(model_overrides),
        "train": train.to_dict(),
        "image_size": int(image_size),
        "checkpoint_root": checkpoint_root,
    }


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """TFX Trainer entry point: train the configured model and export it for serving."""
    config = fn_args.custom_config
    train = TrainConfig.from_dict(config["train"])
    model_name = config["model"]
    class_names = dataset_class_names(fn_args)
    keras.utils.set_random_seed(train.seed)
    tf.config.experimental.enable_op_determinism()
    set_precision(train.mixed_precision)
    strategy = create_strategy(train.strategy)

    tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    with strategy.scope():
        model = build_model(
            model_name,
            overrides=config["model_overrides"],
            train=train,
            image_size=config["image_size"],
            num_classes=len(class_names),
        )
    if train.epochs > 0:
        num_train = count_records(fn_args.train_files)
        num_eval = count_records(fn_args.eval_files)
        steps_per_epoch = train.steps_per_epoch or math.ceil(num_train / train.batch_size)
        with strategy.scope():
            trainable = _with_teacher(model, train, fn_args.base_model)

        # Under MultiWorkerMirroredStrategy, every worker builds the same global batches
        # (same files, same seeds) and keeps its share of each (DATA sharding): the workers
        # share out the batches and augmentation draws of a one-machine run. The default
        # (FILE sharding) fails with fewer files than workers, and Transform writes few.
        sharding = tf.data.Options()
        sharding.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )

        def dataset(files: list[str], training: bool, first_step: int = 0) -> tf.data.Dataset:
            return input_fn(
                files,
                fn_args.data_accessor,
                tf_transform_output,
                train=train,
                num_classes=len(class_names),
                training=training,
                first_step=first_step,
                num_examples=num_train if training else num_eval,
            ).with_options(sharding)

        fit(
            trainable,
            lambda first_step: dataset(fn_args.train_files, True, first_step),
            dataset(fn_args.eval_files, False),
            train=train,
            model_name=model_name,
            steps_per_epoch=steps_per_epoch,
            run_dir=fn_args.model_run_dir,
            checkpoint_directory=checkpoint_dir(config, fn_args, resume=train.checkpoint.resume),
            strategy=strategy,
        )
    else:
        logging.info("[%s] epochs=0: exporting the untrained model", model_name)
    # Under MultiWorkerMirroredStrategy every worker exports (the save all-reduces the
    # batch-norm statistics), but only the chief into serving_model_dir, the others into a
    # local scratch directory.
    chief = strategy.extended.should_checkpoint
    export_dir = fn_args.serving_model_dir if chief else tempfile.mkdtemp(prefix="export-")
    export_serving_model(model, tf_transform_output, class_names, export_dir)
    if chief:
        write_model_info(model, config, fn_args.model_run_dir)
    else:
        tf.io.gfile.rmtree(export_dir)
    # TFX's executor then fails any worker that finds no serving_model_dir: none returns
    # before the chief has written it (agreeing is an all-reduce, so a barrier).
    agree_with_chief(strategy, True)


def write_model_info(model: keras.Model, config: dict[str, Any], run_dir: str) -> None:
    """What the Trainer records on its Model artifact in ML Metadata (component.py): the
    registered architecture, its parameters and MACs per image, and the recipe."""
    info = {
        "model_name": config["model"],
        "model_overrides": config["model_overrides"],
        "params": count_params(model),
        "macs": count_macs(model),
        "recipe": config["train"],
    }
    with tf.io.gfile.GFile(os.path.join(run_dir, MODEL_INFO_FILE), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)


def _with_teacher(model: keras.Model, train: TrainConfig, base_model: str | None) -> keras.Model:
    """`model`, or a `Distiller` around it when `train.distillation.teacher` names one."""
    distillation = train.distillation
    teacher = distillation.teacher
    if not teacher:
        return model
    if teacher == BASELINE_TEACHER:
        if not base_model:
            raise ValueError(
                "train.distillation.teacher='baseline' needs the baseline Trainer's model as "
                "base_model; set it on the candidate only."
            )
        teacher = base_model
    return Distiller(
        model,
        load_teacher(teacher),
        temperature=distillation.temperature,
        weight=distillation.weight,
        hard=distillation.hard,
        label_smoothing=train.regularisation.label_smoothing,
    )


def checkpoint_dir(
    config: dict[str, Any], fn_args: tfx.components.FnArgs, *, resume: bool
) -> str | None:
    """<checkpoint_root>/<hash of the custom config and input artifacts>, or None when
    there is no checkpoint root or the recipe does not `resume`.

    Two executions share the directory only when they would train the same model on the
    same data, so a re-run resumes and a changed run starts afresh.
    """
    if not config.get("checkpoint_root") or not resume:
        return None
    key = {
        "config": {k: v for k, v in config.items() if k != "checkpoint_root"},
        "train_files": fn_args.train_files,
        "eval_files": fn_args.eval_files,
        "transform_output": fn_args.transform_graph_path,  # the key keeps old hashes
        "base_model": fn_args.base_model,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return os.path.join(config["checkpoint_root"], digest)
