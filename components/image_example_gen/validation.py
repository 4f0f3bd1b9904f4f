"""An ExampleValidator executor that fails the run when the examples break the schema.

TFX's ExampleValidator only records anomalies (and a `blessed` property nothing checks);
this executor does the same, then raises `DataAnomaliesError` with one readable line per
split, so that no model trains on data that breaks the curated schema. Use it with
`StrictExampleValidator`, e.g.
`StrictExampleValidator(statistics=..., schema=...).with_id("ExampleValidator")`.
"""

from typing import Any

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.components.example_validator import executor as example_validator_executor
from tfx.components.example_validator import labels
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs

from features import split_of_folder


class DataAnomaliesError(ValueError):
    """The examples do not match the curated schema."""


def describe(split: str, anomalies: anomalies_pb2.Anomalies) -> str:
    """One line: the split and, per anomalous feature, TFDV's short description followed by
    its long one, which names the offending values ("Examples contain values missing from
    the schema: dgo (~1%)")."""
    problems = [
        f"{feature}: {_short_and_long(info)}"
        for feature, info in sorted(anomalies.anomaly_info.items())
    ]
    if anomalies.HasField("dataset_anomaly_info"):
        problems.append(f"(data set): {anomalies.dataset_anomaly_info.short_description}")
    return f"split {split}: " + "; ".join(problems)


def _short_and_long(info: anomalies_pb2.AnomalyInfo) -> str:
    short = " ".join(info.short_description.split())
    detail = " ".join(info.description.split())
    if short and detail and detail != short:
        return f"{short} ({detail})"
    return short or detail


class Executor(example_validator_executor.Executor):
    """ExampleValidator's executor, raising `DataAnomaliesError` when any split has anomalies."""

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list[Any]],
        output_dict: dict[str, list[Any]],
        exec_properties: dict[str, Any],
    ) -> Any:
        self._found: list[str] = []
        result = super().Do(input_dict, output_dict, exec_properties)
        if self._found:
            uri = artifact_utils.get_single_uri(output_dict[standard_component_specs.ANOMALIES_KEY])
            raise DataAnomaliesError(
                f"the examples break the schema — {' | '.join(self._found)} (SchemaDiff.pb per "
                f"split in {uri}; fix the data, or the schema in data.schema)"
            )
        return result

    def _Validate(  # noqa: N802 - TFX API.
        self, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> anomalies_pb2.Anomalies:
        anomalies = super()._Validate(inputs, outputs)
        if anomalies.anomaly_info or anomalies.HasField("dataset_anomaly_info"):
            split_dir = outputs[labels.SCHEMA_DIFF_PATH]
            self._found.append(describe(split_of_folder(split_dir), anomalies))
        return anomalies


class StrictExampleValidator(tfx.components.ExampleValidator):
    """ExampleValidator that fails on any anomaly (same inputs, outputs and parameters)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
