"""The report's pieces that need no trained model: plots, the slice table, the decision."""

import numpy as np
import pytest

from components.report.render import (
    ModelRun,
    Predictions,
    _decision_html,
    _slices_html,
    plot_curves,
    plot_image_grid,
    reliability,
)
from components.report.slices import SliceRow, slice_name
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
    page = _slices_html(rows)
    highlighted = [line.split("</td>")[0] for line in page.split("<tr class='gap'><td>")[1:]]
    assert highlighted == ["label_name:1", "label_name:2", "label_name:4"]


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
