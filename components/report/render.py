"""The run report for people: one static `index.html` with PNG plots (matplotlib, Agg).

Sections (each an HTML element with this id): provenance, decision, metrics, data, models,
curves, tokens, confusion, calibration, misclassified, disagreements, slices. Everything is read
from what the run produced: each Trainer's `history.json` (learning curves, images/s) and
`model_info.json` (recipe), the exported models (parameters, and their predictions on the eval
split, exactly as served), the Evaluator output (slices), the winner selection's decision, and
what the caller knows of the run (`provenance.Provenance`).
"""

from __future__ import annotations

import html
import io
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from PIL import Image  # noqa: E402

from components.evaluator.keys import BASELINE, CANDIDATE  # noqa: E402
from components.report.provenance import Provenance, examples_per_split  # noqa: E402
from components.report.slices import (  # noqa: E402
    CONFIDENCE,
    OVERALL,
    OverallMetrics,
    SliceAccuracy,
    overall_metrics,
    slice_accuracies,
    slice_name,
    slice_rows,
)
from components.report.tokens import (  # noqa: E402
    TOKEN_IMAGES,
    plot_projector_assignment,
    plot_token_health,
    plot_tokenizer_maps,
    trace_tokens,
)
from components.winner.decision import Decision, ModelScore, PushRecord  # noqa: E402
from components.winner.serving import classify_examples  # noqa: E402
from features import (  # noqa: E402
    IMAGE_KEY,
    LABEL_NAME_KEY,
    MODEL_INFO_FILE,
    REPORT_FILE,
    SLICE_EXPLANATIONS,
)
from models.signatures import EXAMPLES_SIGNATURE  # noqa: E402

GRID_IMAGES = 16
HIGHLIGHTED_GAPS = 3


@dataclass(frozen=True)
class ModelRun:
    """One trained model: its role (candidate / baseline), registered name, builder overrides,
    exported SavedModel and the Trainer's per-epoch history (None when it trained 0 epochs)."""

    role: str
    name: str
    model_dir: str
    history_path: str | None
    overrides: dict = field(default_factory=dict)

    @property
    def run_dir(self) -> str | None:
        """The Trainer's ModelRun folder: history.json, model_info.json, TensorBoard logs."""
        return os.path.dirname(self.history_path) if self.history_path else None


@dataclass(frozen=True)
class Predictions:
    """A model on the eval split: labels [N], probabilities [N, K]."""

    labels: np.ndarray
    probabilities: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=-1)

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.labels


def read_history(path: str | None) -> list[dict[str, float]]:
    """Rows of a Trainer's history.json (epoch, loss, accuracy, val_loss, ...); [] if none."""
    if path is None or not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def read_recipe(run: ModelRun) -> dict | None:
    """The training recipe (train config) in the Trainer's model_info.json; None if none."""
    path = run.run_dir and os.path.join(run.run_dir, MODEL_INFO_FILE)
    if not path or not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f).get("recipe")


