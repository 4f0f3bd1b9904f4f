"""Reading the curated schemas in `schemas/<dataset>/schema.pbtxt`."""

from __future__ import annotations

import os

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

SCHEMA_FILE = "schema.pbtxt"
LABEL_NAME_FEATURE = "label_name"


def load_schema(schema_dir: str) -> schema_pb2.Schema:
    with open(os.path.join(schema_dir, SCHEMA_FILE)) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def class_names_from_schema(schema_dir: str) -> list[str]:
    """Class names in label order, from the `label_name` string domain of a curated schema.

    Lets a pipeline over remote data be compiled offline. Raises ValueError when the schema
    does not list them.
    """
    for feature in load_schema(schema_dir).feature:
        if feature.name == LABEL_NAME_FEATURE and feature.string_domain.value:
            return list(feature.string_domain.value)
    raise ValueError(
        f"{os.path.join(schema_dir, SCHEMA_FILE)} lists no {LABEL_NAME_FEATURE} values: "
        "compile from a local copy of the data instead"
    )
