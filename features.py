"""The names every layer shares: feature keys, split names and artifact file names.

One home for the strings that the data, the models, the components and the pipeline must
agree on (in the spirit of the TFX taxi template's `features.py`). Plain strings, no
TensorFlow and no project imports, so anything may import it, Beam workers included. The
exported models' signatures and outputs are named in `models/signatures.py`.
"""

from __future__ import annotations

# Features of the tf.train.Examples ImageExampleGen writes.
IMAGE_KEY = "image"  # encoded JPEG/PNG bytes; after Transform, float32 [S, S, 3]
LABEL_KEY = "label"  # int64 class index
LABEL_NAME_KEY = "label_name"
HEIGHT_KEY = "height"
WIDTH_KEY = "width"
CHANNELS_KEY = "channels"
SOURCE_ID_KEY = "source_id"

# Features Transform adds for the Evaluator's slices (the models see only IMAGE_KEY).
BRIGHTNESS_BUCKET_KEY = "brightness_bucket"
CONTRAST_BUCKET_KEY = "contrast_bucket"
PROPERTY_BUCKET_KEYS = (BRIGHTNESS_BUCKET_KEY, CONTRAST_BUCKET_KEY)

# What a slice "key:value" of the evaluation means, per key (the report shows these). The
# keys are the slice features (pipeline.config.EvaluationConfig.slices) and TFMA's per-class
# sub key.
SLICE_EXPLANATIONS = {
    LABEL_NAME_KEY: "label_name:NAME: the eval examples whose true class is NAME.",
    "coarse_label_name": (
        "coarse_label_name:NAME: the eval examples whose true superclass is NAME (CIFAR-100's "
        "20 coarse labels; other data sets have no such slices)."
    ),
    BRIGHTNESS_BUCKET_KEY: (
        "brightness_bucket:B: the eval images whose mean grey level falls in quantile bucket B "
        "of the training split's (0 = darkest; with the default 4 buckets, B is a quartile)."
    ),
    CONTRAST_BUCKET_KEY: (
        "contrast_bucket:B: the eval images whose standard deviation of grey level falls in "
        "quantile bucket B of the training split's (0 = flattest, least contrast)."
    ),
    "classId": (
        "classId:N: not a subset of examples but TFMA's per-class view of a slice: precision "
        "and recall of class index N (the Nth class name) within it."
    ),
}

# Splits. The Trainers fit on TRAIN and validate on EVAL, the gate and the report score EVAL,
# and only `pipeline_runner.py evaluate` reads TEST.
TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
TEST_SPLIT = "test"
_SPLIT_FOLDER_PREFIX = "Split-"  # how TFX names a split's folder in an Examples artifact

# Files inside artifacts.
CLASS_NAMES_FILE = "class_names.json"  # ImageExampleGen's Examples: label index -> name
HISTORY_FILE = "history.json"  # a Trainer's ModelRun: one row of metrics per epoch
MODEL_INFO_FILE = "model_info.json"  # a Trainer's ModelRun: architecture, costs, recipe
DECISION_FILE = "decision.json"  # SelectWinner's output: which model won and why
PUSH_RECORD_FILE = "push_record.json"  # a pushed version's assets.extra: what was pushed
SCHEMA_FILE = "schema.pbtxt"  # schemas/<data set>/
REPORT_FILE = "index.html"  # RunReport's output


def split_folder(split: str) -> str:
    """The folder of `split` inside an Examples artifact, e.g. "Split-train"."""
    return f"{_SPLIT_FOLDER_PREFIX}{split}"


def split_of_folder(folder: str) -> str | None:
    """The split whose folder is `folder` (a name or a path), or None when it is no split's."""
    name = folder.rstrip("/").rsplit("/", 1)[-1]
    if not name.startswith(_SPLIT_FOLDER_PREFIX):
        return None
    return name[len(_SPLIT_FOLDER_PREFIX) :]