def paired_slice_hits(
    predictions: list[Predictions], class_names: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-example correctness of the candidate and the baseline on the slices whose
    examples the report knows without TFMA: Overall, and each label_name slice (the examples
    whose true class has that name)."""
    candidate, baseline = predictions
    names = np.asarray(class_names)[candidate.labels]
    members = {OVERALL: np.ones(len(names), dtype=bool)}
    for name in set(class_names):
        members[slice_name(((LABEL_NAME_KEY, name),))] = names == name
    return {key: (candidate.correct[m], baseline.correct[m]) for key, m in members.items()}


def read_eval_images(example_files: list[str]) -> list[bytes]:
    """Encoded `image` bytes of the examples, in file order (the order the models saw)."""
    spec = {IMAGE_KEY: tf.io.FixedLenFeature([1], tf.string)}
    images = []
    dataset = tf.data.TFRecordDataset(example_files, compression_type="GZIP").batch(256)
    for serialized in dataset:
        images.extend(tf.io.parse_example(serialized, spec)[IMAGE_KEY].numpy().reshape(-1))
    return images


def read_class_names(model) -> list[str]:
    """Label index -> class name, as exported with the model (models/training/export.py)."""
    return [name.decode() for name in model.class_names.numpy()]


def count_parameters(model) -> int:
    """Trainable parameters of an exported model: the trainable variables its serving
    signature reads (the export keeps no Keras object to ask, see models/training/export.py)."""
    signature = model.signatures[EXAMPLES_SIGNATURE]
    return int(sum(np.prod(v.shape) for v in signature.trainable_variables))


def count_model_macs(run: ModelRun, image_size: int, num_classes: int) -> int:
    """Multiply-accumulates per image of the registered model (models/costs.py)."""
    from models import registry
    from models.costs import count_macs

    model = registry.build_model(
        run.name,
        input_shape=(image_size, image_size, 3),
        num_classes=num_classes,
        **run.overrides,
    )
    return count_macs(model)


def _save(figure: plt.Figure, output_dir: str, name: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    with tf.io.gfile.GFile(os.path.join(output_dir, name), "wb") as f:
        f.write(buffer.getvalue())
    return name


# The validation accuracy of each head of a VT with a distillation token, beside its answer's.
HEAD_CURVES = (
    ("val_class_accuracy", ":", "class head"),
    ("val_distillation_accuracy", "-.", "distillation head"),
)


def plot_curves(runs: list[ModelRun], histories: list[list[dict]], output_dir: str) -> str | None:
    """Training and validation loss and accuracy per epoch, both models on the same axes (and
    a distilled VT's two heads alone, on validation)."""
    if not any(histories):
        return None
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for run, history, colour in zip(runs, histories, ("tab:orange", "tab:blue"), strict=True):
        epochs = [row["epoch"] for row in history]
        for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
            for prefix, style in (("", "--"), ("val_", "-")):
                values = [row.get(prefix + metric) for row in history]
                if epochs and None not in values:
                    split = "validation" if prefix else "training"
                    label = f"{run.name} {split}"
                    ax.plot(epochs, values, style, color=colour, label=label, marker=".")
        for key, style, head in HEAD_CURVES:
            values = [row.get(key) for row in history]
            if epochs and None not in values:
                label = f"{run.name} {head} validation"
                axes[1].plot(epochs, values, style, color=colour, label=label)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(figure, output_dir, "curves.png")


def plot_confusion(
    runs: list[ModelRun], predictions: list[Predictions], class_names: list[str], output_dir: str
) -> str:
    """Row-normalised confusion matrices (true label x predicted label), side by side."""
    k = len(class_names)
    # Constrained layout keeps the second panel's labels off the first one.
    figure, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 6), constrained_layout=True)
    for ax, run, prediction in zip(axes, runs, predictions, strict=True):
        matrix = np.zeros((k, k))
        np.add.at(matrix, (prediction.labels, prediction.predicted), 1)
        normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"{run.name} ({run.role})")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        if k <= 20:
            ax.set_xticks(range(k), class_names, rotation=90, fontsize=9)
            ax.set_yticks(range(k), class_names, fontsize=9)
            for (i, j), count in np.ndenumerate(matrix):
                if count:
                    colour = "white" if normalised[i, j] > 0.5 else "black"
                    ax.text(j, i, int(count), ha="center", va="center", fontsize=8, color=colour)
    figure.colorbar(image, ax=list(axes), shrink=0.8, label="fraction of the true class")
    return _save(figure, output_dir, "confusion.png")


