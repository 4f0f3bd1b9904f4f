"""Rejected inputs through the real executor: counted, written, reported, and fatal in bulk."""

import json
from pathlib import Path

import pytest
from apache_beam.metrics.metric import MetricsFilter
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.image_example_gen import rejects
from components.image_example_gen.component import create_image_example_gen
from components.image_example_gen.validation import describe
from pipeline.report import examples_summary
from tests.fixtures.cifar import truncate, write_cifar10_python
from tests.fixtures.images import truncated_jpeg, write_class_tree
from tests.fixtures.reading import run_executor


@pytest.fixture
def dirty_tree(tmp_path: Path) -> Path:
    """Two val/ classes of 20 good images, a truncated JPEG, a zero-byte file, a text file,
    and an image of a class that train/ lacks."""
    root = tmp_path / "data"
    write_class_tree(root / "train", ["cat", "dog"], per_class=2)
    write_class_tree(root / "val", ["cat", "dog"], per_class=20)
    write_class_tree(root / "val", ["emu"], per_class=1)
    (root / "val" / "cat" / "cut.jpg").write_bytes(truncated_jpeg())
    (root / "val" / "dog" / "empty.jpg").write_bytes(b"")
    (root / "val" / "dog" / "notes.txt").write_text("not an image")
    return root


def test_rejects_are_counted_written_and_kept_out_of_the_examples(
    dirty_tree: Path, tmp_path: Path
) -> None:
    component = create_image_example_gen(str(dirty_tree), "folder", max_rejected_fraction=0.1)

    splits, pipeline = run_executor(component.exec_properties, tmp_path / "examples")

    assert {split: len(examples) for split, examples in splits.items()} == {"train": 4, "eval": 40}
    rejected_dir = tmp_path / "examples" / rejects.REJECTED_DIR
    records = [
        json.loads(line)
        for path in rejected_dir.glob("eval-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert sorted((r["split"], r["source_id"], r["reason"]) for r in records) == [
        ("eval", "val/cat/cut.jpg", "corrupt_image"),
        ("eval", "val/dog/empty.jpg", "empty_file"),
        ("eval", "val/dog/notes.txt", "not_an_image"),
        ("eval", "val/emu/000.jpg", "unknown_class"),
    ]
    report = rejects.RejectReport.read(str(rejected_dir))
    reasons = {"corrupt_image": 1, "empty_file": 1, "not_an_image": 1, "unknown_class": 1}
    assert (report.examples, report.rejected) == (44, reasons)
    counters = pipeline.result.metrics().query(MetricsFilter().with_namespace("ImageExampleGen"))
    counts = {c.key.metric.name: c.committed for c in counters["counters"]}
    assert all(counts[f"rejected[eval][{reason}]"] == 1 for reason in reasons)
    assert counts["files_read[eval]"] == 44
    # What the run's summary prints.
    assert examples_summary(str(tmp_path / "examples")) == (
        "44 written, rejected 4 of 48 inputs (8.333%): corrupt_image 1, empty_file 1, "
        f"not_an_image 1, unknown_class 1; records in {rejected_dir}"
    )


def test_an_unreadable_cifar_batch_counts_as_the_images_it_held(tmp_path: Path) -> None:
    data_dir = write_cifar10_python(tmp_path / "data", 20)  # 3 train batches + test, 20 each
    truncate(data_dir / "data_batch_1")
    component = create_image_example_gen(str(data_dir), "cifar10", max_rejected_fraction=1.0)

    splits, _ = run_executor(component.exec_properties, tmp_path / "examples")

    sizes = {split: len(examples) for split, examples in splits.items()}
    assert (sizes["train"] + sizes["eval"], sizes["test"]) == (40, 20)  # eval: 1/10 of train
    rejected_dir = tmp_path / "examples" / rejects.REJECTED_DIR
    [line] = [line for p in rejected_dir.glob("*.jsonl") for line in p.read_text().splitlines()]
    record = json.loads(line)
    assert (record["split"], record["source_id"], record["reason"], record["count"]) == (
        "train",
        "data_batch_1",
        "unreadable_file",
        10_000,
    )
    report = rejects.RejectReport.read(str(rejected_dir))
    assert (report.examples, report.rejected) == (60, {"unreadable_file": 10_000})
    assert report.summary().startswith("rejected 10000 of 10060 inputs (99.404%)")


def test_too_many_rejects_fail_with_a_one_line_summary(dirty_tree: Path, tmp_path: Path) -> None:
    component = create_image_example_gen(str(dirty_tree), "folder")  # default limit 0.1%

    with pytest.raises(rejects.TooManyRejectsError) as error:  # an artifact URI as in TFX:
        run_executor(component.exec_properties, tmp_path / "ExampleGen" / "examples" / "7")

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("rejected 4 of 48 inputs (8.333%): corrupt_image 1, empty_file 1,")
    assert "more than the allowed 0.100% (data.max_rejected_fraction)" in message
    # TFX deletes a failed execution's outputs: the records are kept beside them.
    kept = tmp_path / "ExampleGen" / "rejected" / "7"
    assert f"records in {kept} " in message
    assert len((kept / "eval-00000-of-00001.jsonl").read_text().splitlines()) == 4


def test_anomalies_are_described_one_line_per_split() -> None:
    anomalies = text_format.Parse(
        """anomaly_info {
             key: "label"
             value { short_description: "Out-of-range values" description: "long" }
           }""",
        anomalies_pb2.Anomalies(),
    )

    assert describe("eval", anomalies) == "split eval: label: Out-of-range values (long)"


def test_cli_stops_with_one_line_and_keeps_the_records(tmp_path: Path, capsys) -> None:
    import pipeline_runner

    root = write_class_tree(tmp_path / "data", ["a", "b", "c", "d", "e", "f"], per_class=5)
    (root / "a" / "cut.jpg").write_bytes(truncated_jpeg())
    output_root = tmp_path / "out"

    status = pipeline_runner.main(
        ["--preset=folder", f"--data-dir={root}", f"--output-root={output_root}"]
    )

    kept = output_root / "pipelines" / "folder" / "FileBasedExampleGen" / "rejected" / "1"
    [error] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert status == 2
    assert error.startswith("error: rejected 1 of 31 inputs (3.226%): corrupt_image 1;")
    assert f"records in {kept} " in error
    assert "cut.jpg" in (kept / "all-00000-of-00001.jsonl").read_text()
