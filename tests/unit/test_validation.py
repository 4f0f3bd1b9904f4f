"""The strict ExampleValidator: anomalies against the curated schema fail with one line."""

from pathlib import Path

import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils, standard_artifacts

from components.image_example_gen.component import create_image_example_gen
from components.image_example_gen.validation import DataAnomaliesError, Executor
from tests.fixtures.cifar import write_cifar10_python
from tests.fixtures.reading import run_executor

SCHEMAS = Path(__file__).parents[2] / "schemas"


def _validate(tmp_path: Path, schema: str) -> standard_artifacts.ExampleAnomalies:
    """Runs the strict validator over statistics of CIFAR-10 examples against `schema`."""
    data_dir = write_cifar10_python(tmp_path / "data", 10, num_train_batches=1)
    # Half of the 10 training images for eval: a 9:1 split of so few could leave it empty.
    component = create_image_example_gen(
        str(data_dir), "cifar10", split_ratios={"train": 1, "eval": 1}
    )
    run_executor(component.exec_properties, tmp_path / "examples")
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = str(tmp_path / "statistics")
    statistics.split_names = artifact_utils.encode_split_names(["train", "test"])
    for split in ("train", "test"):
        stats = tfdv.generate_statistics_from_tfrecord(
            str(tmp_path / "examples" / f"Split-{split}" / "*.gz")
        )
        (tmp_path / "statistics" / f"Split-{split}").mkdir(parents=True)
        (tmp_path / "statistics" / f"Split-{split}" / "FeatureStats.pb").write_bytes(
            stats.SerializeToString()
        )
    schema_artifact = standard_artifacts.Schema()
    schema_artifact.uri = str(SCHEMAS / schema)
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = str(tmp_path / "anomalies")
    Executor().Do(
        {"statistics": [statistics], "schema": [schema_artifact]},
        {"anomalies": [anomalies]},
        {"exclude_splits": "[]"},
    )
    return anomalies


def test_examples_matching_their_schema_pass(tmp_path: Path) -> None:
    anomalies = _validate(tmp_path, "cifar10")

    assert (tmp_path / "anomalies" / "Split-test" / "SchemaDiff.pb").is_file()
    assert anomalies.get_json_value_custom_property("blessed") == {"train": 1, "test": 1}


def test_examples_breaking_the_schema_fail_with_one_line_per_split(tmp_path: Path) -> None:
    with pytest.raises(DataAnomaliesError) as error:
        _validate(tmp_path, "cifar100")

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("the examples break the schema — split train: coarse_label: ")
    assert "| split test: " in message
    assert "label_name: Unexpected string values (Examples contain values missing" in message
    assert "airplane" in message  # a CIFAR-10 name, which CIFAR-100's schema lacks