def reliability(prediction: Predictions, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width confidence bin: mean confidence, accuracy and example count (bins
    without examples have NaN means)."""
    confidence = prediction.probabilities.max(axis=-1)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(index, confidence, bins) / counts
        accuracy = np.bincount(index, prediction.correct.astype(float), bins) / counts
    return mean_confidence, accuracy, counts


def plot_reliability(
    runs: list[ModelRun], predictions: list[Predictions], output_dir: str, bins: int = 10
) -> str:
    """Reliability diagram: accuracy against confidence per bin, both models; a calibrated
    model lies on the diagonal. The legend gives each model's expected calibration error
    from the same bins (TFMA's, in the metrics table, uses the configured bins)."""
    figure, ax = plt.subplots(figsize=(5.5, 5), constrained_layout=True)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated")
    for run, prediction, colour in zip(runs, predictions, ("tab:orange", "tab:blue"), strict=True):
        confidence, accuracy, counts = reliability(prediction, bins)
        seen = counts > 0
        ece = np.sum(counts[seen] * np.abs(accuracy[seen] - confidence[seen])) / counts.sum()
        label = f"{run.name} (ECE {ece:.3f})"
        ax.plot(confidence[seen], accuracy[seen], marker="o", color=colour, label=label)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    return _save(figure, output_dir, "reliability.png")


def plot_image_grid(
    images: list[bytes],
    indices: np.ndarray,
    captions: list[str],
    output_dir: str,
    name: str,
) -> str | None:
    """Up to GRID_IMAGES images with a caption each; None when `indices` is empty."""
    if len(indices) == 0:
        return None
    columns = 8
    rows = -(-len(indices) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index, caption in zip(axes.flat, indices, captions, strict=False):
        ax.imshow(np.asarray(Image.open(io.BytesIO(images[index])).convert("RGB")))
        ax.set_title(caption, fontsize=7)
    return _save(figure, output_dir, name)


def _caption(prediction: Predictions, index: int, class_names: list[str]) -> str:
    predicted = prediction.predicted[index]
    return (
        f"true {class_names[prediction.labels[index]]}\n"
        f"pred {class_names[predicted]} {prediction.probabilities[index, predicted]:.2f}"
    )


def _img(name: str | None, alt: str, empty: str) -> str:
    """An <img> of a PNG in the report folder, or the `empty` note when there is none."""
    if name is None:
        return f"<p class='empty'>{html.escape(empty)}</p>"
    return f"<img src='{name}' alt='{html.escape(alt)}'>"


def data_summary(examples_uri: str, min_images: int) -> tuple[list[str], list[str]]:
    """The classes and their examples per split (`class_counts.describe`), and the warnings
    about them (`class_counts.warnings`), from an ImageExampleGen output."""
    from components.image_example_gen import class_counts, class_names
    from components.image_example_gen.rejects import REJECTED_DIR

    names = class_names.read(examples_uri)
    counts = class_counts.read(os.path.join(examples_uri, REJECTED_DIR))
    return class_counts.describe(counts, names), class_counts.warnings(counts, names, min_images)


def _data_html(data: tuple[list[str], list[str]] | None) -> str:
    if data is None:
        return "<p class='empty'>No class counts were recorded for this run.</p>"
    description, warnings = data
    items = [f"<li><b>warning:</b> {html.escape(w)}</li>" for w in warnings]
    items += [f"<li>{html.escape(line)}</li>" for line in description]
    return f"<ul>{''.join(items)}</ul>"


def _scores_table(scores: list[ModelScore]) -> str:
    rows = "".join(
        f"<tr><td>{s.role}</td><td>{html.escape(s.model)}</td><td>{s.accuracy:.4f}</td></tr>"
        for s in scores
    )
    return f"<table><tr><th>role</th><th>model</th><th>top-1 accuracy</th></tr>{rows}</table>"


def _decision_html(decision: Decision | None, push: PushRecord | None) -> str:
    if decision is None:
        return "<p>No decision was recorded for this run.</p>"
    winner = decision.winner.model if decision.winner else "none"
    floor = max(decision.floor, decision.min_accuracy)  # older decisions recorded no floor
    thresholds = f"floor {floor:.4f}, gain over the baseline more than {decision.min_gain:+.4f}"
    decided_in = f" (decided in run {html.escape(decision.run_id)})" if decision.run_id else ""
    parts = [
        f"<p><b>Winner of the run: {html.escape(winner)}</b>{decided_in}</p>",
        _scores_table([decision.candidate, decision.baseline]),
        f"<p>Thresholds: {thresholds}</p><p>{html.escape(decision.reason)}</p>",
    ]
    if push is not None:
        outcome = f"pushed as version {push.version}" if push.pushed else "not pushed"
        scores = [s for s in (push.winner, push.production) if s]
        parts += [
            f"<p><b>Push (checked against the serving directory when pushing): {outcome}</b></p>",
            _scores_table(scores) if scores else "",
            f"<p>{html.escape(push.reason)}</p>",
        ]
    return "".join(parts)


NOT_RECORDED = "<span class='empty'>not recorded</span>"


def _provenance_html(
    provenance: Provenance,
    runs: list[ModelRun],
    evaluation_uri: str | None,
    push: PushRecord | None,
) -> str:
    """The run, its data, its models and recipes, the push, and where the records are."""

    def cell(value: object) -> str:
        return NOT_RECORDED if value is None else html.escape(str(value))

    counts = examples_per_split(provenance.examples_uri) if provenance.examples_uri else {}
    examples = ", ".join(f"{split} {n}" for split, n in counts.items()) or None
    pushed = None if push is None else "nothing pushed"
    if push is not None and push.version is not None:
        state = "pushed by this run" if push.pushed else "already held the same model"
        path = f": {provenance.pushed_path}" if provenance.pushed_path else ""
        pushed = f"version {push.version} ({state}){path}"
    facts = [
        ("run id", provenance.run_id),
        ("run started (UTC)", provenance.started),
        ("report written (UTC)", datetime.now(timezone.utc).isoformat(timespec="seconds")),
        ("data set", provenance.dataset),
        ("data dir", provenance.data_dir),
        ("examples per split", examples),
        ("pushed", pushed),
        ("TFMA results", evaluation_uri),
        ("ML Metadata", provenance.metadata),
    ]
    rows = [f"<tr><th>{name}</th><td>{cell(value)}</td></tr>" for name, value in facts]
    for run in runs:
        recipe = read_recipe(run)
        recipe_json = html.escape(json.dumps(recipe, indent=1, sort_keys=True))
        rows.append(
            f"<tr><th>{run.role}</th><td>{html.escape(run.name)}, overrides "
            f"{html.escape(json.dumps(run.overrides, sort_keys=True))}; TensorBoard logs: "
            f"{cell(run.run_dir)}; recipe: "
            + (
                NOT_RECORDED
                if recipe is None
                else f"<details><summary>train config</summary><pre>{recipe_json}</pre></details>"
            )
            + "</td></tr>"
        )
    return f"<table>{''.join(rows)}</table>"


def _models_html(
    runs: list[ModelRun], parameters: list[int], macs: list[int], histories: list[list[dict]]
) -> str:
    rows = []
    for run, count, mac, history in zip(runs, parameters, macs, histories, strict=True):
        # The first epoch includes tracing; the steady throughput is the median of the others.
        speeds = [row["images_per_second"] for row in history[1:] or history]
        speed = f"{np.median(speeds):,.0f}" if speeds else "n/a (not trained)"
        rows.append(
            f"<tr><td>{run.role}</td><td>{html.escape(run.name)}</td>"
            f"<td>{count:,}</td><td>{mac / 1e6:,.1f} M</td><td>{speed}</td></tr>"
        )
    return (
        "<table><tr><th>role</th><th>model</th><th>trainable parameters</th><th>MACs</th>"
        "<th>training images/s</th></tr>" + "".join(rows) + "</table>"
        "<p>MACs: multiply-accumulates per image (models/costs.py). Images/s: the median "
        "training throughput after the first epoch, from the Trainer's history.json.</p>"
    )


def _tokens_html(
    runs: list[ModelRun],
    models: list,
    histories: list[list[dict]],
    images: list[bytes],
    output_dir: str,
) -> str:
    """For each model with VT modules: its tokens' health per epoch, each tokenizer's
    attention maps and the projector's pixel-to-token assignment on the first eval images."""
    parts = []
    for run, model, history in zip(runs, models, histories, strict=True):
        rgb, traces = trace_tokens(run.model_dir, model, images)
        if not traces:
            continue
        prefix = f"tokens_{run.role}"
        figures = []
        health = plot_token_health(run.name, history)
        if health is not None:
            figures.append((_save(health, output_dir, f"{prefix}_health.png"), "VT health"))
        for i, trace in enumerate(traces, start=1):
            kind = "recurrent" if i > 1 else "filter"
            title = f"{run.name} vt{i}: which pixels each token pools ({kind} tokenizer)"
            figure = plot_tokenizer_maps(rgb, trace, title)
            figures.append((_save(figure, output_dir, f"{prefix}_vt{i}.png"), title))
        projector = plot_projector_assignment(rgb, traces)
        if projector is not None:
            name = _save(projector, output_dir, f"{prefix}_projector.png")
            figures.append((name, f"{run.name}: which token each pixel reads back"))
        last = history[-1] if history else {}
        numbers = ", ".join(f"{k} {v:.3f}" for k, v in sorted(last.items()) if k.startswith("vt"))
        parts.append(
            f"<h3>{html.escape(run.name)} ({run.role})</h3>"
            + (f"<p>Last epoch: {html.escape(numbers)}.</p>" if numbers else "")
            + "".join(_img(name, alt, "") for name, alt in figures)
        )
    if not parts:
        return "<p>Neither model has VT modules.</p>"
    return (
        f"<p>On the first {TOKEN_IMAGES} eval images. A tokenizer map is one token's softmax "
        "over the feature map's pixels (Wu et al. 2020, Sec. 3.1): a token that pools a region "
        "lights it up; identical maps, or a token cosine near 1, mean the tokens collapsed "
        "into one average. The health curves are measured on the same 64 eval images every "
        "epoch (models/vt_health.py).</p>" + "".join(parts)
    )


def _metrics_html(
    metrics: dict[str, OverallMetrics], runs: list[ModelRun], class_names: list[str]
) -> str:
    """Every scalar metric TFMA computed on the overall slice, then precision, recall and F1
    per class, for both models side by side."""
    if not metrics:
        return "<p>No TFMA results.</p>"
    candidate, baseline = metrics[CANDIDATE], metrics[BASELINE]
    names = "".join(f"<th>{html.escape(run.name)}</th>" for run in runs)
    scalar_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{value:.4f}</td>"
        f"<td>{baseline.scalars.get(name, float('nan')):.4f}</td></tr>"
        for name, value in sorted(candidate.scalars.items())
    )
    class_rows = []
    for class_id, name in enumerate(class_names):
        cells = []
        for model in (candidate, baseline):
            values = model.per_class.get(class_id, {})
            precision = values.get("precision", float("nan"))
            recall = values.get("recall", float("nan"))
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            cells += [f"<td>{v:.3f}</td>" for v in (precision, recall, f1)]
        class_rows.append(f"<tr><td>{html.escape(name)}</td>{''.join(cells)}</tr>")
    per_model = "".join(f"<th colspan='3'>{html.escape(run.name)}</th>" for run in runs)
    return (
        "<p>On the eval split's overall slice (top-k accuracy: the label among the k most "
        "probable classes; expected calibration error: the gap between confidence and "
        "accuracy, averaged over confidence bins; nan: not computed).</p>"
        f"<table><tr><th>metric</th>{names}</tr>{scalar_rows}</table>"
        f"<table><tr><th rowspan='2'>class</th>{per_model}</tr><tr>"
        + "<th>precision</th><th>recall</th><th>F1</th>" * len(runs)
        + "</tr>"
        + "".join(class_rows)
        + "</table>"
    )


def _interval(value: float, interval: tuple[float, float], signed: bool = False) -> str:
    sign = "+" if signed else ""
    low, high = interval
    return f"{value:{sign}.4f} <small>({low:{sign}.3f} to {high:{sign}.3f})</small>"


def _slices_html(accuracies: list[SliceAccuracy]) -> str:
    if not accuracies:
        return "<p>No slice metrics.</p>"
    largest = sorted(accuracies[1:], key=lambda a: -abs(a.row.gap))[:HIGHLIGHTED_GAPS]
    body = []
    for accuracy in accuracies:
        row, gap = accuracy.row, accuracy.gap
        css = " class='gap'" if accuracy in largest else ""
        significant = "<b>yes</b>" if accuracy.significant else "no"
        body.append(
            f"<tr{css}><td>{html.escape(row.slice_name)}</td><td>{row.example_count}</td>"
            f"<td>{_interval(row.candidate, accuracy.candidate_interval)}</td>"
            f"<td>{_interval(row.baseline, accuracy.baseline_interval)}</td>"
            f"<td>{_interval(gap.value, (gap.low, gap.high), signed=True)}</td>"
            f"<td>{significant} ({'paired' if accuracy.paired else 'unpaired'})</td></tr>"
        )
    return (
        f"<p>Top-1 accuracy per slice with its {CONFIDENCE:.0%} interval (Wilson); the "
        f"{HIGHLIGHTED_GAPS} largest gaps (candidate minus baseline) are highlighted.</p>"
        "<table><tr><th>slice</th><th>examples</th><th>candidate</th><th>baseline</th>"
        "<th>gap</th><th>significant</th></tr>" + "".join(body) + "</table>"
        f"<p>A gap is significant when its {CONFIDENCE:.0%} interval excludes zero: a paired "
        "bootstrap over the slice's examples where the report knows which they are (Overall "
        "and label_name slices: paired), else Newcombe's interval combining the two Wilson "
        "intervals (unpaired, wider).</p>"
        + _slice_features_html([a.row.slice_name for a in accuracies])
    )


def _slice_features_html(names: list[str]) -> str:
    """What each slice feature among `names` means (features.SLICE_EXPLANATIONS)."""
    keys = dict.fromkeys(
        part.split(":", 1)[0] for name in names if name != OVERALL for part in name.split(", ")
    )
    items = [f"<li>{OVERALL}: every example of the eval split.</li>"] + [
        f"<li>{html.escape(SLICE_EXPLANATIONS.get(key, f'{key}: no explanation recorded.'))}</li>"
        for key in keys
    ]
    return f"<h3>Slice features</h3><ul>{''.join(items)}</ul>"


def _misclassified_html(
    runs: list[ModelRun],
    predictions: list[Predictions],
    images: list[bytes],
    class_names: list[str],
    output_dir: str,
) -> str:
    """Per model, a grid of the first eval images it gets wrong (true, predicted, confidence)."""
    parts = []
    for run, prediction in zip(runs, predictions, strict=True):
        wrong = np.flatnonzero(~prediction.correct)
        shown = wrong[:GRID_IMAGES]
        captions = [_caption(prediction, i, class_names) for i in shown]
        grid = plot_image_grid(images, shown, captions, output_dir, f"misclassified_{run.role}.png")
        heading = f"{run.name}: {len(wrong)} of {len(prediction.labels)} wrong"
        parts.append(f"<h3>{html.escape(heading)}</h3>" + _img(grid, heading, "No mistakes."))
    return "".join(parts)


def _disagreements_html(
    runs: list[ModelRun],
    predictions: list[Predictions],
    images: list[bytes],
    class_names: list[str],
    output_dir: str,
) -> str:
    """Images one model gets right and the other wrong, both ways round."""
    parts = []
    for right_index, wrong_index in ((0, 1), (1, 0)):
        right_run, wrong_run = runs[right_index], runs[wrong_index]
        right, wrong = predictions[right_index], predictions[wrong_index]
        indices = np.flatnonzero(right.correct & ~wrong.correct)
        shown = indices[:GRID_IMAGES]
        captions = [
            f"{class_names[right.labels[i]]}\n{wrong_run.name}: {class_names[wrong.predicted[i]]}"
            for i in shown
        ]
        name = f"right_{right_run.role}_wrong_{wrong_run.role}.png"
        grid = plot_image_grid(images, shown, captions, output_dir, name)
        heading = f"{right_run.name} right, {wrong_run.name} wrong"
        parts.append(
            f"<h3>{html.escape(heading)} ({len(indices)} images)</h3>"
            + _img(grid, heading, "No such image.")
        )
    return "".join(parts)


STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; font-size: 0.9em; }
tr.gap { background: #ffe08a; }
pre { font-size: 0.8em; }
img { max-width: 100%; }
.empty { color: #777; }
"""


def write_report(
    *,
    title: str,
    runs: list[ModelRun],
    eval_files: list[str],
    evaluation_uri: str | None,
    decision: Decision | None,
    image_size: int,
    output_dir: str,
    push: PushRecord | None = None,
    data: tuple[list[str], list[str]] | None = None,
    provenance: Provenance | None = None,
) -> str:
    """Writes index.html and its PNGs to `output_dir`; returns the path of index.html.

    `runs` are the candidate and the baseline, in that order; `image_size` is the side of the
    images the models see (for their MACs); `push` is what the Pusher did with the winner;
    `data` describes the classes per split, with warnings (`data_summary`); `provenance` is
    what the caller knows of the run (the rest shows as not recorded).
    """
    tf.io.gfile.makedirs(output_dir)
    models = [tf.saved_model.load(run.model_dir) for run in runs]
    class_names = read_class_names(models[0])
    histories = [read_history(run.history_path) for run in runs]
    predictions = [Predictions(*classify_examples(model, eval_files)) for model in models]
    images = read_eval_images(eval_files)

    curves = plot_curves(runs, histories, output_dir)
    confusion = plot_confusion(runs, predictions, class_names, output_dir)
    calibration = plot_reliability(runs, predictions, output_dir)
    rows = slice_rows(evaluation_uri) if evaluation_uri else []
    accuracies = slice_accuracies(rows, paired_slice_hits(predictions, class_names))
    metrics = overall_metrics(evaluation_uri) if evaluation_uri else {}
    sections = {
        "provenance": (
            "Provenance",
            _provenance_html(provenance or Provenance(), runs, evaluation_uri, push),
        ),
        "decision": ("Gating decision", _decision_html(decision, push)),
        "metrics": ("What TFMA computed", _metrics_html(metrics, runs, class_names)),
        "data": ("Data", _data_html(data)),
        "models": (
            "Models",
            _models_html(
                runs,
                [count_parameters(m) for m in models],
                [count_model_macs(run, image_size, len(class_names)) for run in runs],
                histories,
            ),
        ),
        "curves": (
            "Learning curves",
            _img(curves, "loss and accuracy per epoch", "No training history (0 epochs)."),
        ),
        "tokens": (
            "Visual tokens",
            _tokens_html(runs, models, histories, images, output_dir),
        ),
        "confusion": (
            "Confusion matrices (eval split)",
            _img(confusion, "confusion matrices", ""),
        ),
        "calibration": (
            "Calibration (eval split)",
            "<p>How far each model's confidence is from its accuracy: points below the "
            "diagonal are overconfident.</p>" + _img(calibration, "reliability diagram", ""),
        ),
        "misclassified": (
            "Misclassified images",
            _misclassified_html(runs, predictions, images, class_names, output_dir),
        ),
        "disagreements": (
            "Where the models disagree",
            _disagreements_html(runs, predictions, images, class_names, output_dir),
        ),
        "slices": ("Slices (TFMA)", _slices_html(accuracies)),
    }
    body = "".join(
        f"<section id='{key}'><h2>{heading}</h2>{content}</section>"
        for key, (heading, content) in sections.items()
    )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><link rel='icon' href='data:,'>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    path = os.path.join(output_dir, REPORT_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(page)
    return path
