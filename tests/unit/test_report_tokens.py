"""The report's token figures, drawn from a fresh VT's traces (the e2e report test draws them
from an exported model)."""

import numpy as np
import tensorflow as tf

from components.report.tokens import (
    plot_projector_assignment,
    plot_token_health,
    plot_tokenizer_maps,
)
from models.registry import build_model
from models.vt_health import trace_vt_modules


def _traces(num_images: int) -> list[dict[str, np.ndarray]]:
    model = build_model("vt_resnet_tiny", input_shape=(32, 32, 3), num_classes=10)
    images = tf.random.stateless_normal([num_images, 32, 32, 3], seed=[0, 1])
    return [{k: v.numpy() for k, v in t.items()} for t in trace_vt_modules(model, images)]


def test_tokenizer_maps_show_every_token_of_every_image():
    traces = _traces(2)
    rgb = [np.zeros((32, 32, 3), np.uint8)] * 2
    figure = plot_tokenizer_maps(rgb, traces[0], "vt1")
    assert len(figure.axes) == 2 * (16 + 1)  # per image: the image and 16 token maps
    assert figure.axes[1].get_title() == "token 1"


def test_projector_assignment_covers_the_modules_with_a_projector():
    traces = _traces(2)
    rgb = [np.zeros((32, 32, 3), np.uint8)] * 2
    figure = plot_projector_assignment(rgb, traces)
    # Only vt1 projects (the last module feeds the head): image, token read, its weight; + bar.
    assert len(figure.axes) == 2 * 3 + 1
    assert plot_projector_assignment(rgb, traces[1:]) is None


def test_token_health_plots_each_module_and_nothing_for_a_cnn():
    history = [
        {"epoch": epoch, "vt1_token_cosine": cosine, "vt2_token_cosine": cosine}
        for epoch, cosine in ((1, 0.99), (2, 0.8))
    ]
    figure = plot_token_health("vt", history)
    assert [line.get_label() for line in figure.axes[0].lines] == ["vt1", "vt2"]
    assert plot_token_health("cnn", [{"epoch": 1, "accuracy": 0.5}]) is None
