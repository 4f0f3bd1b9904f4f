"""Shapes, attention axes, gradient flow and serialisation of the VT layers."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from models.layers.vt import (
    FilterTokenizer,
    Projector,
    RecurrentTokenizer,
    TokenTransformer,
    VTModule,
)

B, H, W, C = 2, 6, 5, 8  # H != W and HW != L, so a wrong axis shows up in the shapes.
L, CT = 4, 12


@pytest.fixture
def x() -> tf.Tensor:
    return tf.random.stateless_normal([B, H, W, C], seed=[0, 1])


@pytest.fixture
def tokens() -> tf.Tensor:
    return tf.random.stateless_normal([B, L, CT], seed=[0, 2])


@pytest.mark.parametrize("token_channels, expected", [(None, C), (C, C), (CT, CT)])
def test_filter_tokenizer_shape(x, token_channels, expected):
    out = FilterTokenizer(num_tokens=L, token_channels=token_channels)(x)
    assert out.shape == (B, L, expected)


@pytest.mark.parametrize("token_channels, expected", [(None, C), (CT, CT)])
def test_recurrent_tokenizer_shape(x, tokens, token_channels, expected):
    out = RecurrentTokenizer(token_channels=token_channels)([x, tokens])
    assert out.shape == (B, L, expected)


@pytest.mark.parametrize("num_heads", [1, 2])
def test_token_transformer_shape(tokens, num_heads):
    assert TokenTransformer(num_heads=num_heads)(tokens).shape == (B, L, CT)


def test_projector_shape(x, tokens):
    assert Projector()([x, tokens]).shape == (B, H, W, C)


@pytest.mark.parametrize("token_channels", [None, CT])
def test_vt_module_shapes(x, token_channels):
    first = VTModule(num_tokens=L, token_channels=token_channels)
    x_out, t_out = first(x)
    assert x_out.shape == (B, H, W, C)
    assert t_out.shape == (B, L, token_channels or C)
    x_out, t_out = VTModule(token_channels=token_channels, recurrent=True)([x_out, t_out])
    assert x_out.shape == (B, H, W, C)
    assert t_out.shape == (B, L, token_channels or C)


def test_vt_module_without_projector_returns_input_map(x):
    x_out, t_out = VTModule(num_tokens=L, project=False)(x)
    np.testing.assert_array_equal(x_out, x)
    assert t_out.shape == (B, L, C)


@pytest.mark.parametrize("recurrent", [False, True])
def test_tokenizer_attention_is_softmax_over_pixels(x, tokens, recurrent):
    if recurrent:
        tokenizer, inputs = RecurrentTokenizer(token_channels=CT), [x, tokens]
    else:
        tokenizer, inputs = FilterTokenizer(num_tokens=L, token_channels=CT), x
    out = tokenizer(inputs)
    attention = tokenizer.attention(inputs)
    assert attention.shape == (B, H * W, L)
    np.testing.assert_allclose(tf.reduce_sum(attention, axis=1), np.ones((B, L)), atol=1e-5)
    # The tokens are the attention-weighted pixels, projected to Ct: T = A^T X_flat W_V.
    pixels = tf.reshape(x, [B, H * W, C])
    expected = tf.matmul(attention, pixels, transpose_a=True) @ tokenizer.w_v
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_projector_attention_is_softmax_over_tokens(x, tokens):
    projector = Projector()
    out = projector([x, tokens])
    attention = projector.attention([x, tokens])
    assert attention.shape == (B, H * W, L)
    np.testing.assert_allclose(tf.reduce_sum(attention, axis=-1), np.ones((B, H * W)), atol=1e-5)
    update = tf.reshape(attention @ (tokens @ projector.w_v), [B, H, W, C])
    np.testing.assert_allclose(out, x + update, rtol=1e-4, atol=1e-5)


def test_transformer_attention_is_softmax_over_tokens(tokens):
    transformer = TokenTransformer(num_heads=2)
    transformer(tokens)
    attention = transformer.attention(tokens)
    assert attention.shape == (B, 2, L, L)
    np.testing.assert_allclose(tf.reduce_sum(attention, axis=-1), np.ones((B, 2, L)), atol=1e-5)


# The options of the small-data variants (a non-zero gain, so gradients reach the branches).
SMALL_DATA = {"tokenizer_norm": True, "norm": True, "gain_init": 0.1}


@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("num_heads", [1, 2])
@pytest.mark.parametrize(
    "options",
    [{}, SMALL_DATA, {"distillation_token": True}],
    ids=["paper", "small_data", "distillation_token"],
)
def test_gradients_reach_every_vt_module_weight(x, tokens, recurrent, num_heads, options):
    module = VTModule(
        num_tokens=L, token_channels=CT, num_heads=num_heads, recurrent=recurrent, **options
    )
    inputs = [x, tokens] if recurrent else x
    with tf.GradientTape() as tape:
        x_out, t_out = module(inputs)
        loss = tf.reduce_sum(x_out * tf.sin(x_out)) + tf.reduce_sum(t_out * tf.cos(t_out))
    grads = tape.gradient(loss, module.trainable_weights)
    assert len(grads) == len(module.trainable_weights) > 0
    for weight, grad in zip(module.trainable_weights, grads, strict=True):
        assert grad is not None, weight.name
        assert float(tf.reduce_max(tf.abs(grad))) > 0.0, weight.name


LAYER_CASES = {
    "filter_tokenizer": (lambda: FilterTokenizer(num_tokens=L, token_channels=CT), "x"),
    "recurrent_tokenizer": (lambda: RecurrentTokenizer(token_channels=C), "x_tokens"),
    "token_transformer": (lambda: TokenTransformer(num_heads=2, key_channels=8), "tokens"),
    "projector": (Projector, "x_tokens"),
    "vt_module": (lambda: VTModule(num_tokens=L, token_channels=CT, num_heads=2), "x"),
    "vt_module_recurrent": (lambda: VTModule(recurrent=True, project=False), "x_tokens"),
    "vt_module_small_data": (
        lambda: VTModule(num_tokens=L, token_channels=CT, dropout=0.1, **SMALL_DATA),
        "x",
    ),
    "vt_module_recurrent_small_data": (
        lambda: VTModule(recurrent=True, survival_prob=0.8, **SMALL_DATA),
        "x_tokens",
    ),
    "token_transformer_qk_norm": (
        lambda: TokenTransformer(num_heads=2, key_channels=8, norm=True, qk_norm=True),
        "tokens",
    ),
    "vt_module_distillation_token": (
        lambda: VTModule(num_tokens=L, token_channels=CT, distillation_token=True),
        "x",
    ),
    "vt_module_recurrent_distillation_token": (
        lambda: VTModule(token_channels=CT, recurrent=True, distillation_token=True),
        "x_tokens",
    ),
}


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_config_round_trip_gives_identical_outputs(x, tokens, case):
    make_layer, input_kind = LAYER_CASES[case]
    inputs = {"x": x, "tokens": tokens, "x_tokens": [x, tokens]}[input_kind]
    layer = make_layer()
    expected = layer(inputs)

    config = keras.layers.serialize(layer)
    clone = keras.layers.deserialize(config)
    assert clone.get_config() == layer.get_config()
    clone(inputs)
    clone.set_weights(layer.get_weights())
    for got, want in zip(tf.nest.flatten(clone(inputs)), tf.nest.flatten(expected), strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_paper_module_has_only_the_papers_weights(x):
    """The options that are not in the paper add no weights unless they are asked for."""
    module = VTModule(num_tokens=L, token_channels=CT)
    module(x)
    names = sorted(w.name.split("/")[-1].removesuffix(":0") for w in module.weights)
    # Tokenizer W_A, W_V; transformer K, Q, F1, F2; projector W_Q, W_K, W_V.
    assert names == sorted(["w_a", "w_v", "w_k", "w_q", "w_f1", "w_f2", "w_q", "w_k", "w_v"])


def test_zero_gains_start_the_module_as_identities(x):
    module = VTModule(num_tokens=L, token_channels=CT, norm=True, gain_init=0.0)
    module(x)
    steps = module.trace(x)
    np.testing.assert_array_equal(steps["x_out"], x)
    np.testing.assert_array_equal(steps["tokens"], steps["tokens_in"])


def test_trace_matches_call(x, tokens):
    module = VTModule(token_channels=CT, recurrent=True, **SMALL_DATA)
    x_out, t_out = module([x, tokens])
    steps = module.trace([x, tokens])
    np.testing.assert_allclose(steps["x_out"], x_out, atol=1e-6)
    np.testing.assert_allclose(steps["tokens"], t_out, atol=1e-6)
    assert steps["tokenizer_attention"].shape == (B, H * W, L)
    assert steps["projector_attention"].shape == (B, H * W, L)


def test_the_first_module_adds_a_distillation_token_the_projector_does_not_read(x):
    module = VTModule(num_tokens=L, token_channels=CT, distillation_token=True)
    _, t_out = module(x)
    assert t_out.shape == (B, L + 1, CT)
    steps = module.trace(x)
    np.testing.assert_allclose(steps["tokens"], t_out[:, :L], atol=1e-6)
    assert steps["projector_attention"].shape == (B, H * W, L)


def test_a_recurrent_module_carries_the_token_without_tokenizing_with_it(x, tokens):
    """T_in's last token is the distillation token: it changes the transformer's output but
    not which pixels the tokenizer pools or how many tokens it makes."""
    module = VTModule(token_channels=CT, recurrent=True, distillation_token=True)
    other = tf.concat([tokens[:, :-1], 3.0 * tokens[:, -1:] + 1.0], axis=1)
    _, t_out = module([x, tokens])
    _, t_other = module([x, other])
    assert t_out.shape == (B, L, CT)  # L - 1 visual tokens and the carried one
    first, second = module.trace([x, tokens]), module.trace([x, other])
    assert first["tokenizer_attention"].shape == (B, H * W, L - 1)
    np.testing.assert_array_equal(first["tokenizer_attention"], second["tokenizer_attention"])
    assert not np.allclose(t_out[:, -1], t_other[:, -1])
    assert not [w for w in module.weights if "distillation_token" in w.name]


@pytest.mark.parametrize("num_heads", [1, 2])
def test_qk_norm_bounds_the_attention_whatever_the_scale_of_keys_and_queries(tokens, num_heads):
    """Without it, keys and queries that grow saturate the attention (each token reads one
    token); with it, scaling W_K and W_Q changes nothing."""
    plain = TokenTransformer(num_heads=num_heads, key_channels=8)
    normed = TokenTransformer(num_heads=num_heads, key_channels=8, qk_norm=True)
    plain(tokens), normed(tokens)
    normed.set_weights([*plain.get_weights(), *normed.get_weights()[len(plain.weights) :]])
    before = normed.attention(tokens)
    for layer in (plain, normed):
        layer.w_k.assign(layer.w_k * 1000.0)
        layer.w_q.assign(layer.w_q * 1000.0)
    np.testing.assert_allclose(normed.attention(tokens), before, atol=1e-4)  # LN epsilon
    assert float(tf.reduce_min(tf.reduce_max(plain.attention(tokens), axis=-1))) > 0.99
