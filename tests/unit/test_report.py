"""The report's pieces that need no trained model: plots, the slice table, the decision,
the provenance."""

import json

import numpy as np
import pytest

from components.image_example_gen.executor import ReaderConfig
from components.report.provenance import Provenance, recorded_provenance
from components.report.render import (
    ModelRun,
    Predictions,
    _decision_html,
    _provenance_html,
    _slices_html,
    paired_slice_hits,
    plot_curves,
    plot_image_grid,
    reliability,
)
from components.report.slices import SliceRow, newcombe_gain, slice_accuracies, slice_name
from components.winner.decision import ModelScore, PushRecord, decide
from tests.fixtures.images import encode

RUNS = [
    ModelRun("candidate", "vt_resnet_tiny", "unused", None),
    ModelRun("baseline", "resnet_tiny", "unused", None),
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def history(epochs: int, start: float) -> list[dict]:
    return [
        {
            "epoch": e,
            "loss": start / e,
            "accuracy": 0.1 * e,
            "val_loss": start / e + 0.1,
            "val_accuracy": 0.1 * e - 0.05,
            "images_per_second": 100.0,
        }
        for e in range(1, epochs + 1)
    ]


def test_learning_curves_are_one_png_and_absent_without_history(tmp_path):
    name = plot_curves(RUNS, [history(3, 2.0), history(3, 1.5)], str(tmp_path))
    assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
    assert plot_curves(RUNS, [[], []], str(tmp_path / "none")) is None


def test_a_distilled_vts_heads_are_drawn_beside_its_answer(tmp_path, monkeypatch):
    from components.report import render

    drawn = {}
    save = render._save

    def keep_labels(figure, output_dir, name):
        drawn[name] = [line.get_label() for ax in figure.axes for line in ax.get_lines()]
        return save(figure, output_dir, name)

    monkeypatch.setattr(render, "_save", keep_labels)
    heads = [
        {**row, "val_class_accuracy": 0.3, "val_distillation_accuracy": 0.4}
        for row in history(3, 2.0)
    ]
    plot_curves(RUNS, [heads, history(3, 1.5)], str(tmp_path))
    labels = drawn["curves.png"]
    assert "vt_resnet_tiny class head validation" in labels
    assert "vt_resnet_tiny distillation head validation" in labels
    assert not [label for label in labels if label.startswith("resnet_tiny") and "head" in label]


def test_image_grid_draws_the_chosen_images_or_nothing(tmp_path):
    images = [encode(np.full((8, 8, 3), c, dtype=np.uint8)) for c in (0, 100, 200)]
    name = plot_image_grid(images, np.array([0, 2]), ["a", "b"], str(tmp_path), "grid.png")
    assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
    assert plot_image_grid(images, np.array([], int), [], str(tmp_path), "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_slice_table_highlights_the_largest_gaps_but_not_overall():
    rows = [SliceRow("Overall", 100, 0.5, 0.9)] + [
        SliceRow(f"label_name:{i}", 10, 0.5, 0.5 + gap)
        for i, gap in enumerate((0.0, 0.3, -0.4, 0.1, 0.2))
    ]
    page = _slices_html(slice_accuracies(rows, {}))
    highlighted = [line.split("</td>")[0] for line in page.split("<tr class='gap'><td>")[1:]]
    assert highlighted == ["label_name:1", "label_name:2", "label_name:4"]


def test_slice_accuracies_have_wilson_intervals_and_a_paired_gap_where_examples_are_known():
    rows = [SliceRow("Overall", 100, 0.6, 0.4), SliceRow("label_name:cat", 100, 0.52, 0.48)]
    # Overall's examples are known: the candidate right on 60, the baseline on 40 of them.
    candidate = np.arange(100) < 60
    baseline = np.arange(100) < 40
    hits = {"Overall": (candidate, baseline), "label_name:cat": (candidate[:10], baseline[:10])}

    overall, cat = slice_accuracies(rows, hits)

    low, high = overall.candidate_interval
    assert low < 0.6 < high and overall.baseline_interval[1] < high
    assert overall.paired and overall.significant
    assert overall.gap.value == pytest.approx(0.2) and overall.gap.low > 0
    # 10 known examples for a slice of 100: not that slice's, so unpaired.
    assert not cat.paired and not cat.significant
    assert cat.gap.low < 0 < cat.gap.high


def test_newcombe_gap_interval_is_wider_than_the_paired_one_on_the_same_examples():
    candidate = np.arange(100) < 60
    baseline = np.arange(100) < 40
    paired = slice_accuracies(
        [SliceRow("Overall", 100, 0.6, 0.4)], {"Overall": (candidate, baseline)}
    )
    unpaired = newcombe_gain(60, 40, 100)
    assert unpaired.value == pytest.approx(0.2)
    assert unpaired.low < paired[0].gap.low and unpaired.high > paired[0].gap.high
    assert unpaired.low > 0  # 60 vs 40 of 100 is significant even unpaired
    assert newcombe_gain(50, 50, 100).low == pytest.approx(-newcombe_gain(50, 50, 100).high)


def test_paired_slice_hits_are_overall_and_each_label_name():
    labels = np.array([0, 1, 1, 2])
    right = Predictions(labels, np.eye(3)[[0, 1, 1, 2]])  # all right
    wrong = Predictions(labels, np.eye(3)[[0, 0, 1, 0]])  # right on examples 0 and 2
    hits = paired_slice_hits([right, wrong], ["cat", "dog", "emu"])
    assert set(hits) == {"Overall", "label_name:cat", "label_name:dog", "label_name:emu"}
    assert hits["label_name:dog"][0].tolist() == [True, True]
    assert hits["label_name:dog"][1].tolist() == [False, True]
    assert len(hits["Overall"][1]) == 4


def test_slice_table_shows_intervals_significance_its_rule_and_what_slices_mean():
    rows = [
        SliceRow("Overall", 400, 0.7, 0.5),
        SliceRow("brightness_bucket:0", 100, 0.6, 0.58),
        SliceRow("label_name:cat", 40, 0.5, 0.5),
        SliceRow("mystery:1", 10, 0.5, 0.5),
    ]
    page = _slices_html(slice_accuracies(rows, {}))
    overall = page.split("<td>Overall</td>")[1].split("</tr>")[0]
    assert "<td>0.7000 <small>(0.653 to 0.743)</small></td>" in overall  # Wilson, 280 of 400
    assert "<b>yes</b> (unpaired)" in overall
    bucket = page.split("<td>brightness_bucket:0</td>")[1].split("</tr>")[0]
    assert "<td>no (unpaired)</td>" in bucket
    assert "A gap is significant when its 95% interval excludes zero" in page
    features = page.split("<h3>Slice features</h3>")[1]
    assert "brightness_bucket:B: the eval images whose mean grey level" in features
    assert "label_name:NAME: the eval examples whose true class is NAME" in features
    assert "mystery: no explanation recorded." in features
    assert "contrast_bucket" not in features  # only the features the table shows


def test_provenance_shows_the_run_data_models_push_and_where_the_records_are(tmp_path):
    examples = tmp_path / "examples"
    (examples / "rejected").mkdir(parents=True)
    counts = {"train": {"0": 5, "1": 4}, "eval": {"0": 2, "1": 1}}
    (examples / "rejected" / "train-classes.json").write_text(json.dumps(counts))
    run_dir = tmp_path / "model_run"
    run_dir.mkdir()
    (run_dir / "model_info.json").write_text(json.dumps({"recipe": {"epochs": 7}}))
    runs = [
        ModelRun("candidate", "vt_resnet_tiny", "unused", str(run_dir / "history.json")),
        ModelRun("baseline", "resnet_tiny", "unused", None, {"width": 8}),
    ]
    provenance = Provenance(
        run_id="2026-12-07T15:00:33.153064",
        dataset="cifar10",
        data_dir="/data/cifar",
        examples_uri=str(examples),
        pushed_path="/serving/x/2",
        metadata="/out/metadata.db",
    )
    push = PushRecord(True, True, "better", version=2)

    page = _provenance_html(provenance, runs, "/out/Evaluator/evaluation/8", push)

    for text in (
        "2026-12-07T15:00:33.153064",
        "cifar10",
        "/data/cifar",
        "<td>eval 3, train 9</td>",
        "version 2 (pushed by this run): /serving/x/2",
        "/out/Evaluator/evaluation/8",
        "/out/metadata.db",
        f"TensorBoard logs: {run_dir}",
        "&quot;epochs&quot;: 7",
        "overrides {&quot;width&quot;: 8}",
    ):
        assert text in page, text
    # The baseline has no run folder; the run start is unknown.
    assert page.count("not recorded") == 3
    assert _provenance_html(Provenance(), runs[1:], None, None).count("not recorded") == 10


def test_recorded_provenance_reads_the_run_and_the_example_gen_from_ml_metadata(tmp_path):
    from google.protobuf import json_format
    from ml_metadata.proto import metadata_store_pb2 as mlmd

    from components.run_metadata import PIPELINE_RUN, open_store

    store = open_store(str(tmp_path / "metadata.db"))
    run_type = store.put_context_type(mlmd.ContextType(name=PIPELINE_RUN))
    [run_id] = store.put_contexts([mlmd.Context(type_id=run_type, name="2026-12-07T15:00:33")])
    execution_type = store.put_execution_type(mlmd.ExecutionType(name="step"))
    examples_type = store.put_artifact_type(mlmd.ArtifactType(name="Examples"))
    example_gen = mlmd.Execution(type_id=execution_type)
    example_gen.custom_properties["input_base"].string_value = "/data/cifar"
    custom_config = json_format.MessageToJson(ReaderConfig("cifar10").to_proto())
    example_gen.custom_properties["custom_config"].string_value = custom_config
    output = mlmd.Event(type=mlmd.Event.OUTPUT)
    _, [examples_id], _ = store.put_execution(
        example_gen, [(mlmd.Artifact(type_id=examples_type, uri="/x"), output)], []
    )
    run = store.get_contexts_by_id([run_id])
    report_id, _, _ = store.put_execution(mlmd.Execution(type_id=execution_type), [], run)

    found = recorded_provenance(
        str(tmp_path / "metadata.db"), f"/root/RunReport/report/{report_id}", examples_id
    )

    assert (found.run_id, found.dataset, found.data_dir) == (
        "2026-12-07T15:00:33",
        "cifar10",
        "/data/cifar",
    )
    assert found.started.endswith("+00:00") and found.metadata == str(tmp_path / "metadata.db")
    unknown = recorded_provenance(str(tmp_path / "metadata.db"), "/elsewhere", examples_id + 1)
    assert unknown.run_id is None and unknown.dataset is None


def test_slice_names():
    assert slice_name(()) == "Overall"
    assert slice_name((("label_name", b"cat"), ("brightness_bucket", 3))) == (
        "label_name:cat, brightness_bucket:3"
    )


def test_decision_section_shows_numbers_thresholds_and_the_push():
    decision = decide(
        ModelScore("candidate", "vt", 0.61),
        ModelScore("baseline", "cnn", 0.58),
        candidate_blessed=True,
        min_accuracy=0.5,
        min_gain=0.01,
    )
    winner = ModelScore("winner", "vt", 0.612)
    production = ModelScore("production", "cnn (version 2)", 0.7)
    push = PushRecord(False, False, "production keeps cnn (version 2): ...", winner, production)

    page = _decision_html(decision, push)

    assert "Winner of the run: vt" in page
    assert "not pushed" in page and "production keeps cnn (version 2)" in page
    for text in ("0.6100", "0.5800", "0.6120", "0.7000", "floor 0.5000", "+0.0100"):
        assert text in page
    assert "No decision" in _decision_html(None, None)


def test_reliability_bins_confidence_and_accuracy():
    # Confidences 0.95 (right, right, wrong) and 0.55 (right): two bins of ten.
    probabilities = np.array([[0.95, 0.05], [0.95, 0.05], [0.95, 0.05], [0.45, 0.55]])
    prediction = Predictions(labels=np.array([0, 0, 1, 1]), probabilities=probabilities)

    confidence, accuracy, counts = reliability(prediction, bins=10)

    assert counts.tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 3]
    assert confidence[9] == pytest.approx(0.95) and accuracy[9] == pytest.approx(2 / 3)
    assert (confidence[5], accuracy[5]) == (pytest.approx(0.55), 1.0)
    assert np.isnan(accuracy[0])
