"""Reading the curated schemas in `schemas/<dataset>/schema.pbtxt`."""

from __future__ import annotations

import os

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from features import LABEL_KEY, SCHEMA_FILE

LABEL_NAME_FEATURE = "label_name"


def load_schema(schema_dir: str) -> schema_pb2.Schema:
    with open(os.path.join(schema_dir, SCHEMA_FILE)) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def num_classes_from_schema(schema_dir: str) -> int | None:
    """The number of classes a curated schema fixes, or None when it leaves it open.

    Read from the `label` feature's int_domain (max + 1) or, failing that, from the length of
    the `label_name` string domain. The folder schema fixes neither (any class folders).
    """
    features = {feature.name: feature for feature in load_schema(schema_dir).feature}
    label = features.get(LABEL_KEY)
    if label is not None and label.HasField("int_domain") and label.int_domain.HasField("max"):
        return label.int_domain.max + 1
    label_name = features.get(LABEL_NAME_FEATURE)
    if label_name is not None and label_name.string_domain.value:
        return len(label_name.string_domain.value)
    return None
