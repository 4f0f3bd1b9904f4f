"""Where a VT's training step goes: forward + backward time of each part, against its MACs.

    python -m bench.vt_profile                   # vt_resnet_tiny_prenorm vs resnet_tiny, 32 px
    python -m bench.vt_profile --vt vt_resnet18_cifar --cnn resnet18_cifar --batch 64

Times, per part, a compiled step that runs the part forward and takes the gradients of a
scalar of its output with respect to its weights and inputs (no optimizer update), at the
part's real input shapes: the trunk both models share (stem and the ResNet stages before the
VT), what differs (the CNN's last stage and head; each VT module's tokenizer, transformer and
projector, and its whole module), and both whole models. The `x @ w` row times one token
projection as a broadcast batch product and as one 2-D product (`models/layers/vt.py`
`_project`). Prints a table and writes JSON (default outputs/bench/vt_profile.json).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import models  # noqa: F401 - selects Keras 2 (tf_keras) before TensorFlow loads

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from bench.peak import measure_peak  # noqa: E402
from bench.results import RESULTS_DIR, write_result  # noqa: E402
from models.costs import count_macs, layer_macs  # noqa: E402
from models.registry import build_model  # noqa: E402
from models.vt_health import vt_modules  # noqa: E402

LAST_STAGE = "conv5_block1_1_pad"  # the first layer of a four-stage ResNet's last stage


def step_ms(part: Callable, weights: list[tf.Variable], inputs, steps: int) -> float:
    """Milliseconds of one forward + backward pass of `part` on `inputs` (best of 3 rounds)."""

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = tf.nest.flatten(part(inputs))
            loss = tf.add_n([tf.reduce_mean(tf.square(o)) for o in outputs])
        return tape.gradient(loss, [*weights, *tf.nest.flatten(inputs)])

    for _ in range(3):
        step()
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            grads = step()
        _ = [g.numpy() for g in grads if g is not None]
        rounds.append((time.perf_counter() - start) / steps * 1000)
    return min(rounds)


def model_rows(model: keras.Model, images: tf.Tensor, steps: int) -> list[dict]:
    """The parts of `model`: trunk, then the VT modules' parts or the CNN's last stage."""
    modules = vt_modules(model)
    cut = modules[0].input if modules else model.get_layer(LAST_STAGE).input
    trunk = keras.Model(model.inputs, cut)
    trunk_macs = count_macs(trunk)
    rows = [
        _row("whole model", model, images, count_macs(model), steps),
        _row("trunk", trunk, images, trunk_macs, steps),
    ]
    features = trunk(images)
    if not modules:
        rest = keras.Model(cut, model.outputs)
        rows.append(
            _row("last stage + head", rest, features, count_macs(model) - trunk_macs, steps)
        )
        return rows
    x, tokens = features, None
    for module in modules:
        inputs = x if tokens is None else [x, tokens]
        # The parts' inputs as the module makes them (a model without a distillation token).
        trace = module.trace(inputs)
        parts = [(module.tokenizer, inputs), (module.transformer, trace["tokens_in"])]
        if module.projector is not None:
            parts.append((module.projector, [x, trace["tokens"]]))
        for layer, layer_inputs in parts:
            rows.append(_row(f"{module.name}.{layer.name}", layer, layer_inputs, None, steps))
        rows.append(_row(module.name, module, inputs, layer_macs(module), steps))
        x, tokens = module(inputs)
    return rows


def _row(name: str, part: keras.layers.Layer, inputs, macs: int | None, steps: int) -> dict:
    ms = step_ms(lambda i: part(i, training=True), part.trainable_weights, inputs, steps)
    batch = tf.nest.flatten(inputs)[0].shape[0]
    row = {"part": name, "ms": ms, "mmacs_per_image": None if macs is None else macs / 1e6}
    if macs:
        row["gflops"] = 6 * macs * batch / ms / 1e6  # 2 FLOPs per MAC, backward = 2 forwards
    return row


def product_rows(batch: int, tokens: int, channels: int, steps: int) -> list[dict]:
    """One token projection [B, L, C] @ [C, C], as a broadcast batch product and 2-D."""
    x = tf.random.normal([batch, tokens, channels])
    w = tf.Variable(tf.random.normal([channels, channels]))
    forms = {
        "x @ w (broadcast batch product)": lambda t: t @ w,
        "x @ w as one 2-D product": lambda t: tf.reshape(
            tf.reshape(t, [-1, channels]) @ w, [-1, tokens, channels]
        ),
    }
    macs = tokens * channels * channels
    return [
        {
            "part": name,
            "ms": (ms := step_ms(form, [w], x, steps)),
            "mmacs_per_image": macs / 1e6,
            "gflops": 6 * macs * batch / ms / 1e6,
        }
        for name, form in forms.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vt", default="vt_resnet_tiny_prenorm")
    parser.add_argument("--cnn", default="resnet_tiny")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--json", default=str(RESULTS_DIR / "vt_profile.json"))
    args = parser.parse_args(argv)
    peak = measure_peak()
    print(f"peak: 3x3 conv {peak['conv3x3_gflops']:.0f} GFLOP/s ({peak['cpu']})")
    images = tf.random.normal([args.batch, args.size, args.size, 3])
    result = {"args": vars(args), "peak": peak, "models": {}}
    for name in (args.cnn, args.vt):
        keras.utils.set_random_seed(0)
        model = build_model(name, input_shape=(args.size, args.size, 3), num_classes=10)
        result["models"][name] = model_rows(model, images, args.steps)
    token_shape = vt_modules(model)[0].transformer.w_f1.shape[0]
    result["products"] = product_rows(args.batch, 16, token_shape, args.steps)
    print(f"\n{'part':<36}{'ms / step':>10}{'MMACs/img':>11}{'GFLOP/s':>9}{'of peak':>9}")
    for group, rows in [*result["models"].items(), ("products", result["products"])]:
        print(group)
        for r in rows:
            macs = "" if r["mmacs_per_image"] is None else f"{r['mmacs_per_image']:.2f}"
            gflops = r.get("gflops")
            rate = "" if gflops is None else f"{gflops:.0f}"
            share = "" if gflops is None else f"{gflops / peak['conv3x3_gflops']:.2f}"
            print(f"  {r['part']:<34}{r['ms']:>10.2f}{macs:>11}{rate:>9}{share:>9}")
    print()
    write_result(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
