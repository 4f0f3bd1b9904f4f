"""The VT's visual tokens made visible, for the report: which pixels each token pools, which
token each pixel reads back, and how alike the tokens are epoch by epoch.

Wu et al. 2020 (Fig. 2) show the filter tokenizer's attention as maps over the image; here the
same maps come from the exported model, rebuilt as Keras layers (`VTModule.trace`), on the
first eval images.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from PIL import Image  # noqa: E402

from features import IMAGE_KEY  # noqa: E402
from models.vt_health import trace_vt_modules  # noqa: E402

TOKEN_IMAGES = 4  # eval images the maps are drawn for
HEALTH_METRICS = {
    "token_cosine": "mean pairwise cosine of the tokens (1 = all alike)",
    "attention_entropy": "tokenizer attention entropy / log(pixels) (1 = uniform pool)",
    "mixing_entropy": "transformer attention entropy / log(tokens) (0 = each reads one token)",
}


def trace_tokens(
    model_dir: str, saved_model, images: list[bytes]
) -> tuple[list[np.ndarray], list[dict[str, np.ndarray]]]:
    """The first TOKEN_IMAGES eval images (RGB) and every VT module's trace on them; no traces
    for a model without VT modules.

    `saved_model` is `model_dir` loaded with tf.saved_model.load (its Transform graph prepares
    the images as in serving); the Keras model is rebuilt from `model_dir` for its layers.
    """
    encoded = images[:TOKEN_IMAGES]
    rgb = [np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for data in encoded]
    model = keras.models.load_model(model_dir, compile=False)
    transformed = saved_model.transform_features(tf.constant(encoded)[:, None])[IMAGE_KEY]
    traces = trace_vt_modules(model, transformed)
    return rgb, [{k: v.numpy() for k, v in trace.items()} for trace in traces]


def _pixel_grid(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """[HW, ...] per feature-map pixel -> [H, W, ...] shaped as the map `like` [H, W, C]."""
    height, width = like.shape[:2]
    return values.reshape(height, width, *values.shape[1:])


def plot_tokenizer_maps(rgb: list[np.ndarray], trace: dict[str, np.ndarray], title: str):
    """One row per image: the image, then each token's attention over the pixels (bright =
    pooled), drawn over the image."""
    attention = trace["tokenizer_attention"]  # [B, HW, L]
    num_tokens = attention.shape[-1]
    figure, axes = plt.subplots(
        len(rgb), num_tokens + 1, figsize=(1.1 * (num_tokens + 1), 1.2 * len(rgb) + 0.5)
    )
    axes = np.atleast_2d(axes)
    for row, image in enumerate(rgb):
        axes[row, 0].imshow(image)
        maps = _pixel_grid(attention[row], trace["x_in"][row])  # [H, W, L]
        extent = (0, image.shape[1], image.shape[0], 0)
        for token in range(num_tokens):
            ax = axes[row, token + 1]
            ax.imshow(image.mean(axis=-1), cmap="gray", extent=extent)
            ax.imshow(maps[..., token], cmap="magma", alpha=0.75, extent=extent)
            if row == 0:
                ax.set_title(f"token {token + 1}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    figure.suptitle(title, fontsize=10)
    return figure


def plot_projector_assignment(rgb: list[np.ndarray], traces: list[dict[str, np.ndarray]]):
    """One row per image: the image, then for each module with a projector the token each
    pixel reads most from (one colour per token) and how sure it is (the largest weight)."""
    projected = [(i, t) for i, t in enumerate(traces, start=1) if "projector_attention" in t]
    if not projected:
        return None
    figure, axes = plt.subplots(
        len(rgb), 1 + 2 * len(projected), figsize=(2.2 * (1 + 2 * len(projected)), 2 * len(rgb))
    )
    axes = np.atleast_2d(axes)
    for row, image in enumerate(rgb):
        axes[row, 0].imshow(image)
        for column, (module, trace) in enumerate(projected):
            weights = _pixel_grid(trace["projector_attention"][row], trace["x_in"][row])
            num_tokens = weights.shape[-1]
            token_ax, weight_ax = axes[row, 1 + 2 * column], axes[row, 2 + 2 * column]
            token_ax.imshow(weights.argmax(-1), cmap="tab20", vmin=0, vmax=max(num_tokens, 20))
            shown = weight_ax.imshow(weights.max(-1), cmap="viridis", vmin=0, vmax=1)
            if row == 0:
                token_ax.set_title(f"vt{module}: token read most", fontsize=8)
                weight_ax.set_title(f"vt{module}: its weight", fontsize=8)
                figure.colorbar(shown, ax=weight_ax, fraction=0.046)
    for ax in axes.flat:
        ax.axis("off")
    return figure


def plot_token_health(name: str, history: list[dict[str, float]]):
    """Token diversity and tokenizer attention entropy of each VT module, per epoch; None
    when the history has no VT health numbers (a CNN, or 0 epochs)."""
    modules = sorted({k.split("_", 1)[0] for row in history for k in row if k.startswith("vt")})
    if not modules:
        return None
    figure, axes = plt.subplots(1, len(HEALTH_METRICS), figsize=(11, 3.6))
    epochs = [row["epoch"] for row in history]
    for ax, (metric, label) in zip(axes, HEALTH_METRICS.items(), strict=True):
        for module in modules:
            values = [row.get(f"{module}_{metric}", np.nan) for row in history]
            ax.plot(epochs, values, marker=".", label=module)
        ax.set_ylim(0, 1.05)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(f"{name}: VT health on the first eval images", fontsize=10)
    return figure
