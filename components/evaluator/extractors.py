"""The Evaluator's UDF module (`module_path`): TFMA's extractors plus the slice features that
the Transform graph computes from the raw image.

TFMA reads the raw examples (what serving sees), so raw features such as `label_name` slice
directly. Image-property buckets (brightness, contrast) are computed by the Transform graph,
which TFMA does not run by itself: `custom_extractors` adds one step after feature parsing
that runs the candidate model's own Transform layer on the raw image and adds the bucket
features it outputs. Both models share one Transform graph, so the buckets are the same for
both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma

from features import IMAGE_KEY

# The Evaluator imports this module to find `custom_extractors`.
EVALUATOR_MODULE = __name__
FEATURES_EXTRACTOR_STAGE = "ExtractFeatures"


def custom_extractors(
    eval_shared_model: tfma.types.MaybeMultipleEvalSharedModels,
    eval_config: tfma.EvalConfig,
    tensor_adapter_config=None,
) -> list[tfma.extractors.Extractor]:
    """Evaluator UDF: TFMA's default extractors plus the Transform-computed slice features."""
    extractors = tfma.default_extractors(
        eval_shared_model=eval_shared_model,
        eval_config=eval_config,
        tensor_adapter_config=tensor_adapter_config,
    )
    models = eval_shared_model if isinstance(eval_shared_model, list) else [eval_shared_model]
    slice_features = sorted(
        {key for spec in eval_config.slicing_specs for key in spec.feature_keys}
    )
    [position] = [i for i, e in enumerate(extractors) if e.stage_name == FEATURES_EXTRACTOR_STAGE]
    transformed = tfma.extractors.Extractor(
        stage_name="ExtractTransformSliceFeatures",
        ptransform=beam.ParDo(_TransformSliceFeatures(models[0].model_path, slice_features)),
    )
    return extractors[: position + 1] + [transformed] + extractors[position + 1 :]


class _TransformSliceFeatures(beam.DoFn):
    """Adds the slice features the model's Transform layer computes from the raw image.

    The exported models keep the Transform graph as the function `transform_features` (see
    models/training/export.py); fed the raw `image` only, it returns every transformed feature that
    does not need the label.
    Features the examples already carry are left as they are.
    """

    def __init__(self, model_path: str, slice_features: Sequence[str]):
        self._model_path = model_path
        self._slice_features = list(slice_features)
        self._model = None
        self._transform = None

    def setup(self) -> None:
        import tensorflow as tf

        self._model = tf.saved_model.load(self._model_path)  # owns the graph's resources
        if hasattr(self._model, "transform_features"):
            self._transform = self._model.transform_features
        else:  # exported by an older Trainer (a cached one): the revived Keras layer
            layer = self._model.tft_layer
            self._transform = lambda images: layer({IMAGE_KEY: images})

    def process(self, extracts: dict) -> Iterator[dict]:
        import tensorflow as tf

        features = extracts[tfma.FEATURES_KEY]
        wanted = [f for f in self._slice_features if f not in features]
        if not wanted:
            yield extracts
            return
        images = [np.asarray(value).reshape(-1)[0] for value in features[IMAGE_KEY]]
        outputs = self._transform(tf.reshape(tf.constant(images, tf.string), [-1, 1]))
        features = dict(features)
        for name in wanted:
            if name in outputs:
                features[name] = outputs[name].numpy().reshape(len(images), -1)
        yield {**extracts, tfma.FEATURES_KEY: features}
